package echo5guard_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v5"
	echomw "github.com/labstack/echo/v5/middleware"
	"go.uber.org/goleak"

	"github.com/bearerguard/bearerguard/adapters/echo5guard"
	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/internal/conformance"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestMain checks that no goroutine outlives the tests: the validators'
// refresh goroutines end with their contexts.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newGuard returns a ready Guard trusting a new test issuer.
func newGuard(t *testing.T) (*echo5guard.Guard, *middlewaretest.Issuer) {
	t.Helper()
	return newGuardConfig(t, echo5guard.Config{})
}

// newGuardConfig returns a ready Guard with cfg, trusting a new test
// issuer and accepting conformance.Audience.
func newGuardConfig(t *testing.T, cfg echo5guard.Config) (*echo5guard.Guard, *middlewaretest.Issuer) {
	t.Helper()
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	cfg.Issuer, cfg.Audiences = iss.URL, []string{conformance.Audience}
	g, err := echo5guard.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := g.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return g, iss
}

func serve(h http.Handler, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// The claims are in the request's context: Claims, claims.FromContext and
// a net/http handler mounted with echo.WrapHandler all see the same value.
func TestClaimsInRequestContext(t *testing.T) {
	g, iss := newGuard(t)
	for _, tc := range []struct {
		name string
		mw   echo.MiddlewareFunc
	}{
		{"Authenticate", g.Authenticate()},
		{"AuthenticateOptional", g.AuthenticateOptional()},
		{"RequireScope", g.RequireScope("read:users")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fromEcho, fromNetHTTP *claims.Claims
			shared := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fromNetHTTP, _ = claims.FromContext(r.Context())
			})
			e := echo.New()
			e.GET("/", func(c *echo.Context) error {
				var ok bool
				if fromEcho, ok = echo5guard.Claims(c); !ok {
					t.Error("Claims: no claims")
				}
				if c2, _ := claims.FromContext(c.Request().Context()); c2 != fromEcho {
					t.Error("claims.FromContext differs from Claims")
				}
				return echo.WrapHandler(shared)(c)
			}, tc.mw)
			w := serve(e, iss.Token(middlewaretest.Spec{Subject: "alice", Scopes: []string{"read:users"}}))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if fromEcho == nil || fromEcho.Subject != "alice" || fromNetHTTP != fromEcho {
				t.Errorf("claims %+v via Echo, %+v via net/http", fromEcho, fromNetHTTP)
			}
		})
	}
}

func TestOptionalAnonymous(t *testing.T) {
	g, _ := newGuard(t)
	e := echo.New()
	e.GET("/", func(c *echo.Context) error {
		if cl, ok := echo5guard.Claims(c); ok || cl != nil {
			t.Errorf("Claims = %v, %v for an anonymous request", cl, ok)
		}
		return c.NoContent(http.StatusNoContent)
	}, g.AuthenticateOptional())
	if w := serve(e, ""); w.Code != http.StatusNoContent {
		t.Fatalf("status %d", w.Code)
	}
}

// A custom HTTPErrorHandler gets an error that tells its status with
// echo.StatusCode (Echo v5's HTTPStatusCoder) and unwraps to the core's
// *Error; the challenge is already on the response.
func TestCustomErrorHandler(t *testing.T) {
	g, iss := newGuard(t)
	var got error
	e := echo.New()
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		got = err
		_ = c.NoContent(http.StatusTeapot)
	}
	e.GET("/", func(c *echo.Context) error { return nil }, g.Authenticate())
	w := serve(e, iss.Token(middlewaretest.Spec{Lifetime: -time.Hour}))

	if code := echo.StatusCode(got); code != http.StatusUnauthorized {
		t.Errorf("echo.StatusCode = %d, want 401", code)
	}
	if !errors.Is(got, middleware.ErrInvalidToken) || !errors.Is(got, middleware.ErrTokenExpired) {
		t.Errorf("error %v does not match ErrInvalidToken and ErrTokenExpired", got)
	}
	var ge *echo5guard.Error
	if !errors.As(got, &ge) || ge.Code != middleware.CodeInvalidToken {
		t.Errorf("errors.As(*echo5guard.Error) = %v", ge)
	}
	m, ok := got.(json.Marshaler)
	if !ok {
		t.Fatalf("error %T is not a json.Marshaler", got)
	}
	var body middleware.ErrorBody
	if b, err := m.MarshalJSON(); err != nil || json.Unmarshal(b, &body) != nil || body.Error != middleware.CodeInvalidToken {
		t.Errorf("MarshalJSON = %s, %v", b, err)
	}
	if w.Code != http.StatusTeapot || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("status %d, WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

// The default error handler with exposeError (Echo v5's debug answer)
// does not add the error text to the body: the body is the core's, the
// same with and without it.
func TestExposeErrorBody(t *testing.T) {
	g, _ := newGuard(t)
	for _, expose := range []bool{false, true} {
		e := echo.New()
		e.HTTPErrorHandler = echo.DefaultHTTPErrorHandler(expose)
		e.GET("/", func(c *echo.Context) error { return nil }, g.Authenticate())
		w := serve(e, "not-a-jwt")
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		_, hasMessage := body["message"]
		_, hasError := body["error_description"]
		if hasMessage || !hasError || len(body) != 2 || w.Code != http.StatusUnauthorized || body["error"] != middleware.CodeInvalidToken {
			t.Errorf("exposeError %v: status %d, body %s", expose, w.Code, w.Body)
		}
	}
}

func TestRequireScopePanicsAtRegistration(t *testing.T) {
	g, _ := newGuard(t)
	for _, alts := range [][]string{nil, {""}, {"read:users", `bad"scope`}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RequireScope(%q) did not panic", alts)
				}
			}()
			g.RequireScope(alts...)
		}()
	}
}

func TestNew(t *testing.T) {
	if _, err := echo5guard.New(t.Context(), echo5guard.Config{}); err == nil {
		t.Error("New with an empty Config: no error")
	}
	g, _ := newGuard(t)
	if echo5guard.Wrap(g.Validator()).Validator() != g.Validator() {
		t.Error("Wrap(v).Validator() != v")
	}
	defer func() {
		if recover() == nil {
			t.Error("Wrap(nil) did not panic")
		}
	}()
	echo5guard.Wrap(nil)
}

// TestFormTokenBodyLimit: with AllowFormToken, a body that overruns Echo's
// BodyLimit while the guard looks for a form token is answered 413 by Echo,
// as it would be without the guard, not 400.
func TestFormTokenBodyLimit(t *testing.T) {
	g, iss := newGuardConfig(t, echo5guard.Config{AllowFormToken: true})
	e := echo.New()
	e.Use(echomw.BodyLimit(1 << 10))
	e.POST("/", func(c *echo.Context) error { return c.NoContent(http.StatusOK) }, g.Authenticate())
	token := iss.Token(middlewaretest.Spec{})
	for _, tc := range []struct {
		name   string
		header bool
		body   string
		want   int
	}{
		{"over the limit", false, "access_token=" + token + "&pad=" + strings.Repeat("a", 4<<10), http.StatusRequestEntityTooLarge},
		{"within the limit", false, "access_token=" + token, http.StatusOK},
		// The header token decides; the handler does not read the body.
		{"over the limit, header token", true, "pad=" + strings.Repeat("a", 4<<10), http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.ContentLength = -1 // as for a chunked body: BodyLimit cannot refuse it up front
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.header {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("status %d, want %d; body %s", w.Code, tc.want, w.Body)
			}
		})
	}
}

// TestReady: the guard's own Ready and WaitReady, as the README tells
// users to call them: an error matching ErrKeysUnavailable while no issuer
// can be reached, nil once the keys are held.
func TestReady(t *testing.T) {
	down := middlewaretest.NewIssuer()
	down.Close()
	g, err := echo5guard.New(t.Context(), echo5guard.Config{Issuer: down.URL, Audiences: []string{conformance.Audience}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Ready(); !errors.Is(err, middleware.ErrKeysUnavailable) {
		t.Errorf("Ready with the issuer down: %v, want ErrKeysUnavailable", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := g.WaitReady(ctx); !errors.Is(err, middleware.ErrKeysUnavailable) {
		t.Errorf("WaitReady with the issuer down and ctx done: %v, want ErrKeysUnavailable", err)
	}
	up, _ := newGuard(t) // waits with WaitReady
	if err := up.Ready(); err != nil {
		t.Errorf("Ready after WaitReady: %v", err)
	}
}
