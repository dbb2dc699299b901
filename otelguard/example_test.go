package otelguard_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/bearerguard/bearerguard/otelguard"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// A validator whose decisions are counted by OpenTelemetry. In production
// the MeterProvider is the application's (with an OTLP or Prometheus
// exporter), or left out to use the global one.
func ExampleNewObserver() {
	reader := sdkmetric.NewManualReader()
	obs, err := otelguard.NewObserver(otelguard.Config{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		log.Fatal(err)
	}
	iss := middlewaretest.NewIssuer() // stands for your authorization server
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:     iss.URL,
		Audiences:  []string{"https://api.example.test"},
		HTTPClient: iss.Client(), // the test issuer's TLS; omit in production
		Observer:   obs,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}
	h := v.Authenticate(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil)) // no token

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == otelguard.RequestsMetric {
				for _, p := range sum.DataPoints {
					result, _ := p.Attributes.Value(otelguard.ResultKey)
					errType, _ := p.Attributes.Value(otelguard.ErrorTypeKey)
					fmt.Println(m.Name, m.Unit, result.AsString(), errType.AsString(), p.Value)
				}
			}
		}
	}
	// Output:
	// bearerguard.authentication.requests {request} failure no_token 1
}

// The README's "Observability" snippet (checked by TestReadme): the
// observer on the application's meter provider.
func Example_readme() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()                           // the example does not reach the issuer
	mp := sdkmetric.NewMeterProvider() // the application's, with its exporter

	obs, err := otelguard.NewObserver(otelguard.Config{MeterProvider: mp})
	if err != nil {
		log.Fatal(err)
	}
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    "https://tenant.eu.auth0.com/",
		Audiences: []string{"https://api.example.com"},
		Observer:  obs,
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = v
}
