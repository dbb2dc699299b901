package middleware

// Key management: discovery, JWKS fetching and refresh, readiness. These
// tests are in the internal package so that they can look at the keys a
// validator holds.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

const ktAPI = "https://api.example.test"

// ktKit starts a test issuer closed when the test ends.
func ktKit(t testing.TB) *middlewaretest.Issuer {
	t.Helper()
	kit := middlewaretest.NewIssuer()
	t.Cleanup(kit.Close)
	return kit
}

// ktNew creates a validator for kit (unless cfg.Issuer is set), whose
// context is cancelled when the test ends, before the servers close.
func ktNew(t testing.TB, kit *middlewaretest.Issuer, cfg Config) *Validator {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = kit.URL
	}
	if cfg.Audiences == nil {
		cfg.Audiences = []string{ktAPI}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func ktReady(t testing.TB, kit *middlewaretest.Issuer, cfg Config) *Validator {
	t.Helper()
	v := ktNew(t, kit, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return v
}

// ktWant fails unless err matches all of want (or is nil if want is empty).
func ktWant(t testing.TB, err error, want ...error) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *Error matching %v", err, err, want)
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Fatalf("error %v does not match %v", err, w)
		}
	}
}

// ktValidate validates token with a generous deadline.
func ktValidate(v *Validator, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := v.ValidateToken(ctx, token)
	return err
}

// ktIssuerToken mints a generic access token of kit that names issuer.
func ktIssuerToken(kit *middlewaretest.Issuer, issuer string) string {
	return kit.Token(middlewaretest.Spec{Claims: map[string]any{"iss": issuer}})
}

// ktServer is an httptest server with a handler per path that records the
// paths it was asked for.
type ktServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func ktNewServer(t testing.TB, routes func(base string) map[string]http.HandlerFunc) *ktServer {
	t.Helper()
	s := &ktServer{}
	var handlers map[string]http.HandlerFunc
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		if h, ok := handlers[r.URL.Path]; ok {
			h(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	handlers = routes(s.URL)
	t.Cleanup(s.Close)
	return s
}

func (s *ktServer) requested() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

func ktJSON(v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

// ktRouteTo returns an HTTP client that connects to kit whenever it is
// asked for addr, and elsewhere as usual, so that tests can use host names
// that are not loopback without a network.
func ktRouteTo(kit *middlewaretest.Issuer, addr string) *http.Client {
	kitAddr := strings.TrimPrefix(kit.URL, "http://")
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if a == addr {
				a = kitAddr
			}
			return d.DialContext(ctx, network, a)
		},
	}}
}

// ktProxy serves kit's current JWKS.
func ktProxy(kit *middlewaretest.Issuer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		resp, err := kit.Client().Get(kit.JWKSURL())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}
}

func TestDiscovery(t *testing.T) {
	kit := ktKit(t)
	const path = "/tenant/a"
	meta := func(issuer, jwks string) map[string]any {
		return map[string]any{"issuer": issuer, "jwks_uri": jwks}
	}
	big := strings.Repeat("a", MaxDiscoverySize)
	for _, tc := range []struct {
		name   string
		issuer func(base string) string
		routes func(base string) map[string]http.HandlerFunc
		cfg    Config // Issuer and KeyWait are set by the test
		ready  bool
		paths  []string // requested, in order (checked when ready)
	}{
		{
			name:   "OpenID Connect for an issuer with a path",
			issuer: func(base string) string { return base + path },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					path + "/.well-known/openid-configuration": ktJSON(meta(base+path, kit.JWKSURL())),
				}
			},
			ready: true,
			paths: []string{path + "/.well-known/openid-configuration"},
		},
		{
			name:   "OpenID Connect for an issuer with a trailing slash",
			issuer: func(base string) string { return base + path + "/" },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					path + "/.well-known/openid-configuration": ktJSON(meta(base+path+"/", kit.JWKSURL())),
				}
			},
			ready: true,
			paths: []string{path + "/.well-known/openid-configuration"},
		},
		{
			name:   "RFC 8414 with path insertion",
			issuer: func(base string) string { return base + path },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/oauth-authorization-server" + path: ktJSON(meta(base+path, kit.JWKSURL())),
				}
			},
			ready: true,
			paths: []string{path + "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server" + path},
		},
		{
			name:   "RFC 8414 after 405",
			issuer: func(base string) string { return base + path },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					path + "/.well-known/openid-configuration": func(w http.ResponseWriter, r *http.Request) {
						http.Error(w, "no", http.StatusMethodNotAllowed)
					},
					"/.well-known/oauth-authorization-server" + path: ktJSON(meta(base+path, kit.JWKSURL())),
				}
			},
			ready: true,
			paths: []string{path + "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server" + path},
		},
		{
			name:   "RFC 8414 for an issuer without a path",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/oauth-authorization-server": ktJSON(meta(base, kit.JWKSURL())),
				}
			},
			ready: true,
			paths: []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"},
		},
		{
			name:   "issuer mismatch: trailing slash",
			issuer: func(base string) string { return base + path },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					path + "/.well-known/openid-configuration":       ktJSON(meta(base+path+"/", kit.JWKSURL())),
					"/.well-known/oauth-authorization-server" + path: ktJSON(meta(base+path+"/", kit.JWKSURL())),
				}
			},
		},
		{
			name:   "issuer mismatch in RFC 8414 metadata",
			issuer: func(base string) string { return base + path },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/oauth-authorization-server" + path: ktJSON(meta(base, kit.JWKSURL())),
				}
			},
		},
		{
			name:   "issuer mismatch: another issuer",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": ktJSON(meta(kit.URL, kit.JWKSURL())),
				}
			},
		},
		{
			name:   "no issuer in metadata",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": ktJSON(map[string]any{"jwks_uri": kit.JWKSURL()}),
				}
			},
		},
		{
			name:   "no jwks_uri",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": ktJSON(map[string]any{"issuer": base}),
				}
			},
		},
		{
			name:   "http jwks_uri on another host",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": ktJSON(meta(base, "http://keys.example.test/jwks")),
				}
			},
		},
		{
			// The client reaches the kit for keys.example.test: only the
			// jwks_uri check keeps the keys from being fetched.
			name:   "http jwks_uri on another host, reachable",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": ktJSON(meta(base, "http://keys.example.test/jwks")),
				}
			},
			cfg: Config{HTTPClient: ktRouteTo(kit, "keys.example.test:80")},
		},
		{
			name:   "http jwks_uri on another host with InsecureAllowHTTPIssuer",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": ktJSON(meta(base, "http://keys.example.test/jwks")),
				}
			},
			cfg:   Config{HTTPClient: ktRouteTo(kit, "keys.example.test:80"), InsecureAllowHTTPIssuer: true},
			ready: true,
			paths: []string{"/.well-known/openid-configuration"},
		},
		{
			name:   "metadata not found",
			issuer: func(base string) string { return base + path },
			routes: func(base string) map[string]http.HandlerFunc { return nil },
		},
		{
			name:   "metadata server error",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": func(w http.ResponseWriter, r *http.Request) {
						http.Error(w, "down", http.StatusInternalServerError)
					},
					"/.well-known/oauth-authorization-server": ktJSON(meta(base, kit.JWKSURL())),
				}
			},
		},
		{
			name:   "metadata not JSON",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": func(w http.ResponseWriter, r *http.Request) {
						_, _ = w.Write([]byte("<html>"))
					},
				}
			},
		},
		{
			name:   "metadata too large",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": ktJSON(map[string]any{"issuer": base, "jwks_uri": kit.JWKSURL(), "padding": big}),
				}
			},
		},
		{
			name:   "JWKS too large",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": ktJSON(meta(base, base+"/jwks")),
					"/jwks":                             ktJSON(map[string]any{"keys": []any{}, "padding": strings.Repeat("k", MaxJWKSSize)}),
				}
			},
		},
		{
			name:   "JWKS redirect to another origin",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": ktJSON(meta(base, base+"/jwks")),
					"/jwks": func(w http.ResponseWriter, r *http.Request) {
						http.Redirect(w, r, kit.JWKSURL(), http.StatusFound)
					},
				}
			},
		},
		{
			name:   "JWKS redirect within the origin",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": ktJSON(meta(base, base+"/jwks")),
					"/jwks": func(w http.ResponseWriter, r *http.Request) {
						http.Redirect(w, r, "/keys", http.StatusFound)
					},
					"/keys": ktProxy(kit),
				}
			},
			ready: true,
			paths: []string{"/.well-known/openid-configuration", "/jwks", "/keys"},
		},
		{
			name:   "metadata redirect to another origin",
			issuer: func(base string) string { return base },
			routes: func(base string) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"/.well-known/openid-configuration": func(w http.ResponseWriter, r *http.Request) {
						http.Redirect(w, r, kit.URL+"/.well-known/openid-configuration", http.StatusFound)
					},
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ktNewServer(t, tc.routes)
			issuer := tc.issuer(srv.URL)
			cfg := tc.cfg
			cfg.Issuer, cfg.KeyWait = issuer, time.Minute
			v := ktNew(t, kit, cfg)
			token := ktIssuerToken(kit, issuer)
			// The first request waits for the first fetch to end.
			err := ktValidate(v, token)
			if !tc.ready {
				ktWant(t, err, ErrKeysUnavailable)
				if err := v.Ready(); !errors.Is(err, ErrKeysUnavailable) {
					t.Fatalf("Ready() = %v, want ErrKeysUnavailable", err)
				}
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				v.Authenticate(http.NotFoundHandler()).ServeHTTP(w, r)
				if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
					t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
				}
				return
			}
			ktWant(t, err)
			if err := v.Ready(); err != nil {
				t.Fatalf("Ready() = %v", err)
			}
			if got := srv.requested(); strings.Join(got, " ") != strings.Join(tc.paths, " ") {
				t.Errorf("requested %q, want %q", got, tc.paths)
			}
		})
	}
}

// TestDiscoveryKit: the kit's own OpenID Connect discovery, and an explicit
// JWKS URL that skips discovery.
func TestDiscoveryKit(t *testing.T) {
	t.Run("discovered", func(t *testing.T) {
		kit := ktKit(t)
		v := ktReady(t, kit, Config{})
		ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{})))
		if kit.DiscoveryRequests() != 1 || kit.JWKSRequests() != 1 {
			t.Errorf("discovery %d, JWKS %d requests; want 1, 1", kit.DiscoveryRequests(), kit.JWKSRequests())
		}
	})
	t.Run("explicit JWKS URL", func(t *testing.T) {
		kit := ktKit(t)
		v := ktReady(t, kit, Config{JWKSURL: kit.JWKSURL()})
		ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{})))
		if n := kit.DiscoveryRequests(); n != 0 {
			t.Errorf("DiscoveryRequests() = %d, want 0", n)
		}
	})
	t.Run("explicit JWKS URL of an extra issuer", func(t *testing.T) {
		a, b := ktKit(t), ktKit(t)
		v := ktReady(t, a, Config{ExtraIssuers: []Issuer{{Issuer: b.URL, JWKSURL: b.JWKSURL()}}})
		ktWant(t, ktValidate(v, b.Token(middlewaretest.Spec{})))
		// Ready may come from B alone: A's token waits for A's keys.
		ktWant(t, ktValidate(v, a.Token(middlewaretest.Spec{})))
		if a.DiscoveryRequests() != 1 || b.DiscoveryRequests() != 0 {
			t.Errorf("discovery requests: A %d, B %d; want 1, 0", a.DiscoveryRequests(), b.DiscoveryRequests())
		}
	})
}

// TestPeriodicRefresh: the JWKS is fetched again every RefreshInterval;
// keys that left it are no longer used, new ones are, without any request
// asking for a refresh.
func TestPeriodicRefresh(t *testing.T) {
	kit := ktKit(t)
	served := make(chan []byte, 1024)
	srv := ktNewServer(t, func(string) map[string]http.HandlerFunc {
		return map[string]http.HandlerFunc{"/jwks": func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			ktProxy(kit)(rec, r)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(rec.Body.Bytes())
			select {
			case served <- rec.Body.Bytes():
			default:
			}
		}}
	})
	v := ktReady(t, kit, Config{
		JWKSURL:            srv.URL + "/jwks",
		RefreshInterval:    time.Millisecond,
		MinRefreshInterval: time.Millisecond, // MinRefreshInterval also spaces periodic fetches
		TokenCacheSize:     -1,
	})
	// waitFor returns once a JWKS for which has() is true was served and
	// the validator has stored it: it fetches again only after a fetch
	// has ended.
	waitFor := func(has func(body string) bool) {
		t.Helper()
		timeout := time.After(time.Minute)
		for {
			select {
			case b := <-served:
				if !has(string(b)) {
					continue
				}
				select {
				case <-served:
					return
				case <-timeout:
					t.Fatal("no refresh")
				}
			case <-timeout:
				t.Fatal("no refresh")
			}
		}
	}

	old := kit.Token(middlewaretest.Spec{Alg: "ES256"})
	ktWant(t, ktValidate(v, old))

	// Removal.
	kid := kit.KeyID("ES256")
	kit.RemoveKey(kid)
	waitFor(func(b string) bool { return !strings.Contains(b, kid) })
	ktWant(t, ktValidate(v, old), ErrInvalidToken, ErrUnknownKey)

	// Addition.
	newKid := kit.RotateKey("ES256")
	waitFor(func(b string) bool { return strings.Contains(b, newKid) })
	ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{Alg: "ES256"})))
}

// TestUnknownKidRefresh: a token with an unknown kid causes one JWKS fetch,
// so a rotated key is accepted the first time it is seen, with the default
// MinRefreshInterval, right after the start-up fetch.
func TestUnknownKidRefresh(t *testing.T) {
	t.Run("rotated key", func(t *testing.T) {
		kit := ktKit(t)
		v := ktReady(t, kit, Config{TokenCacheSize: -1})
		n := kit.JWKSRequests()
		kit.RotateKey("RS256")
		ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{})))
		if got := kit.JWKSRequests(); got != n+1 {
			t.Fatalf("JWKSRequests() = %d after a new kid, want %d", got, n+1)
		}
		// Known now: no further fetch.
		ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{Subject: "again"})))
		if got := kit.JWKSRequests(); got != n+1 {
			t.Fatalf("JWKSRequests() = %d for a known kid, want %d", got, n+1)
		}
	})
	t.Run("kid that stays unknown", func(t *testing.T) {
		kit := ktKit(t)
		v := ktReady(t, kit, Config{MinRefreshInterval: time.Nanosecond, TokenCacheSize: -1})
		for i := range 3 {
			n := kit.JWKSRequests()
			ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "nope-" + strconv.Itoa(i)}})), ErrInvalidToken, ErrUnknownKey)
			if got := kit.JWKSRequests(); got != n+1 {
				t.Fatalf("attempt %d: JWKSRequests() = %d, want %d: one fetch per unknown kid", i, got, n+1)
			}
		}
		// A kid that a fetch found absent is refused at once while the
		// keys stay the same: no fetch, no wait.
		n := kit.JWKSRequests()
		ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "nope-0"}})), ErrInvalidToken, ErrUnknownKey)
		if got := kit.JWKSRequests(); got != n {
			t.Fatalf("JWKSRequests() = %d for a kid known to be absent, want %d", got, n)
		}
	})
}

// TestUnknownKidRateLimit: fetches of an issuer start at least
// MinRefreshInterval apart, whatever asks for them. A kid that cannot be
// fetched for within KeyWait is answered 503 with Retry-After at once,
// never 401: it may be a key just published, and a client that gets 401
// throws its token away.
func TestUnknownKidRateLimit(t *testing.T) {
	kit := ktKit(t)
	const keyWait = time.Minute
	v := ktReady(t, kit, Config{MinRefreshInterval: time.Hour, KeyWait: keyWait, TokenCacheSize: -1})
	if got := kit.JWKSRequests(); got != 1 {
		t.Fatalf("JWKSRequests() = %d after start, want 1", got)
	}

	// The start-up fetch does not spend the budget: a key published right
	// after it is fetched for on first sight.
	kit.RotateKey("RS256")
	ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{})))
	if got := kit.JWKSRequests(); got != 2 {
		t.Fatalf("JWKSRequests() = %d after the first unknown kid, want 2", got)
	}

	// A second rotated key, and a flood of forged kids, within the
	// interval.
	kit.RotateKey("RS256")
	second := kit.Token(middlewaretest.Spec{})
	for i := range 50 {
		tok := second
		if i > 0 {
			tok = kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "forged-" + strconv.Itoa(i)}})
		}
		start := time.Now()
		err := ktValidate(v, tok)
		ktWant(t, err, ErrKeysUnavailable)
		var e *Error
		if !errors.As(err, &e) || e.RetryAfter < time.Hour-time.Minute {
			t.Fatalf("Retry-After %v, want about the hour until the next fetch", e.RetryAfter)
		}
		if d := time.Since(start); d >= keyWait/2 {
			t.Fatalf("a rate-limited unknown kid waited %v", d)
		}
	}
	if got := kit.JWKSRequests(); got != 2 {
		t.Fatalf("JWKSRequests() = %d after more unknown kids, want 2", got)
	}
}

// TestConcurrentFirstRequests: requests that arrive before the keys are
// obtained share the one fetch.
func TestConcurrentFirstRequests(t *testing.T) {
	kit := ktKit(t)
	release := make(chan struct{})
	var hits atomic.Int64
	srv := ktNewServer(t, func(string) map[string]http.HandlerFunc {
		return map[string]http.HandlerFunc{"/jwks": func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			ktProxy(kit)(w, r)
		}}
	})
	v := ktNew(t, kit, Config{JWKSURL: srv.URL + "/jwks", KeyWait: time.Minute, TokenCacheSize: -1})

	const n = 100
	var started, done sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		started.Add(1)
		done.Add(1)
		tok := kit.Token(middlewaretest.Spec{Subject: "user-" + strconv.Itoa(i), Alg: []string{"RS256", "ES256", "EdDSA", "PS256"}[i%4]})
		go func() {
			defer done.Done()
			started.Done()
			errs <- ktValidate(v, tok)
		}()
	}
	started.Wait()
	close(release)
	done.Wait()
	close(errs)
	for err := range errs {
		ktWant(t, err)
	}
	if got := hits.Load(); got != 1 {
		t.Errorf("%d JWKS fetches for %d concurrent first requests, want 1", got, n)
	}
}

// TestKeysNeverObtained: 503 with Retry-After until the keys are obtained,
// then recovery without a new validator.
func TestKeysNeverObtained(t *testing.T) {
	kit := ktKit(t)
	kit.SetStatus(http.StatusInternalServerError)
	v := ktNew(t, kit, Config{KeyWait: time.Minute})
	tok := kit.Token(middlewaretest.Spec{})
	h := v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	serve := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(w, r)
		return w
	}
	for range 2 {
		w := serve()
		if w.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", w.Code)
		}
		ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || ra < 1 {
			t.Fatalf("Retry-After %q, want a positive number of seconds", w.Header().Get("Retry-After"))
		}
		if c := w.Header().Get("WWW-Authenticate"); c != "" {
			t.Errorf("WWW-Authenticate %q on a 503", c)
		}
	}
	err := ktValidate(v, tok)
	ktWant(t, err, ErrKeysUnavailable)
	var e *Error
	errors.As(err, &e)
	if e.Status != http.StatusServiceUnavailable || e.RetryAfter < time.Second {
		t.Errorf("Status %d RetryAfter %v", e.Status, e.RetryAfter)
	}
	if errors.Is(err, ErrInvalidToken) {
		t.Error("keys unavailable reported as an invalid token")
	}
	if err := v.Ready(); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("Ready() = %v", err)
	}

	kit.SetStatus(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady after recovery: %v", err)
	}
	if w := serve(); w.Code != http.StatusOK {
		t.Fatalf("status %d after recovery, want 200", w.Code)
	}
}

// TestKeysSurviveOutage: once obtained, keys keep serving when the issuer
// fails.
func TestKeysSurviveOutage(t *testing.T) {
	for _, fault := range []struct {
		name string
		set  func(*middlewaretest.Issuer)
	}{
		{"status 500", func(k *middlewaretest.Issuer) { k.SetStatus(http.StatusInternalServerError) }},
		{"no keys member", func(k *middlewaretest.Issuer) { k.SetJWKS([]byte(`{}`)) }},
		{"error document", func(k *middlewaretest.Issuer) { k.SetJWKS([]byte(`{"error":"rate_limited"}`)) }},
		{"keys null", func(k *middlewaretest.Issuer) { k.SetJWKS([]byte(`{"keys":null}`)) }},
		{"JSON null", func(k *middlewaretest.Issuer) { k.SetJWKS([]byte(`null`)) }},
		{"not JSON", func(k *middlewaretest.Issuer) { k.SetJWKS([]byte(`<html>`)) }},
		{"empty body", func(k *middlewaretest.Issuer) { k.SetJWKS([]byte{}) }},
	} {
		t.Run(fault.name, func(t *testing.T) {
			kit := ktKit(t)
			v := ktReady(t, kit, Config{MinRefreshInterval: time.Nanosecond, TokenCacheSize: -1})
			tok := kit.Token(middlewaretest.Spec{})
			ktWant(t, ktValidate(v, tok))
			fault.set(kit)
			n := kit.JWKSRequests()
			// An unknown kid makes the validator fetch, and fail: the
			// kid may well be published, so the answer is 503, not 401.
			ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "nope"}})), ErrKeysUnavailable)
			if kit.JWKSRequests() <= n {
				t.Fatal("no fetch during the outage")
			}
			ktWant(t, ktValidate(v, tok))
			ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{Alg: "EdDSA"})))
			if err := v.Ready(); err != nil {
				t.Errorf("Ready() = %v during the outage", err)
			}
		})
	}
}

func TestReady(t *testing.T) {
	kit := ktKit(t)
	slow := ktKit(t)
	slow.SetDelay(time.Hour)
	v := ktNew(t, kit, Config{ExtraIssuers: []Issuer{{Issuer: slow.URL}}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// One issuer never answers: it does not hold up the other.
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady() = %v with one issuer hanging and the other up", err)
	}
	// Only hanging issuers: not ready, and WaitReady ends with ctx.
	x := ktNew(t, slow, Config{})
	if err := x.Ready(); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("Ready() = %v before any key was obtained", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := x.WaitReady(ctx); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("WaitReady() = %v with the only issuer hanging", err)
	}

	w := ktReady(t, kit, Config{})
	if err := w.Ready(); err != nil {
		t.Fatalf("Ready() = %v after WaitReady", err)
	}
	// WaitReady ends when the validator's context ends.
	vctx, vcancel := context.WithCancel(context.Background())
	u, err := New(vctx, Config{Issuer: slow.URL, Audiences: []string{ktAPI}})
	if err != nil {
		t.Fatal(err)
	}
	vcancel()
	if err := u.WaitReady(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("WaitReady() = %v after the validator's context ended", err)
	}
}

// TestUnusableKeys: symmetric keys, encryption keys and keys whose kid is
// not unique are never used.
func TestUnusableKeys(t *testing.T) {
	kit := ktKit(t)
	resp, err := kit.Client().Get(kit.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	byAlg := map[string]map[string]any{}
	for _, k := range set.Keys {
		byAlg[k["alg"].(string)] = k
	}
	clone := func(k map[string]any, changes map[string]any) map[string]any {
		m := map[string]any{}
		for n, v := range k {
			m[n] = v
		}
		for n, v := range changes {
			if v == nil {
				delete(m, n)
			} else {
				m[n] = v
			}
		}
		return m
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	keys := []map[string]any{
		byAlg["RS256"], byAlg["EdDSA"],
		{"kty": "oct", "kid": "hmac", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"},
		{"kty": "oct", "kid": "hmac-alg", "alg": "HS256", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"},
		clone(byAlg["RS256"], map[string]any{"kid": "enc", "use": "enc", "alg": nil}),
		clone(byAlg["RS256"], map[string]any{"kid": "dup"}),
		clone(byAlg["ES256"], map[string]any{"kid": "dup"}),
	}
	raw, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	kit.SetJWKS(raw)
	// Each unknown kid may cause a fetch at once, which finds it absent.
	v := ktReady(t, kit, Config{MinRefreshInterval: time.Nanosecond})
	claims := map[string]any{"iss": kit.URL, "sub": "u", "aud": ktAPI, "exp": time.Now().Add(time.Hour).Unix()}
	for _, tc := range []struct {
		name  string
		token string
		want  []error
	}{
		{"published RSA key", kit.Token(middlewaretest.Spec{}), nil},
		{"HS256 with an oct key", kit.SignWith(secret, map[string]any{"alg": "HS256", "kid": "hmac"}, claims), []error{ErrInvalidToken, ErrUnsupportedAlgorithm}},
		{"HS256 with an oct key naming HS256", kit.SignWith(secret, map[string]any{"alg": "HS256", "kid": "hmac-alg"}, claims), []error{ErrInvalidToken, ErrUnsupportedAlgorithm}},
		{"RS256 naming an oct key", kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "hmac"}}), []error{ErrInvalidToken, ErrUnknownKey}},
		{"RS256 naming an encryption key", kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "enc"}}), []error{ErrInvalidToken, ErrUnknownKey}},
		// Keys may share a kid (RFC 7517 §4.5): the token's alg picks one.
		{"RS256 naming a shared kid", kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "dup"}}), nil},
		{"ES256 naming a shared kid", kit.Token(middlewaretest.Spec{Alg: "ES256", Header: map[string]any{"kid": "dup"}}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ktWant(t, ktValidate(v, tc.token), tc.want...)
		})
	}
	if n := len(v.order[0].set.Load().keys); n != 4 {
		t.Errorf("%d keys held, want the 4 usable ones", n)
	}
}

// TestKeyWait: no request waits longer than KeyWait, or its own context,
// for a fetch. The JWKS server holds every request until the client gives
// up; the fetch timeout is far longer than the waits tested, so a request
// that returns while the server still holds the fetch did not wait for it.
func TestKeyWait(t *testing.T) {
	// hold returns a JWKS server that serves kit's keys until hang is
	// called, then holds requests until the client gives up, which closes
	// gaveUp.
	hold := func(t *testing.T, kit *middlewaretest.Issuer) (url string, hang func(), gaveUp <-chan struct{}) {
		var hanging atomic.Bool
		var once sync.Once
		done := make(chan struct{})
		srv := ktNewServer(t, func(string) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"/jwks": func(w http.ResponseWriter, r *http.Request) {
				if !hanging.Load() {
					ktProxy(kit)(w, r)
					return
				}
				<-r.Context().Done()
				once.Do(func() { close(done) })
			}}
		})
		return srv.URL + "/jwks", func() { hanging.Store(true) }, done
	}
	stillHeld := func(t *testing.T, gaveUp <-chan struct{}) {
		t.Helper()
		select {
		case <-gaveUp:
			t.Fatal("the request returned only after the fetch was given up")
		default:
		}
	}

	t.Run("first fetch hangs", func(t *testing.T) {
		kit := ktKit(t)
		url, hang, gaveUp := hold(t, kit)
		hang()
		v := ktNew(t, kit, Config{JWKSURL: url, KeyWait: 20 * time.Millisecond})
		ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{})), ErrKeysUnavailable)
		ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": nil}})), ErrKeysUnavailable)
		stillHeld(t, gaveUp)
	})
	t.Run("request context ends first", func(t *testing.T) {
		kit := ktKit(t)
		url, hang, gaveUp := hold(t, kit)
		hang()
		v := ktNew(t, kit, Config{JWKSURL: url, KeyWait: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := v.ValidateToken(ctx, kit.Token(middlewaretest.Spec{}))
		ktWant(t, err, ErrKeysUnavailable)
		stillHeld(t, gaveUp)
	})
	t.Run("unknown kid fetch hangs", func(t *testing.T) {
		kit := ktKit(t)
		url, hang, gaveUp := hold(t, kit)
		v := ktReady(t, kit, Config{JWKSURL: url, KeyWait: 20 * time.Millisecond, MinRefreshInterval: time.Nanosecond, TokenCacheSize: -1})
		hang()
		ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "nope"}})), ErrKeysUnavailable)
		// Known keys are served meanwhile.
		ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{})))
		stillHeld(t, gaveUp)
	})
}

// TestEmptyKeySetKeepsKeys: a JWKS with no usable key (empty, or only
// symmetric keys) is treated as a failed fetch: the keys held keep serving.
func TestEmptyKeySetKeepsKeys(t *testing.T) {
	for _, body := range []string{`{"keys":[]}`, `{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}`} {
		t.Run(body, func(t *testing.T) {
			kit := ktKit(t)
			v := ktReady(t, kit, Config{RefreshInterval: 20 * time.Millisecond, MinRefreshInterval: 20 * time.Millisecond, TokenCacheSize: -1})
			tok := kit.Token(middlewaretest.Spec{})
			ktWant(t, ktValidate(v, tok))
			kit.SetJWKS([]byte(body))
			n := kit.JWKSRequests()
			deadline := time.Now().Add(10 * time.Second)
			for kit.JWKSRequests() < n+2 {
				if time.Now().After(deadline) {
					t.Fatal("no periodic refresh within 10 s")
				}
				time.Sleep(5 * time.Millisecond)
			}
			ktWant(t, ktValidate(v, tok))
		})
	}
}

// TestNoWaitOnceStopped: once the validator's context is done no fetch will
// happen, so a request that needs keys is answered at once rather than
// after KeyWait.
func TestNoWaitOnceStopped(t *testing.T) {
	kit := ktKit(t)
	kit.SetStatus(500) // never ready
	ctx, cancel := context.WithCancel(context.Background())
	v, err := New(ctx, Config{Issuer: kit.URL, Audiences: []string{ktAPI}, KeyWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-v.stopped
	done := make(chan error, 1)
	go func() { done <- ktValidate(v, kit.Token(middlewaretest.Spec{})) }()
	select {
	case err := <-done:
		ktWant(t, err, ErrKeysUnavailable)
	case <-time.After(30 * time.Second):
		t.Fatal("a request waited for keys after the validator stopped")
	}
}
