package middleware

import (
	"context"
	"testing"

	"github.com/bearerguard/bearerguard/claims"
)

// Without an Observer, the reporting calls of a request cost no
// allocation (and read no clock: observeStart returns the zero time).
func TestObserverNilCostsNothing(t *testing.T) {
	v := &Validator{}
	ctx := context.Background()
	c := &claims.Claims{Issuer: "https://issuer.example.test"}
	e := newError(ErrInvalidToken, ErrTokenExpired, nil)
	allocs := testing.AllocsPerRun(100, func() {
		start := v.observeStart()
		if !start.IsZero() {
			t.Fatal("clock read without an observer")
		}
		v.observeRequest(ctx, start, c, nil)
		v.observeRequest(ctx, start, nil, e)
		v.observeIntrospection(ctx, start, nil)
		v.observeReplay(ctx, true, nil)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per request without an observer", allocs)
	}
}
