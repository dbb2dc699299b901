package middleware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// extractToken finds the token of r (RFC 6750 §2): in the Authorization
// header (with the DPoP scheme too when dpop is set, RFC 9449 §7.1; viaDPoP
// then says which scheme it came with), and where cfg allows it in the named cookie, from
// cfg.TokenFunc, in the query or in the form body. A token found in two
// places is refused, even if both are the same. The body is read only when
// no token was found in the request's headers or by TokenFunc, so that a
// request carrying its token there never depends on its body. It returns
// the token, or an *Error of category ErrNoToken or ErrInvalidRequest.
//
// known, if not nil, reports whether a token is one the validator has
// verified as a compact JWS, whose syntax is stricter than token68: the
// header's token is then not scanned again (see headerToken).
func extractToken(r *http.Request, cfg *Config, dpop bool, known func(string) bool) (token string, viaDPoP bool, e *Error) {
	token, viaDPoP, found, err := headerToken(r.Header, dpop, known)
	if err != nil {
		return "", false, err
	}
	if cfg.TokenCookie != "" {
		t, ok, err := cookieToken(r, cfg.TokenCookie)
		if token, found, err = merge(token, found, t, ok, err); err != nil {
			return "", false, err
		}
	}
	if cfg.TokenFunc != nil {
		t, ok, err := funcToken(r, cfg.TokenFunc)
		if token, found, err = merge(token, found, t, ok, err); err != nil {
			return "", false, err
		}
	}
	readBody := cfg.AllowFormToken && !found
	if cfg.AllowQueryToken && r.URL != nil {
		t, ok, err := paramToken(r.URL.RawQuery)
		if token, found, err = merge(token, found, t, ok, err); err != nil {
			return "", false, err
		}
	}
	if readBody {
		t, ok, err := formToken(r, cfg.formTokenTimeout())
		if token, found, err = merge(token, found, t, ok, err); err != nil {
			return "", false, err
		}
	}
	if !found {
		return "", false, newError(ErrNoToken, ErrNoToken, nil)
	}
	return token, viaDPoP, nil
}

// merge adds the outcome (t, ok, err) of one more source to the token found
// so far: a second token is ErrMultipleTokens (RFC 6750 §2: clients must
// not use more than one method).
func merge(token string, found bool, t string, ok bool, err *Error) (string, bool, *Error) {
	switch {
	case err != nil:
		return "", false, err
	case !ok:
		return token, found, nil
	case found:
		return "", false, invalidRequest(ErrMultipleTokens)
	}
	return t, true, nil
}

// headerToken reads "Authorization: Bearer <token68>" (RFC 6750 §2.1) and,
// with dpop, "Authorization: DPoP <token68>" (RFC 9449 §7.1). The scheme is
// case-insensitive (RFC 9110 §11.1) and followed by one or more spaces. A
// header with another scheme counts as no token. A token that known (if
// not nil) reports is not scanned for the token68 syntax: the scan is most
// of what a token cache hit costs, and a known token passed a stricter one.
func headerToken(h http.Header, dpop bool, known func(string) bool) (token string, viaDPoP, found bool, err *Error) {
	values := h["Authorization"]
	switch len(values) {
	case 0:
		return "", false, false, nil
	case 1:
	default:
		return "", false, false, invalidRequest(ErrMultipleHeaders)
	}
	v := values[0]
	scheme, rest, _ := strings.Cut(v, " ")
	viaDPoP = dpop && strings.EqualFold(scheme, "DPoP")
	if !viaDPoP && !strings.EqualFold(scheme, "Bearer") {
		if scheme == "" || !isToken(scheme) {
			return "", false, false, invalidRequest(ErrMalformedHeader)
		}
		return "", false, false, nil // another scheme, such as Basic, or DPoP when off
	}
	rest = strings.TrimLeft(rest, " ")
	if (known == nil || !known(rest)) && !isToken68(rest) {
		return "", false, false, invalidRequest(ErrMalformedHeader)
	}
	return rest, viaDPoP, true, nil
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

// isPreflight reports whether r is a CORS preflight request (Fetch
// standard, "CORS-preflight request"): OPTIONS with Origin and
// Access-Control-Request-Method. Browsers send no credentials with it.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// cookieToken reads the cookie name as r.Cookie does: a cookie that Go's
// parser drops is not seen by the application either. The same cookie
// sent twice (for two paths or domains) is a token sent twice: a sibling
// domain can set a cookie that is sent before the genuine one.
func cookieToken(r *http.Request, name string) (string, bool, *Error) {
	cookies := r.CookiesNamed(name)
	values := make([]string, 0, 1)
	for _, c := range cookies {
		values = append(values, c.Value)
	}
	return single(values, ErrMalformedCredentials)
}

// funcToken asks the application's Config.TokenFunc. An *Error it returns
// is answered as it is; any other error is 400 invalid_request.
func funcToken(r *http.Request, f func(*http.Request) (string, error)) (string, bool, *Error) {
	t, err := f(r)
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			return "", false, e
		}
		return "", false, newError(ErrInvalidRequest, ErrMalformedCredentials, err)
	}
	if t == "" {
		return "", false, nil
	}
	if !isToken68(t) {
		return "", false, invalidRequest(ErrMalformedCredentials)
	}
	return t, true, nil
}

// paramToken reads the "access_token" parameter of a URL query or a form
// body (RFC 6750 §2.2, §2.3) the way url.ParseQuery, and so r.URL.Query
// and r.PostFormValue, read it: names are unescaped ("access%5Ftoken" is
// access_token), and a malformed pair ParseQuery skips (with a ";" or a bad
// escape) counts only if its name is access_token, which is then malformed.
// Other parameters may be malformed: the application sees them as
// ParseQuery does.
func paramToken(raw string) (string, bool, *Error) {
	if strings.IndexByte(raw, '%') < 0 && !strings.Contains(raw, "access_token") {
		return "", false, nil
	}
	var values []string
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, value, _ := strings.Cut(pair, "=")
		if name != "access_token" {
			if strings.IndexByte(name, '%') < 0 {
				continue
			}
			if n, err := url.QueryUnescape(name); err != nil || n != "access_token" {
				continue
			}
		}
		v, err := url.QueryUnescape(value)
		if err != nil || strings.IndexByte(pair, ';') >= 0 {
			return "", false, invalidRequest(ErrMalformedHeader)
		}
		values = append(values, v)
	}
	return single(values, ErrMalformedHeader)
}

// single returns the one token of values. More than one is a token sent
// twice; one that is not a token68 is refused with reason malformed.
func single(values []string, malformed error) (string, bool, *Error) {
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
		if !isToken68(values[0]) {
			return "", false, invalidRequest(malformed)
		}
		return values[0], true, nil
	default:
		return "", false, invalidRequest(ErrMultipleTokens)
	}
}

// formToken reads "access_token" from a form-encoded POST, PUT or PATCH
// body (RFC 6750 §2.2), as r.PostFormValue would: the media type is read
// even when a parameter of the Content-Type is malformed, and a form
// already parsed into r.PostForm (its body consumed) is read from there.
// Otherwise at most [MaxFormTokenBody] bytes are read, within timeout and
// the request's context, and the body is restored for the handler.
func formToken(r *http.Request, timeout time.Duration) (string, bool, *Error) {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return "", false, nil
	}
	// As net/http's parsePostForm: the media type is returned along with
	// mime.ErrInvalidMediaParameter, and used.
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return "", false, nil
	}
	if r.PostForm != nil {
		return single(r.PostForm["access_token"], ErrMalformedHeader)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return "", false, nil
	}
	body, err := readForm(r, timeout)
	if err != nil {
		return "", false, newError(ErrInvalidRequest, ErrFormUnreadable, err)
	}
	return paramToken(string(body))
}

// errFormTimeout is the cause of ErrFormUnreadable for a body not received
// within Config.FormTokenTimeout.
var errFormTimeout = errors.New("form body not received in time")

// readForm reads the body of r, at most MaxFormTokenBody bytes, and
// restores it for the handler. The read runs in a goroutine so that a slow
// body cannot hold the request past timeout or the end of its context: the
// request is then refused, and the goroutine ends when the body's read
// returns (the server's ReadTimeout, or the client going away).
func readForm(r *http.Request, timeout time.Duration) ([]byte, error) {
	type result struct {
		body []byte
		err  error
	}
	orig := r.Body
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(orig, MaxFormTokenBody+1))
		done <- result{b, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var res result
	select {
	case res = <-done:
	case <-timer.C:
		return nil, errFormTimeout
	case <-r.Context().Done():
		return nil, context.Cause(r.Context())
	}
	if res.err != nil {
		return nil, res.err
	}
	if len(res.body) > MaxFormTokenBody {
		return nil, fmt.Errorf("form body larger than %d bytes", MaxFormTokenBody)
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{bytes.NewReader(res.body), orig}
	return res.body, nil
}
