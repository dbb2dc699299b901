package middleware

// Token extraction (RFC 6750 §2), tested on the unexported extract so that
// no key or token is involved. The answers these errors produce are tested
// in http_test.go.

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// ktRequest builds a request without httptest, so that any query or
// header the fuzzer comes up with can be used.
func ktRequest(method, rawQuery, contentType, body string, auth ...string) *http.Request {
	r := &http.Request{
		Method: method,
		URL:    &url.URL{Path: "/", RawQuery: rawQuery},
		Header: http.Header{},
		Body:   http.NoBody,
	}
	if body != "" {
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for _, a := range auth {
		r.Header.Add("Authorization", a)
	}
	return r
}

// ktExtractors returns validators for kit with every combination of
// AllowQueryToken and AllowFormToken: index bit 0 is query, bit 1 form.
func ktExtractors(t testing.TB, kit *middlewaretest.Issuer) [4]*Validator {
	t.Helper()
	var vs [4]*Validator
	for i := range vs {
		vs[i] = ktNew(t, kit, Config{JWKSURL: kit.JWKSURL(), AllowQueryToken: i&1 != 0, AllowFormToken: i&2 != 0})
	}
	return vs
}

const form = "application/x-www-form-urlencoded"

func TestExtract(t *testing.T) {
	kit := ktKit(t)
	vs := ktExtractors(t, kit)
	plain, query, formOnly, both := vs[0], vs[1], vs[2], vs[3]
	malformed := []error{ErrInvalidRequest, ErrMalformedHeader}
	noToken := []error{ErrNoToken}
	big := strings.Repeat("a", maxFormBody)
	for _, tc := range []struct {
		name  string
		v     *Validator
		r     *http.Request
		token string
		want  []error
	}{
		{"no header", plain, ktRequest("GET", "", "", ""), "", noToken},
		{"Bearer", plain, ktRequest("GET", "", "", "", "Bearer abc"), "abc", nil},
		{"lower-case scheme", plain, ktRequest("GET", "", "", "", "bearer abc"), "abc", nil},
		{"upper-case scheme", plain, ktRequest("GET", "", "", "", "BEARER abc"), "abc", nil},
		{"mixed-case scheme", plain, ktRequest("GET", "", "", "", "bEaReR abc"), "abc", nil},
		{"several spaces", plain, ktRequest("GET", "", "", "", "Bearer    abc"), "abc", nil},
		{"token68 characters", plain, ktRequest("GET", "", "", "", "Bearer aZ09-._~+/"), "aZ09-._~+/", nil},
		{"token68 padding", plain, ktRequest("GET", "", "", "", "Bearer abc=="), "abc==", nil},
		{"JWS", plain, ktRequest("GET", "", "", "", "Bearer eyJh.eyJz.c2ln"), "eyJh.eyJz.c2ln", nil},
		{"padding inside", plain, ktRequest("GET", "", "", "", "Bearer a=b"), "", malformed},
		{"padding only", plain, ktRequest("GET", "", "", "", "Bearer =="), "", malformed},
		{"space inside", plain, ktRequest("GET", "", "", "", "Bearer abc def"), "", malformed},
		{"trailing space", plain, ktRequest("GET", "", "", "", "Bearer abc "), "", malformed},
		{"comma", plain, ktRequest("GET", "", "", "", "Bearer abc,def"), "", malformed},
		{"quote", plain, ktRequest("GET", "", "", "", `Bearer "abc"`), "", malformed},
		{"non-ASCII", plain, ktRequest("GET", "", "", "", "Bearer abcé"), "", malformed},
		{"control character", plain, ktRequest("GET", "", "", "", "Bearer abc\x00"), "", malformed},
		{"tab after scheme", plain, ktRequest("GET", "", "", "", "Bearer\tabc"), "", malformed},
		{"scheme only", plain, ktRequest("GET", "", "", "", "Bearer"), "", malformed},
		{"empty token", plain, ktRequest("GET", "", "", "", "Bearer "), "", malformed},
		{"blank token", plain, ktRequest("GET", "", "", "", "Bearer    "), "", malformed},
		{"empty header", plain, ktRequest("GET", "", "", "", ""), "", malformed},
		{"leading space", plain, ktRequest("GET", "", "", "", " Bearer abc"), "", malformed},
		{"not a scheme", plain, ktRequest("GET", "", "", "", "(Bearer) abc"), "", malformed},
		{"Basic", plain, ktRequest("GET", "", "", "", "Basic dXNlcjpwYXNz"), "", noToken},
		{"DPoP", plain, ktRequest("GET", "", "", "", "DPoP eyJh.eyJz.c2ln"), "", noToken},
		{"scheme look-alike", plain, ktRequest("GET", "", "", "", "Bearerabc"), "", noToken},
		{"scheme alone", plain, ktRequest("GET", "", "", "", "Negotiate"), "", noToken},
		{"two headers", plain, ktRequest("GET", "", "", "", "Bearer abc", "Bearer abc"), "", []error{ErrInvalidRequest, ErrMultipleHeaders}},
		{"two headers, other schemes", plain, ktRequest("GET", "", "", "", "Basic x", "Bearer abc"), "", []error{ErrInvalidRequest, ErrMultipleHeaders}},

		// Query (RFC 6750 §2.3).
		{"query off", plain, ktRequest("GET", "access_token=abc", "", ""), "", noToken},
		{"query off, header used", plain, ktRequest("GET", "access_token=xyz", "", "", "Bearer abc"), "abc", nil},
		{"query on", query, ktRequest("GET", "a=1&access_token=abc", "", ""), "abc", nil},
		{"query on, escaped", query, ktRequest("GET", "access_token=ab%2Bc%3D", "", ""), "ab+c=", nil},
		{"query and header", query, ktRequest("GET", "access_token=abc", "", "", "Bearer abc"), "", []error{ErrInvalidRequest, ErrMultipleTokens}},
		{"query and Basic header", query, ktRequest("GET", "access_token=abc", "", "", "Basic x"), "abc", nil},
		{"query twice", query, ktRequest("GET", "access_token=abc&access_token=abc", "", ""), "", []error{ErrInvalidRequest, ErrMultipleTokens}},
		{"query empty", query, ktRequest("GET", "access_token=", "", ""), "", malformed},
		{"query not token68", query, ktRequest("GET", "access_token=a%20b", "", ""), "", malformed},
		{"query look-alike name", query, ktRequest("GET", "my_access_token=abc", "", ""), "", noToken},
		{"query invalid escape", query, ktRequest("GET", "access_token=%zz", "", ""), "", malformed},
		{"query on, header only", query, ktRequest("GET", "", "", "", "Bearer abc"), "abc", nil},

		// Form body (RFC 6750 §2.2).
		{"form off", plain, ktRequest("POST", "", form, "access_token=abc"), "", noToken},
		{"form on", formOnly, ktRequest("POST", "", form, "a=1&access_token=abc"), "abc", nil},
		{"form on, PUT", formOnly, ktRequest("PUT", "", form, "access_token=abc"), "abc", nil},
		{"form on, PATCH", formOnly, ktRequest("PATCH", "", form, "access_token=abc"), "abc", nil},
		{"form on, charset parameter", formOnly, ktRequest("POST", "", form+"; charset=utf-8", "access_token=abc"), "abc", nil},
		{"form on, GET", formOnly, ktRequest("GET", "", form, "access_token=abc"), "", noToken},
		{"form on, JSON body", formOnly, ktRequest("POST", "", "application/json", `{"access_token":"abc"}`), "", noToken},
		{"form on, multipart", formOnly, ktRequest("POST", "", "multipart/form-data; boundary=x", "access_token=abc"), "", noToken},
		{"form and header", formOnly, ktRequest("POST", "", form, "access_token=abc", "Bearer abc"), "", []error{ErrInvalidRequest, ErrMultipleTokens}},
		{"form twice", formOnly, ktRequest("POST", "", form, "access_token=abc&access_token=abc"), "", []error{ErrInvalidRequest, ErrMultipleTokens}},
		{"form not token68", formOnly, ktRequest("POST", "", form, "access_token=a+b"), "", malformed},
		{"form too large", formOnly, ktRequest("POST", "", form, "access_token=abc&x="+big), "", malformed},
		{"form and query", both, ktRequest("POST", "access_token=abc", form, "access_token=abc"), "", []error{ErrInvalidRequest, ErrMultipleTokens}},
		{"query on, form in body ignored", query, ktRequest("POST", "", form, "access_token=abc"), "", noToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, e := extractToken(tc.r, &tc.v.cfg)
			if len(tc.want) == 0 {
				if e != nil {
					t.Fatalf("error %v, want token %q", e, tc.token)
				}
				if token != tc.token {
					t.Fatalf("token %q, want %q", token, tc.token)
				}
				return
			}
			if e == nil {
				t.Fatalf("token %q, want error %v", token, tc.want)
			}
			for _, w := range tc.want {
				if !errors.Is(e, w) {
					t.Fatalf("error %v does not match %v", e, w)
				}
			}
		})
	}
}

// TestExtractFormBodyRestored: the handler still reads the whole body.
func TestExtractFormBodyRestored(t *testing.T) {
	kit := ktKit(t)
	v := ktExtractors(t, kit)[2]
	for _, body := range []string{"access_token=abc&name=x", "name=x", strings.Repeat("b", maxFormBody)} {
		r := ktRequest("POST", "", form, body)
		if _, e := extractToken(r, &v.cfg); e != nil && !errors.Is(e, ErrNoToken) {
			t.Fatalf("extract: %v", e)
		}
		got, err := io.ReadAll(r.Body)
		if err != nil || string(got) != body {
			t.Errorf("body after extraction: %d bytes, %v; want %d bytes", len(got), err, len(body))
		}
	}
}

// TestTokenSize: tokens over MaxTokenSize are refused before any parsing.
func TestTokenSize(t *testing.T) {
	kit := ktKit(t)
	def := ktNew(t, kit, Config{JWKSURL: kit.JWKSURL()})
	small := ktNew(t, kit, Config{JWKSURL: kit.JWKSURL(), MaxTokenSize: 64})
	tok := kit.Token(middlewaretest.Spec{})
	junk := func(n int) string { return strings.Repeat("a", n) }
	tooLarge := []error{ErrInvalidToken, ErrTokenTooLarge}
	for _, tc := range []struct {
		name  string
		v     *Validator
		token string
		want  []error
	}{
		{"default limit exceeded", def, junk(DefaultMaxTokenSize + 1), tooLarge},
		{"at the default limit", def, junk(DefaultMaxTokenSize), []error{ErrInvalidToken, ErrMalformedToken}},
		{"valid token above a small limit", small, tok, tooLarge},
		{"JWS shape above a small limit", small, junk(30) + "." + junk(30) + "." + junk(30), tooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ktRequest("GET", "", "", "", "Bearer "+tc.token)
			_, err := tc.v.Check(r, Policy{})
			ktWant(t, err, tc.want...)
		})
	}
}

// FuzzExtract: extraction never panics, and every error is an *Error of
// the no-token or invalid-request category with a matching status.
func FuzzExtract(f *testing.F) {
	for _, seed := range []struct {
		h1, h2      string
		headers     uint8 // 0, 1 or 2 Authorization headers
		query, body string
		mode        uint8 // bit 0: query allowed, bit 1: form allowed, bit 2: POST, bit 3: form content type
	}{
		{"Bearer abc", "", 1, "", "", 0},
		{"bearer   eyJh.eyJz.c2ln", "", 1, "", "", 0},
		{"Basic dXNlcjpwYXNz", "", 1, "", "", 0},
		{"Bearer abc", "Bearer abc", 2, "", "", 0},
		{"Bearer ", "", 1, "", "", 0},
		{"Bearer a=b", "", 1, "", "", 0},
		{"", "", 0, "access_token=abc", "", 1},
		{"Bearer abc", "", 1, "access_token=abc", "", 1},
		{"", "", 0, "", "access_token=abc", 14},
		{"", "", 0, "access_token=abc", "access_token=abc", 15},
		{"", "", 0, "access_token=%zz;x", "access_token=%", 15},
		{"\x00Bearer", "Bearer\x7f", 2, "access_token", "access_token", 15},
	} {
		f.Add(seed.h1, seed.h2, seed.headers, seed.query, seed.body, seed.mode)
	}
	kit := ktKit(f)
	vs := ktExtractors(f, kit)
	f.Fuzz(func(t *testing.T, h1, h2 string, headers uint8, query, body string, mode uint8) {
		method := http.MethodGet
		if mode&4 != 0 {
			method = http.MethodPost
		}
		ct := ""
		if mode&8 != 0 {
			ct = form
		}
		var auth []string
		switch headers % 3 {
		case 1:
			auth = []string{h1}
		case 2:
			auth = []string{h1, h2}
		}
		v := vs[mode&3]
		r := ktRequest(method, query, ct, body, auth...)
		token, e := extractToken(r, &v.cfg)
		if e == nil {
			if !isToken68(token) {
				t.Fatalf("extracted %q, which is not token68", token)
			}
			if !strings.Contains(h1, token) && !strings.Contains(h2, token) && !v.cfg.AllowQueryToken && !v.cfg.AllowFormToken {
				t.Fatalf("extracted %q from headers %q, %q", token, h1, h2)
			}
			return
		}
		var cat int
		for _, c := range []error{ErrNoToken, ErrInvalidRequest, ErrInvalidToken, ErrInsufficientScope, ErrKeysUnavailable} {
			if errors.Is(e, c) {
				cat++
			}
		}
		if cat != 1 {
			t.Fatalf("error %v matches %d categories", e, cat)
		}
		switch {
		case errors.Is(e, ErrNoToken):
			if e.Status != http.StatusUnauthorized || e.Code != "" {
				t.Fatalf("no token: status %d code %q", e.Status, e.Code)
			}
		case errors.Is(e, ErrInvalidRequest):
			if e.Status != http.StatusBadRequest || e.Code != CodeInvalidRequest {
				t.Fatalf("invalid request: status %d code %q", e.Status, e.Code)
			}
		default:
			t.Fatalf("extraction error %v of an unexpected category", e)
		}
		if e.Description == "" || sanitize(e.Description) != e.Description {
			t.Fatalf("description %q", e.Description)
		}
		// Never token content in the answer.
		if token != "" {
			t.Fatalf("token %q returned with error %v", token, e)
		}
	})
}

// TestQueryTokenIgnoresOtherMalformedParameters: with AllowQueryToken, a
// ";" or a bad escape in another parameter does not spoil a good token.
func TestQueryTokenIgnoresOtherMalformedParameters(t *testing.T) {
	v := &Validator{cfg: Config{AllowQueryToken: true}}
	for _, q := range []string{"a=1;b=2&access_token=abc", "x=%zz&access_token=abc"} {
		tok, err := extractToken(ktRequest("GET", q, "", ""), &v.cfg)
		if err != nil || tok != "abc" {
			t.Errorf("query %q: token %q, error %v; want abc", q, tok, err)
		}
	}
}
