package otelguard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/bearerguard/bearerguard/otelguard"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

const audience = "https://api.example.test"

// harness is a validator whose observer records into a manual reader.
type harness struct {
	reader *sdkmetric.ManualReader
	v      *middleware.Validator
	iss    *middlewaretest.Issuer
}

func newHarness(t *testing.T, cfg middleware.Config) *harness {
	t.Helper()
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	obs, err := otelguard.NewObserver(otelguard.Config{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	fetched := make(chan struct{}, 16)
	record := obs.KeyFetch
	obs.KeyFetch = func(ctx context.Context, e middleware.KeyFetchEvent) {
		record(ctx, e)
		fetched <- struct{}{}
	}
	cfg.Issuer, cfg.Audiences, cfg.HTTPClient, cfg.Observer = iss.URL, []string{audience}, iss.Client(), obs
	if cfg.Introspection != nil && cfg.Introspection.ClientID != "" {
		cfg.Introspection.CacheTTL = time.Minute
		iss.AddClient(middlewaretest.Client{ID: cfg.Introspection.ClientID, Secret: cfg.Introspection.ClientSecret})
	}
	v, err := middleware.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	select {
	case <-fetched: // the first fetch is recorded
	case <-ctx.Done():
		t.Fatal("no key fetch")
	}
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return &harness{reader: reader, v: v, iss: iss}
}

// collect returns the metrics recorded so far, by name.
func (h *harness) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelguard.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// counts returns a counter's or histogram's counts by attribute set,
// written as "k=v,k=v" in the set's order.
func counts(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out[attrs(p.Attributes)] += p.Value
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out[attrs(p.Attributes)] += p.Value
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out[attrs(p.Attributes)] += int64(p.Count)
		}
	default:
		t.Fatalf("%s: data %T", m.Name, m.Data)
	}
	return out
}

func attrs(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.AsString())
	}
	return strings.Join(parts, ",")
}

// request returns a request with token as Bearer ("" for none).
func request(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func TestRequests(t *testing.T) {
	h := newHarness(t, middleware.Config{})
	valid := h.iss.Token(middlewaretest.Spec{Scopes: []string{"read:users"}})
	for _, c := range []struct {
		token string
		p     middleware.Policy
	}{
		{valid, middleware.Policy{}},
		{valid, middleware.Policy{}},
		{valid, middleware.ScopePolicy("admin")},
		{h.iss.Token(middlewaretest.Spec{Lifetime: -time.Hour}), middleware.Policy{}},
		{"", middleware.Policy{}},
		{"", middleware.Policy{Optional: true}},
	} {
		_, _ = h.v.Check(request(c.token), c.p)
	}
	ms := h.collect(t)
	iss := "bearerguard.issuer=" + h.iss.URL
	want := map[string]int64{
		iss + ",bearerguard.result=success":                               2, // keys in the order of the set: sorted
		iss + ",bearerguard.result=failure,error.type=insufficient_scope": 1,
		"bearerguard.result=failure,error.type=token_expired":             1,
		"bearerguard.result=failure,error.type=no_token":                  1,
		"bearerguard.result=none":                                         1,
	}
	for _, name := range []string{otelguard.RequestsMetric, otelguard.DurationMetric} {
		m, ok := ms[name]
		if !ok {
			t.Fatalf("no %s", name)
		}
		got := counts(t, m)
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s{%s} = %d, want %d", name, k, got[k], n)
			}
		}
	}
	if u := ms[otelguard.RequestsMetric].Unit; u != "{request}" {
		t.Errorf("unit %q", u)
	}
	if u := ms[otelguard.DurationMetric].Unit; u != "s" {
		t.Errorf("unit %q", u)
	}
	if s, ok := ms[otelguard.RequestsMetric].Data.(metricdata.Sum[int64]); !ok || !s.IsMonotonic {
		t.Errorf("requests is not a monotonic sum: %T", ms[otelguard.RequestsMetric].Data)
	}
}

func TestKeys(t *testing.T) {
	h := newHarness(t, middleware.Config{})
	iss := "bearerguard.issuer=" + h.iss.URL
	ms := h.collect(t)
	if got := counts(t, ms[otelguard.KeyFetchesMetric]); got[iss+",bearerguard.result=success"] != 1 {
		t.Errorf("fetches %v", got)
	}
	if got := counts(t, ms[otelguard.KeyFetchDurationMetric]); got[iss+",bearerguard.result=success"] != 1 {
		t.Errorf("fetch durations %v", got)
	}
	if got := counts(t, ms[otelguard.KeysReadyMetric]); len(got) != 1 || got[iss] != 1 {
		t.Errorf("ready %v", got)
	}
}

// TestKeysResolvedIssuer: an issuer added by ResolveIssuer has its fetches
// counted without an issuer and no readiness gauge: only configured
// issuers become labels.
func TestKeysResolvedIssuer(t *testing.T) {
	other := middlewaretest.NewIssuer()
	t.Cleanup(other.Close)
	h := newHarness(t, middleware.Config{
		ResolveIssuer: func(_ context.Context, iss string) (*middleware.Issuer, error) {
			if iss != other.URL {
				return nil, nil
			}
			return &middleware.Issuer{Issuer: iss, Audiences: []string{audience}}, nil
		},
	})
	tok := other.Token(middlewaretest.Spec{Audience: []string{audience}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := h.v.ValidateToken(t.Context(), tok)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resolved issuer's token: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ms := h.collect(t)
	if got := counts(t, ms[otelguard.KeyFetchesMetric]); got["bearerguard.result=success"] < 1 {
		t.Errorf("fetches %v: the resolved issuer's is not counted without an issuer", got)
	}
	if got := counts(t, ms[otelguard.KeysReadyMetric]); len(got) != 1 || got["bearerguard.issuer="+h.iss.URL] != 1 {
		t.Errorf("ready %v, want the configured issuer only", got)
	}
}

func TestIntrospectionAndReplay(t *testing.T) {
	h := newHarness(t, middleware.Config{
		Introspection: &middleware.Introspection{ClientID: "rs", ClientSecret: "rs-secret-0123456789"},
		DPoP:          middleware.DPoP{Mode: middleware.DPoPAllowed},
	})
	active := h.iss.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now()})
	revoked := h.iss.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now()})
	h.iss.Revoke(revoked)
	for _, tok := range []string{active, active, revoked} {
		_, _ = h.v.ValidateToken(t.Context(), tok)
	}
	key := middlewaretest.NewDPoPKey("ES256")
	bound := h.iss.Token(middlewaretest.Spec{JKT: key.Thumbprint()})
	proof := key.Proof(middlewaretest.Proof{URL: "http://example.com/", AccessToken: bound})
	for range 2 {
		r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
		r.Header.Set("Authorization", "DPoP "+bound)
		r.Header.Set("DPoP", proof)
		_, _ = h.v.Check(r, middleware.Policy{})
	}
	ms := h.collect(t)
	for name, want := range map[string]map[string]int64{
		otelguard.IntrospectionsMetric:         {"bearerguard.result=active": 1, "bearerguard.result=inactive": 1},
		otelguard.IntrospectionDurationMetric:  {"bearerguard.result=active": 1, "bearerguard.result=inactive": 1},
		otelguard.IntrospectionCacheHitsMetric: {"": 1},
		otelguard.ReplayChecksMetric:           {"bearerguard.result=added": 1, "bearerguard.result=replayed": 1},
	} {
		got := counts(t, ms[name])
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s{%s} = %d, want %d", name, k, got[k], n)
			}
		}
	}
}

// TestReplayStoreFailure: a replay store that fails is counted as a
// failure whose error.type is replay_store_failed, as README's table says.
func TestReplayStoreFailure(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	obs, err := otelguard.NewObserver(otelguard.Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		t.Fatal(err)
	}
	obs.Replay(t.Context(), middleware.ReplayEvent{Err: errors.New("store down")})
	h := &harness{reader: reader}
	got := counts(t, h.collect(t)[otelguard.ReplayChecksMetric])
	want := "bearerguard.result=failure,error.type=replay_store_failed"
	if len(got) != 1 || got[want] != 1 {
		t.Errorf("%s: %v, want {%s: 1}", otelguard.ReplayChecksMetric, got, want)
	}
}

// TestLowCardinality: whatever the tokens, the attributes are only the
// three keys, and never carry a subject, client id, token or claim value.
func TestLowCardinality(t *testing.T) {
	h := newHarness(t, middleware.Config{})
	var tokens []string
	for i := range 20 {
		sub := "subject-" + string(rune('a'+i))
		tokens = append(tokens,
			h.iss.Token(middlewaretest.Spec{Subject: sub, ClientID: "client-" + sub}),
			h.iss.Token(middlewaretest.Spec{Subject: sub, Lifetime: -time.Hour}),
			h.iss.Token(middlewaretest.Spec{Subject: sub, Claims: map[string]any{"iss": "https://issuer-" + sub + ".example.test"}}),
			h.iss.Token(middlewaretest.Spec{Subject: sub, Audience: []string{"https://" + sub + ".example.test"}}))
	}
	for _, tok := range tokens {
		_, _ = h.v.Check(request(tok), middleware.ScopePolicy("read:"+"users"))
	}
	allowed := map[attribute.Key]bool{otelguard.ResultKey: true, otelguard.ErrorTypeKey: true, otelguard.IssuerKey: true}
	points := 0
	for name, m := range h.collect(t) {
		for set := range counts(t, m) {
			points++
			if strings.Contains(set, "subject-") || strings.Contains(set, "client-") || strings.Contains(set, "issuer-") || strings.Contains(set, ".example.test") && !strings.Contains(set, h.iss.URL) {
				t.Errorf("%s: attribute set %q carries token content", name, set)
			}
		}
		_ = name
	}
	for _, m := range h.collect(t) {
		if d, ok := m.Data.(metricdata.Sum[int64]); ok {
			for _, p := range d.DataPoints {
				for _, kv := range p.Attributes.ToSlice() {
					if !allowed[kv.Key] {
						t.Errorf("%s: attribute %s", m.Name, kv.Key)
					}
				}
			}
		}
	}
	if got := counts(t, h.collect(t)[otelguard.RequestsMetric]); len(got) > 4 {
		t.Errorf("%d attribute sets for 4 kinds of refusal: %v", len(got), got)
	}
	if points == 0 {
		t.Fatal("no data points")
	}
}

func TestErrorType(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{middleware.ErrTokenExpired, "token_expired"},
		{middleware.ErrNoToken, "no_token"},
		{errors.Join(middleware.ErrKeysUnavailable, middleware.ErrFetchTimeout), "fetch_timeout"},
		{errors.New("other"), "_OTHER"},
		{nil, "_OTHER"},
	} {
		if got := otelguard.ErrorType(c.err); got != c.want {
			t.Errorf("ErrorType(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestNoExtraAllocation: with the observer attached, a request allocates
// no more than without it (its attribute options are made once per
// combination).
func TestNoExtraAllocation(t *testing.T) {
	h := newHarness(t, middleware.Config{})
	plain, err := middleware.New(t.Context(), middleware.Config{Issuer: h.iss.URL, Audiences: []string{audience}, HTTPClient: h.iss.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := plain.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	r := request(h.iss.Token(middlewaretest.Spec{}))
	allocs := func(v *middleware.Validator) float64 {
		if _, err := v.Check(r, middleware.Policy{}); err != nil { // warm the caches
			t.Fatal(err)
		}
		return testing.AllocsPerRun(100, func() { _, _ = v.Check(r, middleware.Policy{}) })
	}
	if with, without := allocs(h.v), allocs(plain); with > without {
		t.Errorf("%v allocations per request with the observer, %v without", with, without)
	}
}
