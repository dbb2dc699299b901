package middleware

// Token extraction (RFC 6750 §2), tested on the unexported extract so that
// no key or token is involved. The answers these errors produce are tested
// in http_test.go.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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
	big := strings.Repeat("a", MaxFormTokenBody)
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
		{"form and header: the body is not read", formOnly, ktRequest("POST", "", form, "access_token=xyz", "Bearer abc"), "abc", nil},
		{"form twice", formOnly, ktRequest("POST", "", form, "access_token=abc&access_token=abc"), "", []error{ErrInvalidRequest, ErrMultipleTokens}},
		{"form not token68", formOnly, ktRequest("POST", "", form, "access_token=a+b"), "", malformed},
		{"form too large", formOnly, ktRequest("POST", "", form, "access_token=abc&x="+big), "", []error{ErrInvalidRequest, ErrFormUnreadable}},
		{"form and query", both, ktRequest("POST", "access_token=abc", form, "access_token=abc"), "", []error{ErrInvalidRequest, ErrMultipleTokens}},
		{"query on, form in body ignored", query, ktRequest("POST", "", form, "access_token=abc"), "", noToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, _, e := extractToken(tc.r, &tc.v.cfg, false, nil)
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
	for _, body := range []string{"access_token=abc&name=x", "name=x", strings.Repeat("b", MaxFormTokenBody)} {
		r := ktRequest("POST", "", form, body)
		if _, _, e := extractToken(r, &v.cfg, false, nil); e != nil && !errors.Is(e, ErrNoToken) {
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
		token, _, e := extractToken(r, &v.cfg, false, nil)
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
		tok, _, err := extractToken(ktRequest("GET", q, "", ""), &v.cfg, false, nil)
		if err != nil || tok != "abc" {
			t.Errorf("query %q: token %q, error %v; want abc", q, tok, err)
		}
	}
}

// ktCountingBody records how many bytes were read from a body.
type ktCountingBody struct {
	r    io.Reader
	read int
}

func (b *ktCountingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *ktCountingBody) Close() error { return nil }

// TestExtractHeaderTokenIgnoresBody: with AllowFormToken, a request whose
// Authorization header carries the token is decided on the header alone:
// its body is not read, whatever its size or content.
func TestExtractHeaderTokenIgnoresBody(t *testing.T) {
	v := &Validator{cfg: Config{AllowFormToken: true, AllowQueryToken: true}}
	for name, body := range map[string]string{
		"over the form limit":               "name=x&pad=" + strings.Repeat("a", 1<<20),
		"access_token and a semicolon":      "note=access_token;x&name=y",
		"access_token and a lone percent":   "note=access_token&discount=50%",
		"malformed access_token field":      "access_token=a+b",
		"an access_token field of its own":  "access_token=other",
		"an escaped access_token field":     "access%5Ftoken=other",
		"access_token at the end, oversize": strings.Repeat("a", 1<<20) + "&access_token=x",
	} {
		t.Run(name, func(t *testing.T) {
			r := ktRequest("POST", "", form, "", "Bearer abc")
			b := &ktCountingBody{r: strings.NewReader(body)}
			r.Body, r.ContentLength = b, int64(len(body))
			token, _, e := extractToken(r, &v.cfg, false, nil)
			if e != nil || token != "abc" {
				t.Fatalf("token %q, error %v; want the header token", token, e)
			}
			if b.read != 0 || r.Body != io.ReadCloser(b) {
				t.Errorf("the body was touched: %d bytes read", b.read)
			}
		})
	}
}

// TestExtractReadsLikeTheApp: the token is found where the application's
// own reading of the request (r.URL.Query, r.PostFormValue) finds an
// access_token, so that the guard and the handler never see two different
// tokens.
func TestExtractReadsLikeTheApp(t *testing.T) {
	kit := ktKit(t)
	vs := ktExtractors(t, kit)
	query, formOnly, both := vs[1], vs[2], vs[3]
	sentTwice := []error{ErrInvalidRequest, ErrMultipleTokens}
	malformed := []error{ErrInvalidRequest, ErrMalformedHeader}
	badParam := form + "; charset" // a media-type parameter without value
	for _, tc := range []struct {
		name  string
		v     *Validator
		r     *http.Request
		token string
		want  []error
	}{
		{"escaped query name and header", query, ktRequest("GET", "access%5Ftoken=B", "", "", "Bearer A"), "", sentTwice},
		{"escaped query name", query, ktRequest("GET", "access%5Ftoken=B", "", ""), "B", nil},
		{"escaped query name, escaped letter", query, ktRequest("GET", "%61ccess_token=B", "", ""), "B", nil},
		{"query semicolon in another parameter", query, ktRequest("GET", "note=access_token;x", "", ""), "", []error{ErrNoToken}},
		{"query semicolon in the token", query, ktRequest("GET", "access_token=a;b", "", ""), "", malformed},
		{"malformed media parameter", formOnly, ktRequest("POST", "", badParam, "access_token=B"), "B", nil},
		{"malformed media parameter and query", both, ktRequest("POST", "access_token=A", badParam, "access_token=B"), "", sentTwice},
		{"form semicolon elsewhere", formOnly, ktRequest("POST", "", form, "note=x;y&access_token=B"), "B", nil},
		{"form lone percent elsewhere", formOnly, ktRequest("POST", "", form, "access_token=B&discount=50%"), "B", nil},
		{"form mentions access_token with a percent", formOnly, ktRequest("POST", "", form, "note=access_token&d=50%"), "", []error{ErrNoToken}},
		{"escaped form name", formOnly, ktRequest("POST", "", form, "access%5Ftoken=B"), "B", nil},
		{"escaped form name and query", both, ktRequest("POST", "access_token=A", form, "access%5Ftoken=B"), "", sentTwice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, _, e := extractToken(tc.r, &tc.v.cfg, false, nil)
			if len(tc.want) == 0 {
				if e != nil || token != tc.token {
					t.Fatalf("token %q, error %v; want token %q", token, e, tc.token)
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
	// The application's reading of the same requests agrees.
	r := ktRequest("POST", "", badParam, "access_token=B")
	if got := r.PostFormValue("access_token"); got != "B" {
		t.Errorf("PostFormValue reads %q; the cases above assume B", got)
	}
	r = ktRequest("GET", "access%5Ftoken=B", "", "")
	if got := r.URL.Query().Get("access_token"); got != "B" {
		t.Errorf("URL.Query reads %q; the cases above assume B", got)
	}
}

// TestExtractFormAlreadyParsed: a form the application (or a framework,
// such as Gin's c.PostForm) parsed before the guard ran is read from
// r.PostForm; its body is consumed.
func TestExtractFormAlreadyParsed(t *testing.T) {
	v := &Validator{cfg: Config{AllowFormToken: true}}
	r := ktRequest("POST", "", form, "name=x&access_token=B")
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	token, _, e := extractToken(r, &v.cfg, false, nil)
	if e != nil || token != "B" {
		t.Fatalf("token %q, error %v; want B", token, e)
	}
	r = ktRequest("POST", "", form, "name=x")
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	r.PostForm.Set("access_token", "a b")
	if _, _, e := extractToken(r, &v.cfg, false, nil); !errors.Is(e, ErrMalformedHeader) {
		t.Fatalf("malformed parsed field: error %v", e)
	}
}

// TestExtractFormBodyBounds: a form body searched for the token is read
// within Config.FormTokenTimeout and the request's context, and at most
// MaxFormTokenBody bytes of it.
func TestExtractFormBodyBounds(t *testing.T) {
	v := &Validator{cfg: Config{AllowFormToken: true, FormTokenTimeout: 50 * time.Millisecond}}
	slow := func(t *testing.T, ctx context.Context) *http.Request {
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })      // ends the read left behind
		go pw.Write([]byte("name=x&access_")) // and then nothing
		r := ktRequest("POST", "", form, "").WithContext(ctx)
		r.Body, r.ContentLength = pr, -1
		return r
	}
	t.Run("slow body", func(t *testing.T) {
		start := time.Now()
		_, _, e := extractToken(slow(t, context.Background()), &v.cfg, false, nil)
		if !errors.Is(e, ErrInvalidRequest) || !errors.Is(e, ErrFormUnreadable) {
			t.Fatalf("error %v, want ErrFormUnreadable", e)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v with a timeout of 50ms", d)
		}
	})
	t.Run("request context ends first", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := errors.New("client gone")
		cancel(stop)
		long := &Validator{cfg: Config{AllowFormToken: true, FormTokenTimeout: time.Hour}}
		_, _, e := extractToken(slow(t, ctx), &long.cfg, false, nil)
		if !errors.Is(e, ErrFormUnreadable) || !errors.Is(e, stop) {
			t.Fatalf("error %v, want ErrFormUnreadable caused by the context", e)
		}
	})
	t.Run("default timeout", func(t *testing.T) {
		if got := (&Config{}).formTokenTimeout(); got != DefaultFormTokenTimeout {
			t.Errorf("default %v", got)
		}
	})
	t.Run("size", func(t *testing.T) {
		at := "access_token=abc&x=" + strings.Repeat("a", MaxFormTokenBody-len("access_token=abc&x="))
		if tok, _, e := extractToken(ktRequest("POST", "", form, at), &v.cfg, false, nil); e != nil || tok != "abc" {
			t.Errorf("body of MaxFormTokenBody bytes: token %q, error %v", tok, e)
		}
		_, _, e := extractToken(ktRequest("POST", "", form, at+"a"), &v.cfg, false, nil)
		if !errors.Is(e, ErrFormUnreadable) {
			t.Errorf("body of MaxFormTokenBody+1 bytes: error %v", e)
		}
	})
}

// TestExtractCookieAndFunc: Config.TokenCookie and Config.TokenFunc follow
// the rules of the other sources: a token68, sent once.
func TestExtractCookieAndFunc(t *testing.T) {
	fromHeader := func(name string) func(*http.Request) (string, error) {
		return func(r *http.Request) (string, error) { return r.Header.Get(name), nil }
	}
	custom := errors.New("custom")
	cookie := &Validator{cfg: Config{TokenCookie: "at", AllowQueryToken: true, AllowFormToken: true}}
	fn := &Validator{cfg: Config{TokenFunc: fromHeader("X-Token")}}
	both := &Validator{cfg: Config{TokenCookie: "at", TokenFunc: fromHeader("X-Token")}}
	failing := &Validator{cfg: Config{TokenFunc: func(*http.Request) (string, error) { return "", custom }}}
	answering := &Validator{cfg: Config{TokenFunc: func(*http.Request) (string, error) {
		return "", NewError(ErrNoToken, "", nil)
	}}}
	with := func(r *http.Request, h ...string) *http.Request {
		for i := 0; i < len(h); i += 2 {
			r.Header.Add(h[i], h[i+1])
		}
		return r
	}
	sentTwice := []error{ErrInvalidRequest, ErrMultipleTokens}
	malformed := []error{ErrInvalidRequest, ErrMalformedCredentials}
	for _, tc := range []struct {
		name  string
		v     *Validator
		r     *http.Request
		token string
		want  []error
	}{
		{"cookie", cookie, with(ktRequest("GET", "", "", ""), "Cookie", "a=1; at=abc"), "abc", nil},
		{"cookie quoted", cookie, with(ktRequest("GET", "", "", ""), "Cookie", `at="abc"`), "abc", nil},
		{"cookie padding", cookie, with(ktRequest("GET", "", "", ""), "Cookie", "at=abc=="), "abc==", nil},
		{"cookie absent", cookie, with(ktRequest("GET", "", "", ""), "Cookie", "other=abc"), "", []error{ErrNoToken}},
		{"cookie empty", cookie, with(ktRequest("GET", "", "", ""), "Cookie", "at="), "", malformed},
		{"cookie not token68", cookie, with(ktRequest("GET", "", "", ""), "Cookie", "at=a%20b"), "", malformed},
		{"cookie twice", cookie, with(ktRequest("GET", "", "", ""), "Cookie", "at=abc; at=def"), "", sentTwice},
		{"cookie in two headers", cookie, with(ktRequest("GET", "", "", ""), "Cookie", "at=abc", "Cookie", "at=abc"), "", sentTwice},
		{"cookie and header", cookie, with(ktRequest("GET", "", "", "", "Bearer abc"), "Cookie", "at=abc"), "", sentTwice},
		{"cookie and Basic header", cookie, with(ktRequest("GET", "", "", "", "Basic x"), "Cookie", "at=abc"), "abc", nil},
		{"cookie and query", cookie, with(ktRequest("GET", "access_token=abc", "", ""), "Cookie", "at=abc"), "", sentTwice},
		{"cookie, form body not read", cookie, with(ktRequest("POST", "", form, "access_token=xyz"), "Cookie", "at=abc"), "abc", nil},
		{"cookie not enabled", &Validator{}, with(ktRequest("GET", "", "", ""), "Cookie", "at=abc"), "", []error{ErrNoToken}},
		{"func", fn, with(ktRequest("GET", "", "", ""), "X-Token", "abc"), "abc", nil},
		{"func finds none", fn, ktRequest("GET", "", "", ""), "", []error{ErrNoToken}},
		{"func not token68", fn, with(ktRequest("GET", "", "", ""), "X-Token", "a b"), "", malformed},
		{"func and header", fn, with(ktRequest("GET", "", "", "", "Bearer abc"), "X-Token", "abc"), "", sentTwice},
		{"func and cookie", both, with(ktRequest("GET", "", "", ""), "X-Token", "abc", "Cookie", "at=abc"), "", sentTwice},
		{"func error", failing, ktRequest("GET", "", "", "", "Bearer abc"), "", append(malformed, custom)},
		{"func *Error answered as is", answering, ktRequest("GET", "", "", ""), "", []error{ErrNoToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, _, e := extractToken(tc.r, &tc.v.cfg, false, nil)
			if len(tc.want) == 0 {
				if e != nil || token != tc.token {
					t.Fatalf("token %q, error %v; want token %q", token, e, tc.token)
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

// TestTokenCookieName: New refuses a TokenCookie that is not a cookie name.
func TestTokenCookieName(t *testing.T) {
	for _, name := range []string{"a b", "a;b", "a=b", "é"} {
		c := Config{Issuer: "https://issuer.example", Audiences: []string{"api"}, TokenCookie: name}
		if _, err := c.check(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("TokenCookie %q: %v", name, err)
		}
	}
}

// TestPreflight: with AllowUnauthenticatedPreflight, a CORS preflight
// passes without a token and without claims; any other request, OPTIONS
// included, is checked. Without it, preflights are checked.
func TestPreflight(t *testing.T) {
	on := &Validator{cfg: Config{AllowUnauthenticatedPreflight: true}}
	off := &Validator{}
	req := func(method string, h ...string) *http.Request {
		r := ktRequest(method, "", "", "")
		for i := 0; i < len(h); i += 2 {
			r.Header.Set(h[i], h[i+1])
		}
		return r
	}
	const origin, acrm = "Origin", "Access-Control-Request-Method"
	for _, tc := range []struct {
		name string
		v    *Validator
		r    *http.Request
		want error // nil: passes without claims
	}{
		{"preflight", on, req("OPTIONS", origin, "https://app.example", acrm, "DELETE"), nil},
		{"preflight with a malformed header", on, req("OPTIONS", origin, "https://app.example", acrm, "GET", "Authorization", "Bearer"), nil},
		{"OPTIONS without Origin", on, req("OPTIONS", acrm, "GET"), ErrNoToken},
		{"OPTIONS without request method", on, req("OPTIONS", origin, "https://app.example"), ErrNoToken},
		{"GET with preflight headers", on, req("GET", origin, "https://app.example", acrm, "GET"), ErrNoToken},
		{"preflight, default", off, req("OPTIONS", origin, "https://app.example", acrm, "DELETE"), ErrNoToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.v.Check(tc.r, Policy{})
			if tc.want == nil {
				if err != nil || c != nil {
					t.Fatalf("claims %v, error %v; want neither", c, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}
