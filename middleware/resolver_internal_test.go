package middleware

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
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
