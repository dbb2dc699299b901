package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/bearerguard/bearerguard/scopes"
)

// hgBody decodes a JSON error body into a map, so that unexpected fields
// are seen.
func hgBody(t testing.TB, w *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return m
}

// TestAnswers: status, exact WWW-Authenticate, Retry-After and JSON body of
// every category (RFC 6750 §3).
func TestAnswers(t *testing.T) {
	kit := hgKit(t)
	down := hgKit(t)
	down.SetStatus(http.StatusInternalServerError)
	for _, realm := range []string{"", "example"} {
		t.Run("realm="+realm, func(t *testing.T) {
			v := hgReady(t, kit, middleware.Config{Realm: realm})
			unavailable := hgNew(t, down, middleware.Config{Realm: realm, KeyWait: time.Minute})
			prefix := "Bearer"
			sep := " "
			if realm != "" {
				prefix = `Bearer realm="` + realm + `"`
				sep = ", "
			}
			policy := middleware.ScopePolicy("admin", "users:write users:delete")
			for _, tc := range []struct {
				name     string
				v        *middleware.Validator
				r        *http.Request
				status   int
				want     []error
				code     string
				scope    string
				noChall  bool
				bodyCode string
			}{
				{name: "no token", v: v, r: hgRequest(""), status: 401, want: []error{middleware.ErrNoToken}, bodyCode: "unauthorized"},
				{name: "other scheme", v: v, r: func() *http.Request {
					r := hgRequest("")
					r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
					return r
				}(), status: 401, want: []error{middleware.ErrNoToken}, bodyCode: "unauthorized"},
				{name: "two headers", v: v, r: func() *http.Request {
					r := hgRequest("abc")
					r.Header.Add("Authorization", "Bearer abc")
					return r
				}(), status: 400, want: []error{middleware.ErrInvalidRequest, middleware.ErrMultipleHeaders}, code: "invalid_request"},
				{name: "empty token", v: v, r: func() *http.Request {
					r := hgRequest("")
					r.Header.Set("Authorization", "Bearer ")
					return r
				}(), status: 400, want: []error{middleware.ErrInvalidRequest, middleware.ErrMalformedHeader}, code: "invalid_request"},
				{name: "expired token", v: v, r: hgRequest(hgToken(kit, middlewaretest.Spec{IssuedAt: hgNow.Add(-2 * time.Hour)})), status: 401,
					want: []error{middleware.ErrInvalidToken, middleware.ErrTokenExpired}, code: "invalid_token"},
				{name: "ID token", v: v, r: hgRequest(hgToken(kit, middlewaretest.Spec{Kind: middlewaretest.IDToken, Audience: []string{hgAudience}})), status: 401,
					want: []error{middleware.ErrInvalidToken, middleware.ErrNotAccessToken}, code: "invalid_token"},
				{name: "insufficient scope", v: v, r: hgRequest(hgToken(kit, middlewaretest.Spec{Scopes: []string{"users:write"}})), status: 403,
					want: []error{middleware.ErrInsufficientScope}, code: "insufficient_scope", scope: "admin users:write users:delete"},
				{name: "keys unavailable", v: unavailable, r: hgRequest(hgToken(down, middlewaretest.Spec{Scopes: []string{"admin"}})), status: 503,
					want: []error{middleware.ErrKeysUnavailable}, noChall: true, bodyCode: "temporarily_unavailable"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					// The error, as adapters see it.
					_, err := tc.v.Check(tc.r, policy)
					hgWant(t, err, tc.want...)
					var e *middleware.Error
					if !errors.As(err, &e) || e.Status != tc.status {
						t.Fatalf("Error.Status %d, want %d", e.Status, tc.status)
					}

					w := hgServe(tc.v.RequireScope("admin", "users:write users:delete")(hgOK), tc.r)
					if w.Code != tc.status {
						t.Fatalf("status %d, want %d", w.Code, tc.status)
					}
					want := prefix
					if tc.code != "" {
						want += sep + `error="` + tc.code + `", error_description="` + e.Description + `"`
						if tc.scope != "" {
							want += `, scope="` + tc.scope + `"`
						}
					}
					got, ok := w.Header()["Www-Authenticate"]
					switch {
					case tc.noChall && ok:
						t.Errorf("WWW-Authenticate %q on a %d", got, w.Code)
					case !tc.noChall && (len(got) != 1 || got[0] != want):
						t.Errorf("WWW-Authenticate %q,\nwant %q", got, want)
					}
					if tc.status == http.StatusServiceUnavailable {
						if n, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || n < 1 {
							t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
						}
					} else if ra := w.Header().Get("Retry-After"); ra != "" {
						t.Errorf("Retry-After %q on a %d", ra, w.Code)
					}
					if ct := w.Header().Get("Content-Type"); ct != "application/json" {
						t.Errorf("Content-Type %q", ct)
					}
					if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
						t.Errorf("Cache-Control %q", cc)
					}
					body := hgBody(t, w)
					code := tc.code
					if tc.bodyCode != "" {
						code = tc.bodyCode
					}
					wantBody := map[string]string{"error": code, "error_description": e.Description}
					if tc.scope != "" {
						wantBody["scope"] = tc.scope
					}
					if len(body) != len(wantBody) {
						t.Errorf("body %v, want %v", body, wantBody)
					}
					for k, v := range wantBody {
						if body[k] != v {
							t.Errorf("body[%q] = %q, want %q", k, body[k], v)
						}
					}
					if e.Description == "" {
						t.Error("empty description")
					}
				})
			}
		})
	}
}

// TestRealmSanitised: the realm is reduced to the RFC 6750 character set.
func TestRealmSanitised(t *testing.T) {
	kit := hgKit(t)
	v := hgNew(t, kit, middleware.Config{Realm: "api \"v1\"\\\n"})
	w := hgServe(v.Authenticate(hgOK), hgRequest(""))
	if got, want := w.Header().Get("WWW-Authenticate"), `Bearer realm="api v1"`; got != want {
		t.Errorf("WWW-Authenticate %q, want %q", got, want)
	}
}

// TestSetHeadersRetryAfter: Retry-After is whole seconds, rounded up, at
// least 1.
func TestSetHeadersRetryAfter(t *testing.T) {
	kit := hgKit(t)
	v := hgNew(t, kit, middleware.Config{})
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "1"},
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{30 * time.Second, "30"},
	} {
		e := middleware.NewError(middleware.ErrKeysUnavailable, "", nil)
		e.RetryAfter = tc.d
		h := http.Header{}
		v.SetHeaders(h, e)
		if got := h.Get("Retry-After"); got != tc.want {
			t.Errorf("RetryAfter %v: Retry-After %q, want %q", tc.d, got, tc.want)
		}
		if _, ok := h["Www-Authenticate"]; ok {
			t.Errorf("WWW-Authenticate on a 503")
		}
		if v.Challenge(e) != "" {
			t.Errorf("Challenge of a 503 = %q", v.Challenge(e))
		}
	}
}

// TestNoTokenContent: no part of a refused token, nor the token, appears
// in the answer or in the log.
func TestNoTokenContent(t *testing.T) {
	const marker = "QZXmarkerQZX"
	kit := hgKit(t)
	var logBuf bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logBuf, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v := hgReady(t, kit, middleware.Config{Logger: logger, Realm: "api"})
	h := v.RequireScope("admin")(hgOK)
	with := map[string]any{"marker": marker, "sub": marker, "client_id": marker}
	hdr := func(changes map[string]any) map[string]any {
		return hgHeader(hgMerge(changes, map[string]any{"x-marker": marker}))
	}
	good := kit.Sign(hdr(nil), hgClaims(kit, hgMerge(with, map[string]any{"scope": "read"})))
	for _, tc := range []struct {
		name string
		auth []string
		url  string
	}{
		{"insufficient scope", []string{"Bearer " + good}, "/"},
		{"expired", []string{"Bearer " + kit.Sign(hdr(nil), hgClaims(kit, hgMerge(with, map[string]any{"exp": hgNow.Add(-time.Hour).Unix()})))}, "/"},
		{"audience", []string{"Bearer " + kit.Sign(hdr(nil), hgClaims(kit, hgMerge(with, map[string]any{"aud": marker})))}, "/"},
		{"issuer", []string{"Bearer " + kit.Sign(hdr(nil), hgClaims(kit, hgMerge(with, map[string]any{"iss": "https://" + marker})))}, "/"},
		{"ID token", []string{"Bearer " + kit.Sign(hdr(nil), hgClaims(kit, hgMerge(with, map[string]any{"nonce": marker})))}, "/"},
		{"typ", []string{"Bearer " + kit.Sign(hdr(map[string]any{"typ": marker}), hgClaims(kit, with))}, "/"},
		{"kid", []string{"Bearer " + kit.Sign(hdr(map[string]any{"kid": marker}), hgClaims(kit, with))}, "/"},
		{"alg", []string{"Bearer " + hgSegment(good, 0, hgB64([]byte(`{"alg":"`+marker+`"}`)))}, "/"},
		{"signature", []string{"Bearer " + hgSegment(good, 2, marker)}, "/"},
		{"payload not JSON", []string{"Bearer " + hgSegment(good, 1, hgB64([]byte(`{"sub":"`+marker+`",`)))}, "/"},
		{"claim of the wrong type", []string{"Bearer " + kit.Sign(hdr(nil), hgClaims(kit, hgMerge(with, map[string]any{"exp": marker})))}, "/"},
		{"header not token68", []string{"Bearer " + marker + " " + marker}, "/"},
		{"two headers", []string{"Bearer " + good, "Bearer " + marker}, "/"},
		{"other scheme", []string{marker + " " + marker}, "/"},
		{"query token not allowed", nil, "/?access_token=" + good},
		{"too large", []string{"Bearer " + marker + strings.Repeat("a", middleware.DefaultMaxTokenSize)}, "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logMu.Lock()
			logBuf.Reset()
			logMu.Unlock()
			r := httptest.NewRequest(http.MethodGet, tc.url, nil)
			for _, a := range tc.auth {
				r.Header.Add("Authorization", a)
			}
			w := hgServe(h, r)
			if w.Code == http.StatusOK {
				t.Fatalf("status 200")
			}
			var all strings.Builder
			for k, vs := range w.Header() {
				all.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
			}
			all.WriteString(w.Body.String())
			if strings.Contains(all.String(), marker) {
				t.Errorf("the answer contains token content:\n%s", all.String())
			}
			logMu.Lock()
			logged := logBuf.String()
			logMu.Unlock()
			for _, a := range tc.auth {
				if tok := strings.TrimPrefix(a, "Bearer "); len(tok) > 20 && strings.Contains(logged, tok) {
					t.Errorf("the log contains the token:\n%s", logged)
				}
			}
			if strings.Contains(logged, good) {
				t.Errorf("the log contains the token:\n%s", logged)
			}
			if strings.Contains(hgWithoutLoggedFacts(t, logged), marker) {
				t.Errorf("the log contains token content:\n%s", logged)
			}
		})
	}
}

// hgWithoutLoggedFacts returns the JSON log records without the token
// facts the refusal log shows on purpose (Config.Logger): the header's
// alg, kid and typ, and iss and aud.
func hgWithoutLoggedFacts(t *testing.T, logged string) string {
	t.Helper()
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(logged), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if tok, ok := rec["token"].(map[string]any); ok {
			for _, k := range []string{"alg", "kid", "typ", "iss", "aud"} {
				delete(tok, k)
			}
		}
		b, _ := json.Marshal(rec)
		out.Write(b)
		out.WriteByte('\n')
	}
	return out.String()
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestLogger: the optional logger gets the cause of refusals and of key
// fetch failures.
func TestLogger(t *testing.T) {
	kit := hgKit(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cause := errors.New("hook-cause-4711")
	v := hgReady(t, kit, middleware.Config{Logger: logger, Validate: func(context.Context, *claims.Claims) error { return cause }})
	tok := hgToken(kit, middlewaretest.Spec{})
	if w := hgServe(v.Authenticate(hgOK), hgRequest(tok)); w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d", w.Code)
	}
	mu.Lock()
	records := parseRecords(t, buf.String())
	mu.Unlock()
	found := false
	for _, rec := range records {
		if rec["level"] == "DEBUG" && rec["status"] == float64(401) {
			if s, _ := rec["error"].(string); strings.Contains(s, "hook-cause-4711") {
				found = true
			}
		}
		for _, v := range rec {
			if s, ok := v.(string); ok && strings.Contains(s, tok) {
				t.Errorf("log record contains the token: %v", rec)
			}
		}
	}
	if !found {
		t.Errorf("no debug record with status 401 and the cause; log:\n%s", buf.String())
	}
	// The token is also absent from the answer: the cause is never sent.
	w := hgServe(v.Authenticate(hgOK), hgRequest(tok))
	if strings.Contains(w.Body.String()+w.Header().Get("WWW-Authenticate"), "hook-cause-4711") {
		t.Error("the cause was sent to the client")
	}

	// Key fetch failures are logged at warn level with the issuer.
	down := hgKit(t)
	down.SetStatus(http.StatusInternalServerError)
	mu.Lock()
	buf.Reset()
	mu.Unlock()
	dv := hgNew(t, down, middleware.Config{Logger: logger, KeyWait: time.Minute})
	_, err := dv.ValidateToken(context.Background(), hgToken(down, middlewaretest.Spec{}))
	hgWant(t, err, middleware.ErrKeysUnavailable)
	mu.Lock()
	records = parseRecords(t, buf.String())
	mu.Unlock()
	warned := false
	for _, rec := range records {
		if rec["level"] == "WARN" && rec["issuer"] == down.URL && rec["error"] != "" {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning for the failed fetch; log:\n%s", buf.String())
	}
}

func parseRecords(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestErrorHandler: a custom error writer gets every refusal.
func TestErrorHandler(t *testing.T) {
	kit := hgKit(t)
	var got []*middleware.Error
	v := hgReady(t, kit, middleware.Config{ErrorHandler: func(w http.ResponseWriter, r *http.Request, e *middleware.Error) {
		got = append(got, e)
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("custom"))
	}})
	called := false
	h := v.RequireScope("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
	}))
	for _, tc := range []struct {
		token string
		want  error
	}{
		{"", middleware.ErrNoToken},
		{"not-a-jws", middleware.ErrInvalidToken},
		{hgToken(kit, middlewaretest.Spec{Scopes: []string{"read"}}), middleware.ErrInsufficientScope},
	} {
		called = false
		w := hgServe(h, hgRequest(tc.token))
		if called {
			t.Error("next handler called for a refused request")
		}
		if w.Code != http.StatusTeapot || w.Body.String() != "custom" {
			t.Errorf("status %d body %q; want the custom answer", w.Code, w.Body.String())
		}
		if len(got) == 0 || !errors.Is(got[len(got)-1], tc.want) {
			t.Errorf("ErrorHandler got %v, want %v", got, tc.want)
		}
	}
	if len(got) != 3 {
		t.Errorf("ErrorHandler called %d times, want 3", len(got))
	}
	if w := hgServe(h, hgRequest(hgToken(kit, middlewaretest.Spec{Scopes: []string{"admin"}}))); w.Code != http.StatusOK || !called {
		t.Errorf("status %d for a good token, next called %v", w.Code, called)
	}
	if len(got) != 3 {
		t.Error("ErrorHandler called for an accepted request")
	}
}

// TestErrorHandlerHeaders: with Config.ErrorHandler set, the RFC 6750
// headers (WWW-Authenticate, Cache-Control: no-store, Retry-After) are set
// before it runs and the refusal's status is the default: a handler that
// renders only a body, or nothing at all, still answers with it.
func TestErrorHandlerHeaders(t *testing.T) {
	kit := hgKit(t)
	down := hgKit(t)
	down.SetStatus(http.StatusServiceUnavailable)
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, e *middleware.Error)
		body    string
	}{
		{"writes nothing", func(http.ResponseWriter, *http.Request, *middleware.Error) {}, ""},
		{"writes a body only", func(w http.ResponseWriter, _ *http.Request, e *middleware.Error) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("refused: " + e.Code))
		}, "refused: "},
		{"writes the status itself", func(w http.ResponseWriter, _ *http.Request, e *middleware.Error) {
			w.WriteHeader(e.Status)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := hgReady(t, kit, middleware.Config{ErrorHandler: tc.handler})
			dv := hgNew(t, down, middleware.Config{ErrorHandler: tc.handler, KeyWait: 50 * time.Millisecond})
			for _, rc := range []struct {
				name  string
				h     http.Handler
				token string
				want  error
			}{
				{"no token", v.RequireScope("admin")(hgOK), "", middleware.ErrNoToken},
				{"invalid token", v.RequireScope("admin")(hgOK), "not-a-jws", middleware.ErrInvalidToken},
				{"missing scope", v.RequireScope("admin")(hgOK), hgToken(kit, middlewaretest.Spec{}), middleware.ErrInsufficientScope},
				{"claim not met", v.RequireClaim("org_id", "org_a")(hgOK), hgToken(kit, middlewaretest.Spec{}), middleware.ErrInsufficientClaims},
				{"keys unavailable", dv.Authenticate(hgOK), hgToken(down, middlewaretest.Spec{}), middleware.ErrKeysUnavailable},
			} {
				t.Run(rc.name, func(t *testing.T) {
					w := hgServe(rc.h, hgRequest(rc.token))
					if want := hgStatusOf(rc.want); w.Code != want {
						t.Errorf("status %d, want %d", w.Code, want)
					}
					hgCheckChallenge(t, w.Result().Header, rc.want)
					if got := w.Header().Get("Cache-Control"); got != "no-store" {
						t.Errorf("Cache-Control %q, want no-store", got)
					}
					if !strings.HasPrefix(w.Body.String(), tc.body) || tc.body == "" && w.Body.Len() > 0 {
						t.Errorf("body %q, want the handler's", w.Body.String())
					}
				})
			}
		})
	}
}

// TestRequireScopeHTTP: OR of ANDs at the route.
func TestRequireScopeHTTP(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	for _, tc := range []struct {
		name    string
		require []string
		granted []string
		status  int
	}{
		{"one scope granted", []string{"read:users"}, []string{"read:users"}, 200},
		{"one scope missing", []string{"read:users"}, []string{"write:users"}, 403},
		{"no scopes", []string{"read:users"}, nil, 403},
		{"first alternative", []string{"admin", "users:write users:delete"}, []string{"admin"}, 200},
		{"second alternative", []string{"admin", "users:write users:delete"}, []string{"users:delete", "users:write"}, 200},
		{"incomplete alternative", []string{"admin", "users:write users:delete"}, []string{"users:write"}, 403},
		{"look-alike prefix", []string{"read:users"}, []string{"read:user"}, 403},
		{"look-alike case", []string{"read:users"}, []string{"READ:USERS"}, 403},
		{"look-alike suffix", []string{"read:users"}, []string{"read:users:extra"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := hgServe(v.RequireScope(tc.require...)(hgOK), hgRequest(hgToken(kit, middlewaretest.Spec{Scopes: tc.granted})))
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if tc.status == http.StatusForbidden {
				want := scopes.MustRequirement(tc.require...).Challenge()
				if !strings.HasSuffix(w.Header().Get("WWW-Authenticate"), `, scope="`+want+`"`) {
					t.Errorf("WWW-Authenticate %q lacks scope=%q", w.Header().Get("WWW-Authenticate"), want)
				}
			}
		})
	}
	// Authenticate requires no scope.
	if w := hgServe(v.Authenticate(hgOK), hgRequest(hgToken(kit, middlewaretest.Spec{}))); w.Code != http.StatusOK {
		t.Errorf("Authenticate: status %d", w.Code)
	}
}

// TestRequireScopePanics: an invalid scope literal is a programmer error
// caught at registration.
func TestRequireScopePanics(t *testing.T) {
	kit := hgKit(t)
	v := hgNew(t, kit, middleware.Config{})
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"RequireScope quote", func() { v.RequireScope(`read"users`) }},
		{"RequireScope backslash", func() { v.RequireScope(`read\users`) }},
		{"RequireScope empty alternative", func() { v.RequireScope("admin", "") }},
		{"RequireScope no alternative", func() { v.RequireScope() }},
		{"ScopePolicy", func() { middleware.ScopePolicy(" ") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				err, _ := recover().(error)
				if !errors.Is(err, scopes.ErrInvalidScope) {
					t.Errorf("panic value %v, want an error matching scopes.ErrInvalidScope", err)
				}
			}()
			tc.f()
		})
	}
}

// TestOptional: AuthenticateOptional tolerates a missing token only.
func TestOptional(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	down := hgKit(t)
	down.SetStatus(http.StatusInternalServerError)
	unavailable := hgNew(t, down, middleware.Config{KeyWait: time.Minute})
	for _, tc := range []struct {
		name   string
		v      *middleware.Validator
		auth   []string
		status int
		body   string
	}{
		{"no token", v, nil, 200, "anonymous"},
		{"other scheme", v, []string{"Basic dXNlcjpwYXNz"}, 200, "anonymous"},
		{"valid token", v, []string{"Bearer " + hgToken(kit, middlewaretest.Spec{Subject: "alice"})}, 200, "alice"},
		{"expired token", v, []string{"Bearer " + hgToken(kit, middlewaretest.Spec{IssuedAt: hgNow.Add(-3 * time.Hour)})}, 401, ""},
		{"ID token", v, []string{"Bearer " + hgToken(kit, middlewaretest.Spec{Kind: middlewaretest.IDToken, Audience: []string{hgAudience}})}, 401, ""},
		{"garbage", v, []string{"Bearer abc"}, 401, ""},
		{"empty token", v, []string{"Bearer "}, 400, ""},
		{"two headers", v, []string{"Bearer a", "Bearer b"}, 400, ""},
		{"keys unavailable", unavailable, []string{"Bearer " + hgToken(down, middlewaretest.Spec{})}, 503, ""},
		{"no token, keys unavailable", unavailable, nil, 200, "anonymous"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := hgRequest("")
			for _, a := range tc.auth {
				r.Header.Add("Authorization", a)
			}
			w := hgServe(tc.v.AuthenticateOptional(hgOK), r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("body %q, want %q", w.Body.String(), tc.body)
			}
		})
	}
	// Check with an optional policy: nil claims and nil error.
	c, e := v.Check(hgRequest(""), middleware.Policy{Optional: true})
	if c != nil || e != nil {
		t.Errorf("Check(no token, optional) = %v, %v", c, e)
	}
	// An optional policy with scopes still checks the scopes of a token.
	_, e = v.Check(hgRequest(hgToken(kit, middlewaretest.Spec{Scopes: []string{"read"}})), middleware.Policy{Optional: true, Scopes: []string{"admin"}})
	hgWant(t, e, middleware.ErrInsufficientScope)
}

// TestClaimsInContext: the handler gets the claims in a copy of the
// request; the caller's request is not changed.
func TestClaimsInContext(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	var got *claims.Claims
	h := v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = claims.FromContext(r.Context())
	}))
	r := hgRequest(hgToken(kit, middlewaretest.Spec{Subject: "alice", Scopes: []string{"a", "b"}}))
	hgServe(h, r)
	if got == nil || got.Subject != "alice" || !got.HasScope("b") || got.Issuer != kit.URL {
		t.Fatalf("claims in the handler: %+v", got)
	}
	if _, ok := claims.FromContext(r.Context()); ok {
		t.Error("the caller's request was changed")
	}
}

// TestCheckExtracts: Check, the entry point of framework adapters,
// extracts the token as the middleware does.
func TestCheckExtracts(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{AllowQueryToken: true})
	c, err := v.Check(hgRequest(hgToken(kit, middlewaretest.Spec{Subject: "bob"})), middleware.Policy{})
	hgWant(t, err)
	if c.Subject != "bob" {
		t.Errorf("Subject %q", c.Subject)
	}
	q := httptest.NewRequest(http.MethodGet, "/?access_token="+hgToken(kit, middlewaretest.Spec{Subject: "carol"}), nil)
	c, err = v.Check(q, middleware.Policy{})
	hgWant(t, err)
	if c.Subject != "carol" {
		t.Errorf("Subject %q", c.Subject)
	}
	_, err = v.Check(hgRequest(""), middleware.Policy{})
	hgWant(t, err, middleware.ErrNoToken)
}

// TestHardeningScopeLookalikes: scopes are compared exactly and
// case-sensitively (RFC 6749 §3.3): near misses get 403 insufficient_scope
// with the required scope in the challenge.
func TestHardeningScopeLookalikes(t *testing.T) {
	t.Parallel()
	f := hgShared()
	need := f.h.v.RequireScope("read:users")
	both := f.h.v.RequireScope("admin", "users:write users:delete")
	send := func(t *testing.T, mw func(http.Handler) http.Handler, claims map[string]any, want error) {
		t.Helper()
		tok := f.kit.Sign(map[string]any{"typ": "at+jwt"}, claims)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := f.h.serve(t, mw, r, want)
		if want == middleware.ErrInsufficientScope {
			a := hgChallengeAttrs(t, w.Header().Get("WWW-Authenticate"))
			if a["scope"] == "" {
				t.Errorf("challenge without scope: %v", a)
			}
		}
	}
	base := hgWith(hgValidClaims(f.kit.URL), "scope", nil)
	for _, scope := range []string{
		"read:user", "READ:USERS", "Read:Users", "read:users:extra", "xread:users", "read:usersx",
		"read:users_admin", "read: users", "read :users", "read:users,", `"read:users"`,
		"read:users\u00a0", "read:users\t", "admin\tread:users", "read:users\nadmin", "", "*", "read:*",
		"read%3Ausers", "read:users/", "/read:users",
	} {
		t.Run("scope="+scope, func(t *testing.T) {
			send(t, need, hgWith(base, "scope", scope), middleware.ErrInsufficientScope)
		})
	}
	for name, c := range map[string]map[string]any{
		"scp one-off":                 hgWith(base, "scp", []string{"read:user", "READ:USERS"}),
		"permissions not read":        hgWith(base, "permissions", []string{"read:users"}),
		"roles not read":              hgWith(base, "roles", []string{"read:users"}),
		"realm_access not read":       hgWith(base, "realm_access", map[string]any{"roles": []string{"read:users"}}),
		"scopes (plural) not read":    hgWith(base, "scopes", "read:users"),
		"scope in a custom namespace": hgWith(base, "https://example.com/scope", "read:users"),
	} {
		t.Run(name, func(t *testing.T) {
			send(t, need, c, middleware.ErrInsufficientScope)
		})
	}
	t.Run("control/among others", func(t *testing.T) {
		send(t, need, hgWith(base, "scope", "a  read:users  b"), nil)
	})
	t.Run("control/scp array", func(t *testing.T) {
		send(t, need, hgWith(base, "scp", []string{"x", "read:users"}), nil)
	})
	t.Run("AND needs all", func(t *testing.T) {
		send(t, both, hgWith(base, "scope", "users:write"), middleware.ErrInsufficientScope)
		send(t, both, hgWith(base, "scope", "users:write users:deletes"), middleware.ErrInsufficientScope)
		send(t, both, hgWith(base, "scope", "users:delete users:write"), nil)
		send(t, both, hgWith(base, "scope", "admin"), nil)
	})
}
