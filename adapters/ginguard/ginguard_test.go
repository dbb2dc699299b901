package ginguard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	"github.com/bearerguard/bearerguard/adapters/ginguard"
	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/internal/conformance"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestMain puts Gin in test mode, which keeps route logs out of the
// examples' output, and checks that no goroutine outlives the tests.
func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// newGuard returns a ready Guard trusting a new test issuer.
func newGuard(t *testing.T) (*ginguard.Guard, *middlewaretest.Issuer) {
	t.Helper()
	return newGuardConfig(t, ginguard.Config{})
}

// newGuardConfig returns a ready Guard with cfg, trusting a new test
// issuer and accepting conformance.Audience.
func newGuardConfig(t *testing.T, cfg ginguard.Config) (*ginguard.Guard, *middlewaretest.Issuer) {
	t.Helper()
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	cfg.Issuer, cfg.Audiences = iss.URL, []string{conformance.Audience}
	g, err := ginguard.New(t.Context(), cfg)
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
// a net/http handler mounted with gin.WrapH all see the same value.
func TestClaimsInRequestContext(t *testing.T) {
	g, iss := newGuard(t)
	for _, tc := range []struct {
		name string
		mw   gin.HandlerFunc
	}{
		{"Authenticate", g.Authenticate()},
		{"AuthenticateOptional", g.AuthenticateOptional()},
		{"RequireScope", g.RequireScope("read:users")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fromGin, fromNetHTTP *claims.Claims
			shared := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fromNetHTTP, _ = claims.FromContext(r.Context())
			})
			r := gin.New()
			r.GET("/", tc.mw, func(c *gin.Context) {
				var ok bool
				if fromGin, ok = ginguard.Claims(c); !ok {
					t.Error("Claims: no claims")
				}
				if c2, _ := claims.FromContext(c.Request.Context()); c2 != fromGin {
					t.Error("claims.FromContext differs from Claims")
				}
				if _, exists := c.Keys["user"]; exists || len(c.Keys) > 0 {
					t.Errorf("gin.Context keys set: %v", c.Keys)
				}
			}, gin.WrapH(shared))
			w := serve(r, iss.Token(middlewaretest.Spec{Subject: "alice", Scopes: []string{"read:users"}}))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if fromGin == nil || fromGin.Subject != "alice" || fromNetHTTP != fromGin {
				t.Errorf("claims %+v via Gin, %+v via net/http", fromGin, fromNetHTTP)
			}
		})
	}
}

func TestOptionalAnonymous(t *testing.T) {
	g, _ := newGuard(t)
	r := gin.New()
	r.GET("/", g.AuthenticateOptional(), func(c *gin.Context) {
		if cl, ok := ginguard.Claims(c); ok || cl != nil {
			t.Errorf("Claims = %v, %v for an anonymous request", cl, ok)
		}
		c.Status(http.StatusNoContent)
	})
	if w := serve(r, ""); w.Code != http.StatusNoContent {
		t.Fatalf("status %d", w.Code)
	}
}

// A refusal aborts the chain and records the core's *Error in c.Errors,
// where logging middleware finds it.
func TestErrorsRecorded(t *testing.T) {
	g, iss := newGuard(t)
	var errs []*gin.Error
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		errs = c.Errors
	})
	r.GET("/", g.Authenticate(), func(c *gin.Context) {
		t.Error("handler ran after a refusal")
	})
	w := serve(r, iss.Token(middlewaretest.Spec{Lifetime: -time.Hour}))
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("status %d, WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if len(errs) != 1 {
		t.Fatalf("c.Errors = %v, want one error", errs)
	}
	var ge *ginguard.Error
	if !errors.As(errs[0].Err, &ge) || ge.Code != middleware.CodeInvalidToken {
		t.Errorf("c.Errors[0].Err = %T %v, want *middleware.Error", errs[0].Err, errs[0].Err)
	}
	if !errors.Is(errs[0], middleware.ErrInvalidToken) || !errors.Is(errs[0], middleware.ErrTokenExpired) {
		t.Errorf("c.Errors[0] = %v does not match ErrInvalidToken and ErrTokenExpired", errs[0])
	}
	if !errs[0].IsType(gin.ErrorTypePrivate) {
		t.Errorf("c.Errors[0].Type = %v, want private", errs[0].Type)
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
	if _, err := ginguard.New(t.Context(), ginguard.Config{}); err == nil {
		t.Error("New with an empty Config: no error")
	}
	g, _ := newGuard(t)
	if ginguard.Wrap(g.Validator()).Validator() != g.Validator() {
		t.Error("Wrap(v).Validator() != v")
	}
	defer func() {
		if recover() == nil {
			t.Error("Wrap(nil) did not panic")
		}
	}()
	ginguard.Wrap(nil)
}

// TestFormTokenAlreadyParsed: with AllowFormToken, a form token is found
// when an earlier handler already parsed the form with c.PostForm, which
// consumed the body.
func TestFormTokenAlreadyParsed(t *testing.T) {
	g, iss := newGuardConfig(t, ginguard.Config{AllowFormToken: true})
	r := gin.New()
	parsed := func(c *gin.Context) { _ = c.PostForm("name") }
	r.POST("/", parsed, g.Authenticate(), func(c *gin.Context) {
		if _, ok := ginguard.Claims(c); !ok {
			t.Error("no claims")
		}
		c.String(http.StatusOK, c.PostForm("name"))
	})
	body := "name=x&access_token=" + iss.Token(middlewaretest.Spec{})
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusOK || w.Body.String() != "x" {
		t.Errorf("status %d, body %q; want 200 and the form's name", w.Code, w.Body)
	}
}

// TestReady: the guard's own Ready and WaitReady, as the README tells
// users to call them: an error matching ErrKeysUnavailable while no issuer
// can be reached, nil once the keys are held.
func TestReady(t *testing.T) {
	down := middlewaretest.NewIssuer()
	down.Close()
	g, err := ginguard.New(t.Context(), ginguard.Config{Issuer: down.URL, Audiences: []string{conformance.Audience}})
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
