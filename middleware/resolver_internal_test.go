package middleware

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingTransport counts the requests of the validator's HTTP client and
// answers none.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("no network in this test")
}

// TestResolverFlood: a flood of tokens with random "iss" values makes no
// network call, asks the resolver at most MaxResolutionsPerSecond times a
// second, and keeps at most MaxResolverRefusals refusals; nothing is held.
func TestResolverFlood(t *testing.T) {
	rt := &countingTransport{}
	var asked atomic.Int64
	v, err := New(t.Context(), Config{
		Audiences:  []string{"https://api.example.test"},
		HTTPClient: &http.Client{Transport: rt},
		ResolveIssuer: func(context.Context, string) (*Issuer, error) {
			asked.Add(1)
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	head := seg(`{"alg":"RS256","kid":"k"}`)
	start := time.Now()
	const n = 3 * MaxResolverRefusals
	var refused, busy int
	for i := range n {
		iss := "https://tenant-" + strconv.Itoa(i) + ".example.test/"
		tok := head + "." + seg(`{"iss":"`+iss+`","exp":4102444800,"aud":"https://api.example.test"}`) + "." + seg("sig")
		_, err := v.ValidateToken(t.Context(), tok)
		switch {
		case errors.Is(err, ErrInvalidIssuer):
			refused++
		case errors.Is(err, ErrResolverBusy):
			busy++
		default:
			t.Fatalf("token %d: %v", i, err)
		}
	}
	seconds := int64(time.Since(start)/time.Second) + 1
	if c := rt.n.Load(); c != 0 {
		t.Errorf("%d network calls, want 0", c)
	}
	if a := asked.Load(); a > MaxResolutionsPerSecond*seconds || a == 0 {
		t.Errorf("resolver asked %d times in %d s, want 1 to %d", a, seconds, MaxResolutionsPerSecond*seconds)
	}
	r := v.resolver
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refused) > MaxResolverRefusals || len(r.live) != 0 {
		t.Errorf("%d refusals and %d issuers held", len(r.refused), len(r.live))
	}
	t.Logf("%d refused, %d busy, resolver asked %d times", refused, busy, asked.Load())
}

// TestResolverRefusals holds the resolver's documented bounds (SECURITY.md):
// an "iss" of at most 1 KiB is asked about, a longer one never; a refusal
// is remembered for ResolverRefusalTTL, then asked about again; the table
// of refusals never holds more than MaxResolverRefusals.
func TestResolverRefusals(t *testing.T) {
	asked := map[string]int{}
	v, err := New(t.Context(), Config{
		Audiences:  []string{"https://api.example.test"},
		HTTPClient: &http.Client{Transport: &countingTransport{}},
		ResolveIssuer: func(_ context.Context, iss string) (*Issuer, error) {
			asked[iss]++
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	validate := func(iss string) {
		t.Helper()
		tok := seg(`{"alg":"RS256","kid":"k"}`) + "." + seg(`{"iss":"`+iss+`","exp":4102444800,"aud":"https://api.example.test"}`) + "." + seg("sig")
		if _, err := v.ValidateToken(t.Context(), tok); !errors.Is(err, ErrInvalidIssuer) {
			t.Fatalf("iss %.40q: %v, want ErrInvalidIssuer", iss, err)
		}
	}
	r := v.resolver

	t.Run("at most 1 KiB", func(t *testing.T) {
		base := "https://tenant.example.test/"
		at := base + strings.Repeat("a", 1024-len(base)) // 1 KiB, SECURITY.md
		over := at + "a"
		validate(at)
		validate(over)
		if asked[at] != 1 || asked[over] != 0 {
			t.Errorf("asked %d times about 1024 bytes (want 1), %d about 1025 (want 0)", asked[at], asked[over])
		}
	})
	t.Run("remembered for ResolverRefusalTTL", func(t *testing.T) {
		iss := "https://refused.example.test/"
		before := time.Now()
		validate(iss)
		after := time.Now()
		validate(iss)
		if asked[iss] != 1 {
			t.Fatalf("asked %d times, want 1", asked[iss])
		}
		r.mu.Lock()
		until := r.refused[iss]
		r.mu.Unlock()
		if until.Before(before.Add(ResolverRefusalTTL)) || until.After(after.Add(ResolverRefusalTTL)) {
			t.Errorf("refused until %v after the call, want %v", until.Sub(before), ResolverRefusalTTL)
		}
		r.mu.Lock()
		r.refused[iss] = time.Now().Add(-time.Nanosecond) // the TTL has passed
		r.mu.Unlock()
		validate(iss)
		if asked[iss] != 2 {
			t.Errorf("asked %d times once the refusal expired, want 2", asked[iss])
		}
	})
	t.Run("at most MaxResolverRefusals", func(t *testing.T) {
		r.mu.Lock()
		for i := len(r.refused); i < MaxResolverRefusals; i++ {
			r.refused["https://filler-"+strconv.Itoa(i)+".example.test/"] = time.Now().Add(time.Hour)
		}
		r.mu.Unlock()
		iss := "https://one-more.example.test/"
		validate(iss)
		r.mu.Lock()
		defer r.mu.Unlock()
		if n := len(r.refused); n > MaxResolverRefusals {
			t.Errorf("%d refusals held, want at most %d", n, MaxResolverRefusals)
		}
		if _, ok := r.refused[iss]; !ok || asked[iss] != 1 {
			t.Errorf("the new refusal is not held (asked %d times)", asked[iss])
		}
	})
}

// TestResolvedIssuersLRU: at most MaxResolvedIssuers are held, and the one
// evicted is the least recently used, not the first resolved; it stops
// counting for its cached tokens.
func TestResolvedIssuersLRU(t *testing.T) {
	v, err := New(t.Context(), Config{
		Audiences:          []string{"https://api.example.test"},
		HTTPClient:         &http.Client{Transport: &countingTransport{}},
		MaxResolvedIssuers: 2,
		ResolveIssuer: func(_ context.Context, iss string) (*Issuer, error) {
			return &Issuer{JWKSURL: iss + "jwks"}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := "https://a.example.test/", "https://b.example.test/", "https://c.example.test/"
	held := map[string]*trust{}
	for _, iss := range []string{a, b, a, c} {
		ti, err := v.resolveTrust(t.Context(), iss)
		if err != nil {
			t.Fatalf("%s: %v", iss, err)
		}
		held[iss] = ti
	}
	r := v.resolver
	r.mu.Lock()
	_, hasA := r.live[a]
	_, hasB := r.live[b]
	n := len(r.live)
	r.mu.Unlock()
	if n != 2 || !hasA || hasB {
		t.Errorf("%d held, a held %v, b held %v: want 2, the least recently used (b) evicted", n, hasA, hasB)
	}
	if !held[b].gone.Load() || held[a].gone.Load() {
		t.Errorf("gone: a %v, b %v; want only b", held[a].gone.Load(), held[b].gone.Load())
	}
}

// TestResolverDefaultBound: without MaxResolvedIssuers, at most
// DefaultMaxResolvedIssuers issuers added at run time are held.
func TestResolverDefaultBound(t *testing.T) {
	r := newResolver(&Config{ResolveIssuer: func(context.Context, string) (*Issuer, error) { return nil, nil }})
	if r.max != DefaultMaxResolvedIssuers {
		t.Errorf("resolver holds %d issuers, want DefaultMaxResolvedIssuers (%d)", r.max, DefaultMaxResolvedIssuers)
	}
}
