package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// hgNeverReady asserts that h has no keys after its first fetch attempt:
// a request waits for the attempt in flight (KeyWait is long) and gets 503.
func hgNeverReady(t *testing.T, h *hgHarness, iss string) {
	t.Helper()
	h.refuse(t, hgTokenFor(iss), middleware.ErrKeysUnavailable)
	if err := h.v.Ready(); !errors.Is(err, middleware.ErrKeysUnavailable) {
		t.Errorf("Ready() = %v, want ErrKeysUnavailable", err)
	}
}

// hgRealJWKS returns the JWK Set kit serves.
func hgRealJWKS(t *testing.T, kit *middlewaretest.Issuer) []byte {
	t.Helper()
	resp, err := kit.Client().Get(kit.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hgPadJWKS returns set with a "pad" member making it exactly size bytes.
func hgPadJWKS(t *testing.T, set []byte, size int) []byte {
	t.Helper()
	prefix := string(set[:len(set)-1]) + `,"pad":"`
	n := size - len(prefix) - 2
	if n < 0 {
		t.Fatal("set too large to pad")
	}
	out := []byte(prefix + strings.Repeat("p", n) + `"}`)
	if len(out) != size || (size <= 1<<20 && !json.Valid(out)) {
		t.Fatalf("padding failed: %d bytes", len(out))
	}
	return out
}

// TestHardeningIssuerBadResponses: a JWKS or discovery endpoint that fails
// or answers garbage never yields keys: requests get 503 with Retry-After
// (RFC 9110 §10.2.3), never 401 and never a 5xx other than 503.
func TestHardeningIssuerBadResponses(t *testing.T) {
	t.Parallel()
	type fault struct {
		name      string
		discovery bool // through discovery rather than an explicit JWKS URL
		apply     func(t *testing.T, kit *middlewaretest.Issuer)
	}
	status := func(code int) func(*testing.T, *middlewaretest.Issuer) {
		return func(_ *testing.T, kit *middlewaretest.Issuer) { kit.SetStatus(code) }
	}
	body := func(b string) func(*testing.T, *middlewaretest.Issuer) {
		return func(_ *testing.T, kit *middlewaretest.Issuer) { kit.SetJWKS([]byte(b)) }
	}
	faults := []fault{
		{"JWKS 500", false, status(500)},
		{"JWKS 404", false, status(404)},
		{"JWKS 503", false, status(503)},
		{"JWKS 429", false, status(429)},
		{"discovery 500", true, status(500)},
		{"discovery 404 (both well-known paths)", true, status(404)},
		{"JWKS invalid JSON", false, body(`{"keys":[`)},
		{"JWKS HTML", false, body(`<!doctype html><html><body>Sign in</body></html>`)},
		{"JWKS empty body", false, body(``)},
		{"JWKS array", false, body(`[]`)},
		{"JWKS keys not array", false, body(`{"keys":"none"}`)},
		{"JWKS object without keys", false, body(`{"error":"maintenance"}`)},
		{"JWKS null", false, body(`null`)},
		{"JWKS over MaxJWKSSize", false, func(t *testing.T, kit *middlewaretest.Issuer) {
			kit.SetJWKS(hgPadJWKS(t, hgRealJWKS(t, kit), middleware.MaxJWKSSize+1))
		}},
		{"JWKS 2 MiB", false, func(t *testing.T, kit *middlewaretest.Issuer) {
			kit.SetJWKS(hgPadJWKS(t, hgRealJWKS(t, kit), 2<<20))
		}},
	}
	// One issuer, the faults one after another, a fresh validator each.
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			defer kit.SetStatus(0)
			defer kit.SetJWKS(nil)
			f.apply(t, kit)
			jwks, disc := kit.JWKSRequests(), kit.DiscoveryRequests()
			cfg := middleware.Config{KeyWait: 10 * time.Second}
			if !f.discovery {
				cfg.JWKSURL = kit.JWKSURL()
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h := hgStartHarness(t, ctx, kit, cfg)
			hgNeverReady(t, h, kit.URL)
			if f.discovery && kit.JWKSRequests() != jwks {
				t.Errorf("JWKS fetched although discovery failed")
			}
			if f.name == "discovery 404 (both well-known paths)" && kit.DiscoveryRequests()-disc < 2 {
				t.Errorf("discovery requests %d, want both locations tried", kit.DiscoveryRequests()-disc)
			}
		})
	}
	// Control: a JWK Set of exactly MaxJWKSSize bytes is read.
	t.Run("JWKS of MaxJWKSSize", func(t *testing.T) {
		defer kit.SetJWKS(nil)
		kit.SetJWKS(hgPadJWKS(t, hgRealJWKS(t, kit), middleware.MaxJWKSSize))
		h := hgNewHarness(t, kit, middleware.Config{JWKSURL: kit.JWKSURL()})
		h.waitReady(t)
		h.accept(t, kit.Token(middlewaretest.Spec{}))
	})
}

// TestHardeningIssuerSlow: a slow issuer holds no request longer than
// Config.KeyWait or the request's context, and a fetch is cut off by the
// HTTP client's timeout; when the issuer recovers, so does the validator.
func TestHardeningIssuerSlow(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	for _, discovery := range []bool{false, true} {
		name := "JWKS"
		if discovery {
			name = "discovery"
		}
		t.Run(name, func(t *testing.T) {
			kit.SetDelay(time.Minute) // ends when the client gives up
			const keyWait = 300 * time.Millisecond
			cfg := middleware.Config{
				KeyWait:            keyWait,
				MinRefreshInterval: 50 * time.Millisecond, // retry soon after a failure
				HTTPClient:         &http.Client{Timeout: 500 * time.Millisecond},
			}
			if !discovery {
				cfg.JWKSURL = kit.JWKSURL()
			}
			h := hgNewHarness(t, kit, cfg)
			tok := kit.Token(middlewaretest.Spec{})

			start := time.Now()
			_, err := h.v.ValidateToken(context.Background(), tok)
			e := hgWant(t, err, middleware.ErrKeysUnavailable)
			if d := time.Since(start); d > keyWait+time.Second {
				t.Errorf("request waited %v, KeyWait is %v", d, keyWait)
			}
			if e.RetryAfter < time.Second {
				t.Errorf("RetryAfter %v, want at least 1s", e.RetryAfter)
			}
			// Over HTTP: 503 with Retry-After, no challenge.
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			h.serve(t, h.v.Authenticate, r, middleware.ErrKeysUnavailable)

			// The request's own context bounds the wait too.
			long := hgNewHarness(t, kit, middleware.Config{KeyWait: time.Minute, JWKSURL: cfg.JWKSURL, HTTPClient: cfg.HTTPClient})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start = time.Now()
			_, err = long.v.ValidateToken(ctx, tok)
			hgWant(t, err, middleware.ErrKeysUnavailable)
			if d := time.Since(start); d > 100*time.Millisecond+time.Second {
				t.Errorf("request waited %v past its context", d)
			}

			// The issuer recovers; the next attempt (after a short
			// backoff) succeeds.
			kit.SetDelay(0)
			h.waitReady(t)
			h.accept(t, tok)
		})
	}
}

// hgRedirector answers every request with a redirect to target+path.
func hgRedirector(t *testing.T, target string) *hgCountingServer {
	t.Helper()
	s := &hgCountingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.n.Add(1)
		http.Redirect(w, r, target+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestHardeningIssuerRedirect: a JWKS or discovery endpoint redirecting to
// another origin is not followed (the other host never receives a
// request); a same-origin redirect is.
func TestHardeningIssuerRedirect(t *testing.T) {
	t.Parallel()
	k := hgKeys()
	set := hgJwks(hgJwk(k.rsa, "k", "RS256"))
	const iss = "https://issuer.example" // never fetched: JWKS URL given

	t.Run("JWKS to another host", func(t *testing.T) {
		t.Parallel()
		other := hgNewCountingServer(t, http.StatusOK, "application/json", set)
		redir := hgRedirector(t, other.URL)
		h := hgNewHarness(t, nil, middleware.Config{Issuer: iss, JWKSURL: redir.URL + "/jwks", KeyWait: 10 * time.Second})
		hgNeverReady(t, h, iss)
		if redir.n.Load() == 0 {
			t.Error("the JWKS URL was never asked")
		}
		if n := other.n.Load(); n != 0 {
			t.Errorf("the other host received %d requests", n)
		}
	})

	t.Run("discovery to another host", func(t *testing.T) {
		t.Parallel()
		other := &hgCountingServer{}
		var redirURL atomic.Value
		other.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			other.n.Add(1)
			// A document naming the redirecting issuer, as an attacker's
			// host would serve.
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(hgMustJSON(map[string]any{"issuer": redirURL.Load(), "jwks_uri": redirURL.Load().(string) + "/jwks"})))
		}))
		t.Cleanup(other.Close)
		redir := hgRedirector(t, other.URL)
		redirURL.Store(redir.URL)
		h := hgNewHarness(t, nil, middleware.Config{Issuer: redir.URL, KeyWait: 10 * time.Second})
		hgNeverReady(t, h, redir.URL)
		if n := other.n.Load(); n != 0 {
			t.Errorf("the other host received %d requests", n)
		}
	})

	t.Run("same origin (control)", func(t *testing.T) {
		t.Parallel()
		mux := http.NewServeMux()
		mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/jwks", http.StatusMovedPermanently)
		})
		mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(set) })
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		h := hgNewHarness(t, nil, middleware.Config{Issuer: iss, JWKSURL: srv.URL + "/old"})
		h.waitReady(t)
		tok := hgSignRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"k"}`, hgMustJSON(hgValidClaims(iss)))
		h.accept(t, tok)
	})
}

// TestHardeningDiscoveryDocument: the discovery document's "issuer" must
// equal the configured issuer exactly (OpenID Connect Discovery 1.0 §4.3,
// RFC 8414 §3.3), and its jwks_uri must be https (or loopback http):
// otherwise no keys are ever fetched from it.
func TestHardeningDiscoveryDocument(t *testing.T) {
	t.Parallel()
	k := hgKeys()
	set := hgJwks(hgJwk(k.rsa, "k", "RS256"))
	for _, c := range []struct {
		name string
		doc  func(self, jwks string) any
	}{
		{"other issuer", func(self, jwks string) any { return map[string]any{"issuer": "https://evil.example", "jwks_uri": jwks} }},
		{"trailing slash", func(self, jwks string) any { return map[string]any{"issuer": self + "/", "jwks_uri": jwks} }},
		{"upper-case host", func(self, jwks string) any {
			return map[string]any{"issuer": strings.Replace(self, "http://", "HTTP://", 1), "jwks_uri": jwks}
		}},
		{"issuer missing", func(self, jwks string) any { return map[string]any{"jwks_uri": jwks} }},
		{"issuer not a string", func(self, jwks string) any { return map[string]any{"issuer": []string{self}, "jwks_uri": jwks} }},
		{"jwks_uri missing", func(self, jwks string) any { return map[string]any{"issuer": self} }},
		{"jwks_uri plain http", func(self, jwks string) any {
			return map[string]any{"issuer": self, "jwks_uri": "http://keys.example/jwks"}
		}},
		{"jwks_uri file", func(self, jwks string) any { return map[string]any{"issuer": self, "jwks_uri": "file:///etc/passwd"} }},
		{"jwks_uri relative", func(self, jwks string) any { return map[string]any{"issuer": self, "jwks_uri": "/jwks"} }},
		{"HTML", func(self, jwks string) any { return "<html></html>" }},
		{"huge", func(self, jwks string) any {
			return map[string]any{"issuer": self, "jwks_uri": jwks, "pad": strings.Repeat("p", middleware.MaxDiscoverySize)}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var jwksHits atomic.Int64
			var self string
			mux := http.NewServeMux()
			mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) { jwksHits.Add(1); _, _ = w.Write(set) })
			mux.HandleFunc("/.well-known/", func(w http.ResponseWriter, r *http.Request) {
				doc := c.doc(self, self+"/jwks")
				if s, ok := doc.(string); ok {
					w.Header().Set("Content-Type", "text/html")
					_, _ = w.Write([]byte(s))
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(hgMustJSON(doc)))
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			self = srv.URL
			// Every host name leads to this server, so that a jwks_uri on
			// a non-loopback host would be fetched if it were allowed.
			dial := &net.Dialer{}
			client := &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return dial.DialContext(ctx, network, srv.Listener.Addr().String())
				},
			}}
			h := hgNewHarness(t, nil, middleware.Config{Issuer: self, KeyWait: 10 * time.Second, HTTPClient: client})
			hgNeverReady(t, h, self)
			if n := jwksHits.Load(); n != 0 {
				t.Errorf("JWKS fetched %d times from a refused discovery document", n)
			}
		})
	}
}
