package otelguard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/bearerguard/bearerguard/otelguard"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkRequireScope is one request through the net/http middleware
// with an RS256 token (the verified-token cache on or off), as the core's
// BenchmarkRequireScope, without an observer (obs=none) and with the
// OpenTelemetry observer recording into an SDK meter provider (obs=otel).
func BenchmarkRequireScope(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	token := iss.Token(middlewaretest.Spec{Alg: "RS256", Machine: true, ClientID: "billing-service",
		Scopes: []string{"read:users", "write:users"}, Audience: []string{audience}})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		_, _ = w.Write([]byte(c.Subject))
	})
	for _, cache := range []struct {
		name string
		size int
	}{{"uncached", -1}, {"cached", 0}} {
		for _, obsName := range []string{"none", "otel"} {
			b.Run("cache="+cache.name+"/obs="+obsName, func(b *testing.B) {
				cfg := middleware.Config{Issuer: iss.URL, Audiences: []string{audience}, HTTPClient: iss.Client(), TokenCacheSize: cache.size}
				if obsName == "otel" {
					mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
					obs, err := otelguard.NewObserver(otelguard.Config{MeterProvider: mp})
					if err != nil {
						b.Fatal(err)
					}
					cfg.Observer = obs
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				v, err := middleware.New(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := v.WaitReady(ctx); err != nil {
					b.Fatal(err)
				}
				h := v.RequireScope("read:users")(next)
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		}
	}
}

// BenchmarkObserver is the observer's own cost per request event
// (counter and histogram with the SDK), to set against a request's cost
// in the same run: BenchmarkRequireScope/cache=uncached/obs=none.
func BenchmarkObserver(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	obs, err := otelguard.NewObserver(otelguard.Config{MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		e    middleware.RequestEvent
	}{
		{"success", middleware.RequestEvent{Issuer: "https://issuer.example.test", Duration: 50 * time.Microsecond}},
		{"expired", middleware.RequestEvent{Err: expiredError(b), Duration: 50 * time.Microsecond}},
	} {
		b.Run("event="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				obs.Request(ctx, c.e)
			}
		})
	}
}

// expiredError returns the refusal of an expired token.
func expiredError(b *testing.B) *middleware.Error {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{Issuer: iss.URL, Audiences: []string{audience}, HTTPClient: iss.Client()})
	if err != nil {
		b.Fatal(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	_, err = v.Check(request(iss.Token(middlewaretest.Spec{Lifetime: -time.Hour})), middleware.Policy{})
	var e *middleware.Error
	if !errors.As(err, &e) {
		b.Fatalf("not refused: %v", err)
	}
	return e
}
