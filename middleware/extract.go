package middleware

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxFormBody bounds the body read when Config.AllowFormToken is set.
const maxFormBody = 64 << 10

// extractToken finds the bearer token of r (RFC 6750 §2): in the
// Authorization header, and where cfg allows it in the query or the form
// body. It returns the token, or an *Error of category ErrNoToken or
// ErrInvalidRequest.
func extractToken(r *http.Request, cfg *Config) (string, *Error) {
	token, found, err := headerToken(r.Header)
	if err != nil {
		return "", err
	}
	if cfg.AllowQueryToken {
		if t, ok, err := queryToken(r.URL); err != nil {
			return "", err
		} else if ok {
			if found {
				return "", invalidRequest(ErrMultipleTokens)
			}
			token, found = t, true
		}
	}
	if cfg.AllowFormToken {
		if t, ok, err := formToken(r); err != nil {
			return "", err
		} else if ok {
			if found {
				return "", invalidRequest(ErrMultipleTokens)
			}
			token, found = t, true
		}
	}
	if !found {
		return "", newError(ErrNoToken, ErrNoToken, nil)
	}
	return token, nil
}

// headerToken reads "Authorization: Bearer <token68>" (RFC 6750 §2.1). The
// scheme is case-insensitive (RFC 9110 §11.1) and followed by one or more
// spaces. A header with another scheme counts as no bearer token.
func headerToken(h http.Header) (token string, found bool, err *Error) {
	values := h["Authorization"]
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, invalidRequest(ErrMultipleHeaders)
	}
	v := values[0]
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if scheme == "" || !isToken(scheme) {
			return "", false, invalidRequest(ErrMalformedHeader)
		}
		return "", false, nil // another scheme, such as Basic or DPoP
	}
	rest = strings.TrimLeft(rest, " ")
	if !isToken68(rest) {
		return "", false, invalidRequest(ErrMalformedHeader)
	}
	return rest, true, nil
}

// isToken68 reports whether s matches RFC 9110 §11.2 token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	if allOf(s, &notToken68Char) {
		return s != "" // the common case: no padding
	}
	i := 0
	for ; i < len(s); i++ {
		if !token68Char[s[i]] {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// token68Char is the character class of token68 before the padding:
// ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/". A table: the token is
// scanned on every request, cached or not.
var token68Char = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// notToken68Char marks the bytes that token68Char does not hold.
var notToken68Char = func() (t [256]uint8) {
	for c := range 256 {
		if !token68Char[c] {
			t[c] = 1
		}
	}
	return t
}()

// isToken reports whether s is an RFC 9110 §5.6.2 token (an auth-scheme).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

func queryToken(u *url.URL) (string, bool, *Error) {
	if u == nil || !strings.Contains(u.RawQuery, "access_token") {
		return "", false, nil
	}
	// ParseQuery returns what it could parse along with the first error:
	// a ";" or a bad escape elsewhere in the query does not matter, one
	// in the access_token parameter does.
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil && len(q["access_token"]) == 0 {
		return "", false, invalidRequest(ErrMalformedHeader)
	}
	return single(q["access_token"])
}

func single(values []string) (string, bool, *Error) {
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
		if !isToken68(values[0]) {
			return "", false, invalidRequest(ErrMalformedHeader)
		}
		return values[0], true, nil
	default:
		return "", false, invalidRequest(ErrMultipleTokens)
	}
}

// formToken reads "access_token" from a form-encoded body (RFC 6750 §2.2).
// The body is restored for the handler.
func formToken(r *http.Request) (string, bool, *Error) {
	if r.Body == nil || r.Body == http.NoBody {
		return "", false, nil
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return "", false, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return "", false, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
	if err != nil || len(body) > maxFormBody {
		return "", false, invalidRequest(ErrMalformedHeader)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !bytes.Contains(body, []byte("access_token")) {
		return "", false, nil
	}
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return "", false, invalidRequest(ErrMalformedHeader)
	}
	return single(q["access_token"])
}
