package otelguard

import (
	"context"
	"errors"
	"sync"

	"github.com/bearerguard/bearerguard/middleware"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the meter: the import path of
// this package, as OpenTelemetry's conventions ask.
const ScopeName = "github.com/bearerguard/bearerguard/otelguard"

// The metric names. They follow ASP.NET Core's aspnetcore.authentication.*
// metrics and OpenTelemetry's naming conventions: durations in seconds,
// counts in {annotations}.
const (
	// RequestsMetric counts decisions on requests ({request}), by
	// [ResultKey], [ErrorTypeKey] and [IssuerKey].
	RequestsMetric = "bearerguard.authentication.requests"
	// DurationMetric is the duration of the decisions (s), by the same
	// attributes.
	DurationMetric = "bearerguard.authentication.duration"
	// KeyFetchesMetric counts fetches of an issuer's keys ({fetch}), by
	// IssuerKey, ResultKey and ErrorTypeKey.
	KeyFetchesMetric = "bearerguard.keys.fetches"
	// KeyFetchDurationMetric is the duration of the fetches (s).
	KeyFetchDurationMetric = "bearerguard.keys.fetch.duration"
	// KeysReadyMetric is 1 for an issuer whose keys are held, 0 for one
	// whose keys have not been obtained yet ({issuer}), by IssuerKey: the
	// configured issuers, templates sharing one JWKSURL under the first of
	// them, as in KeyFetchEvent (issuers added by Config.ResolveIssuer are
	// counted in the fetch metrics, without IssuerKey, and have no gauge).
	KeysReadyMetric = "bearerguard.keys.ready"
	// IntrospectionsMetric counts calls to the introspection endpoint
	// ({request}), by ResultKey ("active", "inactive", "failure") and
	// ErrorTypeKey.
	IntrospectionsMetric = "bearerguard.introspection.requests"
	// IntrospectionDurationMetric is the duration of the calls (s).
	IntrospectionDurationMetric = "bearerguard.introspection.duration"
	// IntrospectionCacheHitsMetric counts answers taken from the
	// introspection cache instead of a call ({hit}).
	IntrospectionCacheHitsMetric = "bearerguard.introspection.cache.hits"
	// ReplayChecksMetric counts DPoP proofs offered to the replay store
	// ({proof}), by ResultKey ("added", "replayed", "failure").
	ReplayChecksMetric = "bearerguard.dpop.replay.checks"
)

// The attribute keys. Their values are of low cardinality: fixed names,
// and issuers exactly as configured. No token, subject, client id or
// other claim value is ever an attribute.
const (
	// ResultKey is the outcome: for requests "success" (a valid token),
	// "none" (no token, let through by an optional policy) or "failure";
	// for key fetches "success" or "failure".
	ResultKey = attribute.Key("bearerguard.result")
	// ErrorTypeKey is why, for a failure: the name of the specific
	// sentinel the error matches, such as "token_expired" or
	// "insufficient_scope" (see [ErrorType]); OpenTelemetry's error.type.
	ErrorTypeKey = attribute.Key("error.type")
	// IssuerKey is the trusted issuer, as configured: the issuer of a
	// verified token, or the issuer whose keys were fetched (a template for
	// its tenants). Refusals of tokens not verified, and issuers added by
	// Config.ResolveIssuer, have none.
	IssuerKey = attribute.Key("bearerguard.issuer")
)

// Config configures the observer.
type Config struct {
	// MeterProvider provides the meter. Optional; default the global
	// provider, otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
}

// NewObserver returns the [middleware.Observer] that records a validator's
// events as OpenTelemetry metrics; set it as Config.Observer. It returns an
// error if an instrument cannot be created.
func NewObserver(cfg Config) (middleware.Observer, error) {
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName)
	r := &recorder{attrs: map[attrKey]*measureOpts{}, ready: map[string]bool{}}
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	r.requests, err = m.Int64Counter(RequestsMetric, metric.WithUnit("{request}"),
		metric.WithDescription("Decisions on requests by their bearer or DPoP access token."))
	add(err)
	r.duration, err = m.Float64Histogram(DurationMetric, metric.WithUnit("s"),
		metric.WithDescription("Duration of the decisions on requests."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	r.fetches, err = m.Int64Counter(KeyFetchesMetric, metric.WithUnit("{fetch}"),
		metric.WithDescription("Fetches of an issuer's keys (discovery and JWK Set)."))
	add(err)
	r.fetchDuration, err = m.Float64Histogram(KeyFetchDurationMetric, metric.WithUnit("s"),
		metric.WithDescription("Duration of the fetches of an issuer's keys."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	r.intros, err = m.Int64Counter(IntrospectionsMetric, metric.WithUnit("{request}"),
		metric.WithDescription("Calls to the token introspection endpoint (RFC 7662)."))
	add(err)
	r.introDuration, err = m.Float64Histogram(IntrospectionDurationMetric, metric.WithUnit("s"),
		metric.WithDescription("Duration of the calls to the token introspection endpoint."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	r.introHits, err = m.Int64Counter(IntrospectionCacheHitsMetric, metric.WithUnit("{hit}"),
		metric.WithDescription("Introspection answers taken from the cache."))
	add(err)
	r.replays, err = m.Int64Counter(ReplayChecksMetric, metric.WithUnit("{proof}"),
		metric.WithDescription("DPoP proofs offered to the replay store (RFC 9449 §11.1)."))
	add(err)
	_, err = m.Int64ObservableGauge(KeysReadyMetric, metric.WithUnit("{issuer}"),
		metric.WithDescription("1 for an issuer whose keys are held, 0 for one whose keys are not obtained yet."),
		metric.WithInt64Callback(r.observeReady))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return middleware.Observer{}, err
	}
	return middleware.Observer{
		Request:       r.request,
		KeyFetch:      r.keyFetch,
		Introspection: r.introspection,
		Replay:        r.replay,
	}, nil
}

// durationBuckets are the histograms' bucket boundaries (s): from 10 µs
// (a cached token) to 10 s (a request waiting for keys or an
// introspection call).
var durationBuckets = []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// recorder records the events.
type recorder struct {
	requests, fetches, intros, introHits, replays metric.Int64Counter
	duration, fetchDuration, introDuration        metric.Float64Histogram

	mu    sync.RWMutex
	attrs map[attrKey]*measureOpts // bounded: fixed names and configured issuers
	ready map[string]bool          // by issuer
}

// attrKey is one combination of attribute values.
type attrKey struct {
	result, errType, issuer string
}

// measureOpts are the options of a measurement with one attribute set,
// made once so that a measurement allocates nothing for them.
type measureOpts struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// opts returns the options for k.
func (r *recorder) opts(k attrKey) *measureOpts {
	r.mu.RLock()
	o, ok := r.attrs[k]
	r.mu.RUnlock()
	if ok {
		return o
	}
	kvs := make([]attribute.KeyValue, 0, 3)
	if k.result != "" {
		kvs = append(kvs, ResultKey.String(k.result))
	}
	if k.errType != "" {
		kvs = append(kvs, ErrorTypeKey.String(k.errType))
	}
	if k.issuer != "" {
		kvs = append(kvs, IssuerKey.String(k.issuer))
	}
	set := metric.WithAttributeSet(attribute.NewSet(kvs...))
	o = &measureOpts{add: []metric.AddOption{set}, rec: []metric.RecordOption{set}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.attrs[k]; ok {
		return prev
	}
	r.attrs[k] = o
	return o
}

func (r *recorder) request(ctx context.Context, e middleware.RequestEvent) {
	k := attrKey{result: "success", issuer: e.Issuer}
	switch {
	case e.Err != nil:
		k.result, k.errType = "failure", ErrorType(e.Err)
	case e.Anonymous:
		k.result = "none"
	}
	o := r.opts(k)
	r.requests.Add(ctx, 1, o.add...)
	r.duration.Record(ctx, e.Duration.Seconds(), o.rec...)
}

func (r *recorder) keyFetch(ctx context.Context, e middleware.KeyFetchEvent) {
	k := attrKey{result: "success", issuer: e.Issuer}
	if e.Err != nil {
		k.result, k.errType = "failure", ErrorType(e.Err)
	}
	o := r.opts(k)
	r.fetches.Add(ctx, 1, o.add...)
	r.fetchDuration.Record(ctx, e.Duration.Seconds(), o.rec...)
	if e.Issuer == "" {
		return // an issuer added by ResolveIssuer: not a configured one, no gauge of its own
	}
	r.mu.Lock()
	r.ready[e.Issuer] = e.Ready
	r.mu.Unlock()
}

func (r *recorder) observeReady(_ context.Context, obs metric.Int64Observer) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for iss, ok := range r.ready {
		v := int64(0)
		if ok {
			v = 1
		}
		obs.Observe(v, metric.WithAttributes(IssuerKey.String(iss)))
	}
	return nil
}

func (r *recorder) introspection(ctx context.Context, e middleware.IntrospectionEvent) {
	if e.Cached {
		r.introHits.Add(ctx, 1)
		return
	}
	k := attrKey{result: "active"}
	switch {
	case errors.Is(e.Err, middleware.ErrTokenInactive):
		k.result = "inactive"
	case e.Err != nil:
		k.result, k.errType = "failure", ErrorType(e.Err)
	}
	o := r.opts(k)
	r.intros.Add(ctx, 1, o.add...)
	r.introDuration.Record(ctx, e.Duration.Seconds(), o.rec...)
}

func (r *recorder) replay(ctx context.Context, e middleware.ReplayEvent) {
	k := attrKey{result: "added"}
	switch {
	case e.Err != nil:
		k.result, k.errType = "failure", "replay_store_failed"
	case !e.Added:
		k.result = "replayed"
	}
	r.replays.Add(ctx, 1, r.opts(k).add...)
}
