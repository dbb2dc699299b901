package readme

import (
	"context"
	"sync/atomic"

	"github.com/bearerguard/bearerguard/middleware"
)

// The README section "Observability".

func observerSnippet(ctx context.Context, refusals *atomic.Int64) (*middleware.Validator, error) {
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    "https://auth.example.com",
		Audiences: []string{"https://api.example.com"},
		Observer: middleware.Observer{
			Request: func(ctx context.Context, e middleware.RequestEvent) {
				if e.Err != nil && e.Err.Status == 401 {
					refusals.Add(1) // e.Err matches the sentinels: errors.Is(e.Err, middleware.ErrTokenExpired)
				}
			},
		},
	})
	return v, err
}
