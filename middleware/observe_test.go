package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Config.Observer: one event per decision, key fetch, introspection call
// or cache hit and DPoP replay check, with the issuer only as configured
// and only for a verified token.

// obsRecorder records an Observer's events.
type obsRecorder struct {
	mu       sync.Mutex
	requests []middleware.RequestEvent
	intro    []middleware.IntrospectionEvent
	replay   []middleware.ReplayEvent
	fetches  chan middleware.KeyFetchEvent
}

func newObsRecorder() *obsRecorder {
	return &obsRecorder{fetches: make(chan middleware.KeyFetchEvent, 16)}
}

func (o *obsRecorder) observer() middleware.Observer {
	return middleware.Observer{
		Request: func(_ context.Context, e middleware.RequestEvent) {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.requests = append(o.requests, e)
		},
		KeyFetch: func(_ context.Context, e middleware.KeyFetchEvent) {
			select {
			case o.fetches <- e:
			default:
			}
		},
		Introspection: func(_ context.Context, e middleware.IntrospectionEvent) {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.intro = append(o.intro, e)
		},
		Replay: func(_ context.Context, e middleware.ReplayEvent) {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.replay = append(o.replay, e)
		},
	}
}

// lastRequest returns the last request event.
func (o *obsRecorder) lastRequest(t *testing.T) middleware.RequestEvent {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.requests) == 0 {
		t.Fatal("no request event")
	}
	return o.requests[len(o.requests)-1]
}

// fetch waits (boundedly) for the next key fetch event.
func (o *obsRecorder) fetch(t *testing.T) middleware.KeyFetchEvent {
	t.Helper()
	select {
	case e := <-o.fetches:
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no key fetch event")
	}
	return middleware.KeyFetchEvent{}
}

func TestObserverRequests(t *testing.T) {
	kit, resolved := hgKit(t), hgKit(t)
	rec := newObsRecorder()
	template := kit.EntraIssuer(middleware.TenantPlaceholder, false)
	tenant := middlewaretest.EntraTenantID()
	res := &hgResolver{}
	res.set(resolved.URL, &middleware.Issuer{})
	v := hgReady(t, kit, middleware.Config{
		Observer:      rec.observer(),
		ExtraIssuers:  []middleware.Issuer{{Issuer: template, JWKSURL: kit.JWKSURL(), Tenants: []string{tenant}}},
		ResolveIssuer: res.resolve,
	})
	reader := hgToken(kit, middlewaretest.Spec{Scopes: []string{"read:users"}})
	ofTenant := hgToken(kit, middlewaretest.Spec{Profile: middlewaretest.Entra, Tenant: tenant})
	other := "https://evil.example.test"
	cases := []struct {
		name      string
		r         *http.Request
		p         middleware.Policy
		want      error // nil: accepted
		anonymous bool
		issuer    string
	}{
		{"accepted", hgRequest(reader), middleware.Policy{}, nil, false, kit.URL},
		{"scope missing: valid token", hgRequest(reader), middleware.ScopePolicy("admin"), middleware.ErrInsufficientScope, false, kit.URL},
		{"expired", hgRequest(hgToken(kit, middlewaretest.Spec{IssuedAt: hgNow.Add(-2 * time.Hour)})), middleware.Policy{}, middleware.ErrTokenExpired, false, ""},
		{"a tenant: its template", hgRequest(ofTenant), middleware.Policy{}, nil, false, template},
		{"a resolved issuer is not reported", hgRequest(hgToken(resolved, middlewaretest.Spec{})), middleware.Policy{}, nil, false, ""},
		{"untrusted issuer is not reported", hgRequest(hgToken(kit, middlewaretest.Spec{Claims: map[string]any{"iss": other}})), middleware.Policy{}, middleware.ErrInvalidIssuer, false, ""},
		{"no token", hgRequest(""), middleware.Policy{}, middleware.ErrNoToken, false, ""},
		{"optional without token", hgRequest(""), middleware.Policy{Optional: true}, nil, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Check(c.r, c.p)
			e := rec.lastRequest(t)
			if c.want == nil {
				if err != nil || e.Err != nil {
					t.Fatalf("refused: %v, event %v", err, e.Err)
				}
			} else if !errors.Is(e.Err, c.want) || e.Err != err {
				t.Fatalf("event error %v, want %v (the error Check returned)", e.Err, c.want)
			}
			if e.Anonymous != c.anonymous || e.Issuer != c.issuer || e.Duration < 0 {
				t.Errorf("event %+v, want anonymous %v issuer %q", e, c.anonymous, c.issuer)
			}
		})
	}
	if n := len(rec.requests); n != len(cases) {
		t.Errorf("%d events for %d requests", n, len(cases))
	}
}

func TestObserverKeyFetch(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		kit := hgKit(t)
		rec := newObsRecorder()
		hgNew(t, kit, middleware.Config{Observer: rec.observer()})
		if e := rec.fetch(t); e.Issuer != kit.URL || e.Err != nil || !e.Ready {
			t.Errorf("event %+v", e)
		}
	})
	t.Run("failure", func(t *testing.T) {
		kit := hgKit(t)
		kit.SetStatus(http.StatusServiceUnavailable)
		rec := newObsRecorder()
		hgNew(t, kit, middleware.Config{Observer: rec.observer()})
		if e := rec.fetch(t); e.Issuer != kit.URL || !errors.Is(e.Err, middleware.ErrDiscoveryFailed) || e.Ready {
			t.Errorf("event %+v", e)
		}
	})
	t.Run("a resolved issuer is not named", func(t *testing.T) {
		kit, resolved := hgKit(t), hgKit(t)
		rec := newObsRecorder()
		res := &hgResolver{}
		res.set(resolved.URL, &middleware.Issuer{})
		v := hgReady(t, kit, middleware.Config{Observer: rec.observer(), ResolveIssuer: res.resolve})
		if e := rec.fetch(t); e.Issuer != kit.URL {
			t.Fatalf("configured issuer's event %+v", e)
		}
		_, err := v.ValidateToken(t.Context(), hgToken(resolved, middlewaretest.Spec{}))
		hgWant(t, err)
		if e := rec.fetch(t); e.Issuer != "" || e.Err != nil || !e.Ready {
			t.Errorf("resolved issuer's event %+v", e)
		}
	})
}

func TestObserverIntrospection(t *testing.T) {
	kit := hgKit(t)
	rec := newObsRecorder()
	v := hgIntrospecting(t, kit, middleware.Config{Observer: rec.observer(), Introspection: &middleware.Introspection{CacheTTL: time.Minute}})
	active := kit.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now()})
	revoked := kit.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now()})
	kit.Revoke(revoked)
	for _, tok := range []string{active, active, revoked} {
		_, _ = v.ValidateToken(t.Context(), tok)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.intro) != 3 {
		t.Fatalf("events %+v, want 3", rec.intro)
	}
	if e := rec.intro[0]; e.Cached || e.Err != nil {
		t.Errorf("call: %+v", e)
	}
	if e := rec.intro[1]; !e.Cached || e.Err != nil || e.Duration != 0 {
		t.Errorf("cache hit: %+v", e)
	}
	if e := rec.intro[2]; e.Cached || !errors.Is(e.Err, middleware.ErrTokenInactive) {
		t.Errorf("inactive: %+v", e)
	}
}

func TestObserverReplay(t *testing.T) {
	kit := hgKit(t)
	rec := newObsRecorder()
	key := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	failing := hgReplayFunc(func(context.Context, string, time.Time) (bool, error) { return false, errors.New("store down") })
	v := hgReady(t, kit, middleware.Config{Observer: rec.observer(), DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed}})
	vf := hgReady(t, kit, middleware.Config{Observer: rec.observer(), DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed, ReplayStore: failing}})
	p := hgProof(key, token, middlewaretest.Proof{})
	_, _ = v.Check(hgDPoPRequest(token, p), middleware.Policy{})
	_, _ = v.Check(hgDPoPRequest(token, p), middleware.Policy{})
	_, _ = vf.Check(hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{})), middleware.Policy{})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := []struct{ added, failed bool }{{true, false}, {false, false}, {false, true}}
	if len(rec.replay) != len(want) {
		t.Fatalf("events %+v", rec.replay)
	}
	for i, w := range want {
		if e := rec.replay[i]; e.Added != w.added || (e.Err != nil) != w.failed {
			t.Errorf("event %d: %+v, want added %v failed %v", i, e, w.added, w.failed)
		}
	}
}
