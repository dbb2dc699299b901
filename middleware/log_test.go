package middleware_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// hgLog collects a validator's log records as JSON.
type hgLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *hgLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *hgLog) logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: level}))
}

func (l *hgLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// refusals returns the refusal records logged so far.
func (l *hgLog) refusals(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "bearerguard: request refused" {
			out = append(out, rec)
		}
	}
	return out
}

// hgOneRefusal serves r through h and returns the one refusal logged.
func hgOneRefusal(t *testing.T, l *hgLog, h http.Handler, r *http.Request) map[string]any {
	t.Helper()
	l.mu.Lock()
	l.buf.Reset()
	l.mu.Unlock()
	if w := hgServe(h, r); w.Code == http.StatusOK {
		t.Fatal("status 200, want a refusal")
	}
	recs := l.refusals(t)
	if len(recs) != 1 {
		t.Fatalf("%d refusal records, want 1:\n%s", len(recs), l.String())
	}
	return recs[0]
}

// hgField returns the value at a dotted path of a JSON record.
func hgField(rec map[string]any, path string) any {
	var v any = rec
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func hgStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// TestRefusalLog: each refusal is one record that names the check that
// refused it, with what was found and what was expected.
func TestRefusalLog(t *testing.T) {
	t.Parallel()
	kit := hgKit(t)
	var l hgLog
	v := hgReady(t, kit, middleware.Config{
		Logger:      l.logger(slog.LevelDebug),
		ScopeClaims: []string{"scope", "permissions"},
	})
	route := v.RequireScope("delete:users")
	h := route(hgOK)
	kid := kit.KeyID("RS256")
	exp := hgNow.Add(-time.Hour)

	tests := []struct {
		name   string
		token  string
		check  string
		status int
		want   map[string]any      // dotted path -> value
		lists  map[string][]string // dotted path -> list value
	}{
		{
			name:  "wrong audience",
			token: hgToken(kit, middlewaretest.Spec{Audience: []string{"https://other.example.test"}}),
			check: "audience", status: 401,
			want:  map[string]any{"token.iss": kit.URL, "token.alg": "RS256", "token.kid": kid, "token.typ": "at+jwt", "token.exp": "2030-03-01T13:00:00Z", "token.iat": "2030-03-01T12:00:00Z", "now": "2030-03-01T12:00:00Z"},
			lists: map[string][]string{"token.aud": {"https://other.example.test"}, "want.aud": {hgAudience}},
		},
		{
			name:  "expired",
			token: hgToken(kit, middlewaretest.Spec{IssuedAt: exp.Add(-time.Hour), Lifetime: time.Hour}),
			check: "times", status: 401,
			want: map[string]any{"token.exp": exp.Format(time.RFC3339), "now": hgNow.Format(time.RFC3339), "leeway": float64(middleware.DefaultLeeway)},
		},
		{
			name:  "ID token",
			token: hgToken(kit, middlewaretest.Spec{Kind: middlewaretest.IDToken, Audience: []string{hgAudience}}),
			check: "type", status: 401,
			lists: map[string][]string{"token.id_token_claims": {"nonce", "at_hash"}},
		},
		{
			name:  "untrusted issuer",
			token: kit.Sign(hgHeader(nil), hgClaims(kit, map[string]any{"iss": "https://evil.example.test"})),
			check: "issuer", status: 401,
			want:  map[string]any{"token.iss": "https://evil.example.test"},
			lists: map[string][]string{"want.iss": {kit.URL}},
		},
		{
			name:  "unknown kid",
			token: kit.Sign(hgHeader(map[string]any{"kid": "no-such-key"}), hgClaims(kit, nil)),
			check: "key", status: 401,
			want: map[string]any{"token.kid": "no-such-key"},
		},
		{
			name:  "algorithm",
			token: hgSegment(hgToken(kit, middlewaretest.Spec{}), 0, hgB64([]byte(`{"alg":"HS256","kid":"k"}`))),
			check: "header", status: 401,
			want:  map[string]any{"token.alg": "HS256"},
			lists: map[string][]string{"want.alg": middleware.DefaultAlgorithms()},
		},
		{
			name:  "signature",
			token: hgSegment(hgToken(kit, middlewaretest.Spec{}), 2, hgB64([]byte("not the signature"))),
			check: "signature", status: 401,
		},
		{
			name:  "scope missing",
			token: hgToken(kit, middlewaretest.Spec{Scopes: []string{"read:users"}}),
			check: "scope", status: 403,
			want:  map[string]any{"want.scope": "delete:users"},
			lists: map[string][]string{"token.scopes": {"read:users"}, "token.scope_claims": {"scope"}, "token.scope_claims_absent": {"permissions"}},
		},
		{
			// The scope is granted in no claim bearerguard reads: told
			// apart from a missing scope by scope_claims.
			name:  "scope claims missing",
			token: hgToken(kit, middlewaretest.Spec{Claims: map[string]any{"perms": []string{"delete:users"}}}),
			check: "scope", status: 403,
			lists: map[string][]string{"token.scopes": {}, "token.scope_claims": {}, "token.scope_claims_absent": {"scope", "permissions"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := hgOneRefusal(t, &l, h, hgRequest(tc.token))
			if got := hgField(rec, "check"); got != tc.check {
				t.Errorf("check %v, want %s", got, tc.check)
			}
			if got := hgField(rec, "status"); got != float64(tc.status) {
				t.Errorf("status %v, want %d", got, tc.status)
			}
			if got := hgField(rec, "level"); got != "DEBUG" {
				t.Errorf("level %v, want DEBUG (the default)", got)
			}
			for path, want := range tc.want {
				if got := hgField(rec, path); got != want {
					t.Errorf("%s = %v, want %v", path, got, want)
				}
			}
			for path, want := range tc.lists {
				got := hgField(rec, path)
				if got == nil || !slices.Equal(hgStrings(got), want) {
					t.Errorf("%s = %v, want %q", path, got, want)
				}
			}
		})
	}

	t.Run("no token", func(t *testing.T) {
		rec := hgOneRefusal(t, &l, h, httptest.NewRequest(http.MethodGet, "/", nil))
		if hgField(rec, "check") != "request" || hgField(rec, "status") != float64(401) || hgField(rec, "token") != nil {
			t.Errorf("record %v, want check request, status 401, no token facts", rec)
		}
	})
}

// TestRefusalLogKeysUnavailable: a 503 is logged as a refusal of the key
// check, with the cause of the failed fetch.
func TestRefusalLogKeysUnavailable(t *testing.T) {
	t.Parallel()
	kit := hgKit(t)
	kit.SetStatus(http.StatusServiceUnavailable)
	var l hgLog
	v := hgNew(t, kit, middleware.Config{Logger: l.logger(slog.LevelDebug)})
	rec := hgOneRefusal(t, &l, v.Authenticate(hgOK), hgRequest(hgToken(kit, middlewaretest.Spec{})))
	if hgField(rec, "check") != "key" || hgField(rec, "status") != float64(503) {
		t.Errorf("record %v, want check key, status 503", rec)
	}
}

// TestRefusalLogSecrets: the log never holds the token, its signature, or
// the value of a claim other than those it documents.
func TestRefusalLogSecrets(t *testing.T) {
	t.Parallel()
	kit := hgKit(t)
	var l hgLog
	v := hgReady(t, kit, middleware.Config{Logger: l.logger(slog.LevelDebug), ClientIDs: []string{"test-client"}, Audiences: []string{hgAudience}})
	h := v.RequireScope("admin")(hgOK)
	const secret = "custom-claim-value-Zq81"
	custom := map[string]any{"org_secret": secret, "email": secret + "@example.com", "sub": secret, "name": secret}
	for _, spec := range []middlewaretest.Spec{
		{Claims: custom, Scopes: []string{"read:users"}},              // insufficient scope
		{Claims: custom, Audience: []string{"https://other.example"}}, // audience
		{Claims: custom, Lifetime: -time.Hour},                        // expired
		{Claims: custom, Kind: middlewaretest.IDToken},                // ID token
	} {
		token := hgToken(kit, spec)
		hgOneRefusal(t, &l, h, hgRequest(token))
		logged := l.String()
		sig := token[strings.LastIndexByte(token, '.')+1:]
		for what, s := range map[string]string{"token": token, "signature": sig, "custom claim value": secret} {
			if strings.Contains(logged, s) {
				t.Errorf("the log contains the %s:\n%s", what, logged)
			}
		}
	}
}

// TestRefusalLogLevel: refusals are logged at Debug unless
// Config.RefusalLogLevel says otherwise, so that a logger at Info shows
// them only when asked.
func TestRefusalLogLevel(t *testing.T) {
	t.Parallel()
	kit := hgKit(t)
	token := hgToken(kit, middlewaretest.Spec{Audience: []string{"https://other.example.test"}})
	for _, tc := range []struct {
		name  string
		level slog.Leveler
		want  string // level of the record at an Info logger, "" for none
	}{
		{"default", nil, ""},
		{"info", slog.LevelInfo, "INFO"},
		{"warn", slog.LevelWarn, "WARN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l hgLog
			v := hgReady(t, kit, middleware.Config{Logger: l.logger(slog.LevelInfo), RefusalLogLevel: tc.level})
			hgServe(v.Authenticate(hgOK), hgRequest(token))
			recs := l.refusals(t)
			switch {
			case tc.want == "" && len(recs) != 0:
				t.Errorf("logged at Info by default: %v", recs)
			case tc.want != "" && (len(recs) != 1 || recs[0]["level"] != tc.want):
				t.Errorf("records %v, want one at %s", recs, tc.want)
			}
		})
	}
}

// TestRefusalLogDiagnosis: the refusal log names what a user needs to fix
// a configuration: a claim outside ScopeClaims that holds a wanted scope
// (the Auth0 RBAC mistake), the claim and values a claim requirement
// wanted, the proof's htm or htu beside the expected one, and an issuer
// that differs only by a trailing slash. It names no other claim value.
func TestRefusalLogDiagnosis(t *testing.T) {
	t.Parallel()
	kit := hgKit(t)
	const private = "private-value-Zq81"
	key := middlewaretest.NewDPoPKey("ES256")
	bound := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	claimsToken := func(kv ...any) string { return kit.Sign(nil, hgWith(hgClaims(kit, nil), kv...)) }
	tests := []struct {
		name        string
		cfg         middleware.Config
		route       middleware.Policy
		r           *http.Request
		check       string
		hint        string // "" for none; else a part of the hint
		want        map[string]any
		lists       map[string][]string
		withoutText []string // values the log must not hold
	}{
		{
			name:  "permissions holds the scope (Auth0 RBAC, default ScopeClaims)",
			route: middleware.Policy{Scopes: []string{"delete:users", "admin"}},
			r:     hgRequest(claimsToken("permissions", []any{private, "delete:users"})),
			check: "scope", hint: "permissions holds delete:users; add it to Config.ScopeClaims",
			withoutText: []string{private},
		},
		{
			name:  "roles holds both scopes",
			route: middleware.Policy{Scopes: []string{"delete:users write:users"}},
			r:     hgRequest(claimsToken("roles", []any{"write:users", private, "delete:users"})),
			check: "scope", hint: "roles holds delete:users write:users; add it to Config.ScopeClaims",
			withoutText: []string{private},
		},
		{
			name:  "scp as a string, outside ScopeClaims",
			cfg:   middleware.Config{ScopeClaims: []string{"permissions"}},
			route: middleware.Policy{Scopes: []string{"delete:users"}},
			r:     hgRequest(claimsToken("scp", private+" delete:users")),
			check: "scope", hint: "scp holds delete:users; add it to Config.ScopeClaims",
			withoutText: []string{private},
		},
		{
			name:  "scp as an array, outside ScopeClaims",
			cfg:   middleware.Config{ScopeClaims: []string{"permissions"}},
			route: middleware.Policy{Scopes: []string{"delete:users"}},
			r:     hgRequest(claimsToken("scp", []any{"delete:users"})),
			check: "scope", hint: "scp holds delete:users; add it to Config.ScopeClaims",
		},
		{
			name:  "scope, outside ScopeClaims",
			cfg:   middleware.Config{ScopeClaims: []string{"roles"}},
			route: middleware.Policy{Scopes: []string{"delete:users"}},
			r:     hgRequest(claimsToken("scope", "delete:users "+private)),
			check: "scope", hint: "scope holds delete:users; add it to Config.ScopeClaims",
			withoutText: []string{private},
		},
		{
			name:  "no claim holds the scope",
			route: middleware.Policy{Scopes: []string{"delete:users"}},
			r:     hgRequest(claimsToken("permissions", []any{private})),
			check: "scope",
		},
		{
			name:  "a claim read already is no hint",
			cfg:   middleware.Config{ScopeClaims: []string{"scope", "permissions"}},
			route: middleware.Policy{Scopes: []string{"delete:users write:users"}},
			r:     hgRequest(claimsToken("permissions", []any{"delete:users"})),
			check: "scope",
		},
		{
			name:        "claim requirement",
			route:       middleware.Policy{Claims: []middleware.ClaimRequirement{middleware.ClaimValues("org_id", "org_a", "org_b")}},
			r:           hgRequest(claimsToken("org_id", private)),
			check:       "policy",
			want:        map[string]any{"want.claim": "org_id", "want.claim_values": "org_a org_b"},
			withoutText: []string{private},
		},
		{
			name:  "step-up",
			route: middleware.Policy{ACRValues: []string{"urn:mfa"}, MaxAge: 5 * time.Minute},
			r:     hgRequest(claimsToken("acr", "urn:pwd", "auth_time", hgNow.Add(-time.Hour).Unix())),
			check: "user_authentication",
			want:  map[string]any{"want.max_age": float64(5 * time.Minute), "token.auth_time": "2030-03-01T11:00:00Z", "token.machine": false},
			lists: map[string][]string{"token.acr": {"urn:pwd"}, "want.acr_values": {"urn:mfa"}},
		},
		{
			name:  "issuer with a trailing slash",
			r:     hgRequest(claimsToken("iss", kit.URL+"/")),
			check: "issuer", hint: "differs only by a trailing slash",
		},
		{
			name:  "DPoP htm",
			cfg:   middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed}},
			r:     hgDPoPRequest(bound, hgProof(key, bound, middlewaretest.Proof{Method: "POST"})),
			check: "binding",
			want:  map[string]any{"token.proof_htm": "POST", "want.htm": "GET"},
		},
		{
			name:  "DPoP htu",
			cfg:   middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed}},
			r:     hgDPoPRequest(bound, hgProof(key, bound, middlewaretest.Proof{URL: "https://proxy.internal:8443/x"})),
			check: "binding",
			want:  map[string]any{"token.proof_htu": "https://proxy.internal:8443/x", "want.htu": hgDPoPURL},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var l hgLog
			cfg := tc.cfg
			cfg.Logger = l.logger(slog.LevelDebug)
			v := hgReady(t, kit, cfg)
			rec := hgOneRefusal(t, &l, v.Require(tc.route)(hgOK), tc.r)
			if got := hgField(rec, "check"); got != tc.check {
				t.Errorf("check %v, want %s", got, tc.check)
			}
			hint, _ := hgField(rec, "hint").(string)
			if tc.hint == "" && hint != "" || !strings.Contains(hint, tc.hint) {
				t.Errorf("hint %q, want %q", hint, tc.hint)
			}
			for path, want := range tc.want {
				if got := hgField(rec, path); got != want {
					t.Errorf("%s = %v, want %v", path, got, want)
				}
			}
			for path, want := range tc.lists {
				if got := hgField(rec, path); got == nil || !slices.Equal(hgStrings(got), want) {
					t.Errorf("%s = %v, want %q", path, got, want)
				}
			}
			for _, s := range tc.withoutText {
				if strings.Contains(l.String(), s) {
					t.Errorf("the log holds %q, a value of a claim it does not document:\n%s", s, l.String())
				}
			}
		})
	}
}

// TestRefusalLogIssuerRules: a token refused by the rules of its issuer is
// logged with that issuer's rules, not Config's, also for an issuer added
// at run time by ResolveIssuer, as for one listed in ExtraIssuers.
func TestRefusalLogIssuerRules(t *testing.T) {
	a, b := hgKit(t), hgKit(t)
	for name, cfg := range hgResolvedOrListed(b, middleware.Issuer{Audiences: []string{hgAPIB}}) {
		t.Run(name, func(t *testing.T) {
			var l hgLog
			cfg.Logger = l.logger(slog.LevelDebug)
			v := hgReady(t, a, cfg)
			hgWaitIssuer(t, v, b, hgToken(b, middlewaretest.Spec{Audience: []string{hgAPIB}}))
			tok := hgToken(b, middlewaretest.Spec{Audience: []string{"https://other.example.test"}})
			rec := hgOneRefusal(t, &l, v.Authenticate(hgOK), hgRequest(tok))
			if got := hgField(rec, "check"); got != "audience" {
				t.Fatalf("check %v, want audience", got)
			}
			if got := hgStrings(hgField(rec, "want.aud")); !slices.Equal(got, []string{hgAPIB}) {
				t.Errorf("want.aud = %q, want the issuer's %q", got, hgAPIB)
			}
		})
	}
}
