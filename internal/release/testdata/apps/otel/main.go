// An application of the OpenTelemetry observer: one refused request,
// recorded by the SDK's manual reader.
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/bearerguard/bearerguard/otelguard"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func main() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reader := sdkmetric.NewManualReader()
	obs, err := otelguard.NewObserver(otelguard.Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		panic(err)
	}
	v, err := middleware.New(ctx, middleware.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}, Observer: obs})
	if err != nil {
		panic(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		panic(err)
	}
	h := v.Authenticate(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "bearerguard.authentication.requests" {
				found = true
			}
		}
	}
	fmt.Println("requests metric:", found)
}
