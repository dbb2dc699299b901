// Command otelmetrics is an API protected by bearerguard whose
// authentication metrics (package otelguard) are served to Prometheus at
// /metrics, through OpenTelemetry's Prometheus exporter.
//
//	go run . -issuer https://TENANT.eu.auth0.com/ -audience https://api.example.com
//	curl -s localhost:8080/metrics | grep bearerguard_
//
// Routes:
//
//	GET /metrics   public: the Prometheus exposition (restrict it in production)
//	GET /ready     public readiness: 503 until the issuer's keys are loaded
//	GET /me        any valid access token
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/otelguard"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func main() {
	issuer := flag.String("issuer", os.Getenv("ISSUER_URL"), "issuer identifier, exactly as the tokens' \"iss\" claim has it (env ISSUER_URL)")
	audience := flag.String("audience", os.Getenv("AUDIENCE"), "identifier of this API, one of the tokens' \"aud\" values (env AUDIENCE)")
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	if *issuer == "" || *audience == "" {
		fmt.Fprintln(os.Stderr, "otelmetrics: -issuer and -audience are required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := newHandler(ctx, middleware.Config{Issuer: *issuer, Audiences: []string{*audience}})
	if err != nil {
		log.Fatal(err)
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("otelmetrics: serving on http://%s", lis.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(lis); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// newHandler returns the API for cfg, its validator observed by
// otelguard into a Prometheus registry served at /metrics. The
// validator's key refresh ends with ctx.
func newHandler(ctx context.Context, cfg middleware.Config) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	cfg.Observer, err = otelguard.NewObserver(otelguard.Config{MeterProvider: mp})
	if err != nil {
		return nil, err
	}
	v, err := middleware.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if v.Ready() != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.Handle("GET /me", v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": c.Subject})
	})))
	return mux, nil
}
