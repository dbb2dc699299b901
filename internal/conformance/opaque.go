package conformance

import (
	"net/http"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Opaque access tokens by introspection (RFC 7662), for every front end.

// The client the opaque-token validator introspects as.
const (
	opaqueClient = "conformance-rs"
	opaqueSecret = "conformance secret"
)

var (
	inactive    = invalidToken("the token is not active")
	cannotCheck = refusal{status: 503, code: "temporarily_unavailable", desc: "the token cannot be checked now", retryAfter: true}
)

// runOpaque runs [OpaqueCases] against the app build makes for a validator
// of iss that introspects opaque tokens, in process and over a socket,
// then the answers of a validator whose introspection endpoint fails.
func runOpaque(t *testing.T, iss *middlewaretest.Issuer, build func(v *middleware.Validator) http.Handler) {
	t.Helper()
	iss.AddClient(middlewaretest.Client{ID: opaqueClient, Secret: opaqueSecret})
	cfg := suiteConfig(iss, 10*time.Second)
	cfg.Introspection = &middleware.Introspection{ClientID: opaqueClient, ClientSecret: opaqueSecret, CacheTTL: time.Minute}
	cases := OpaqueCases(iss)
	runWith(t, cfg, build, func() []Case { return cases })

	t.Run("endpoint failing", func(t *testing.T) {
		failing := cfg
		failing.Introspection.Endpoint = iss.URL + "/no-such-endpoint"
		fv, err := middleware.New(t.Context(), failing)
		if err != nil {
			t.Fatal(err)
		}
		opaque := bearer(iss.OpaqueToken(middlewaretest.Spec{Scopes: []string{"read:users"}}))
		RunHandler(t, build(fv), []Case{
			cannotCheck.on("opaque token", http.MethodGet, "/me", opaque),
			cannotCheck.on("opaque token on a scoped route", http.MethodGet, "/users", opaque),
			cannotCheck.on("opaque token on an optional route", http.MethodGet, "/optional", opaque),
			noToken.on("no token", http.MethodGet, "/me", nil),
		})
	})
}

// OpaqueCases returns the cases for an app whose validator is that of
// [Cases] with Config.Introspection set to introspect iss's opaque tokens:
// opaque and JWT access tokens of one issuer side by side, the same
// answers for both.
func OpaqueCases(iss *middlewaretest.Issuer) []Case {
	opaque := func(s middlewaretest.Spec) http.Header { return bearer(iss.OpaqueToken(s)) }
	scoped := func(scopes ...string) http.Header { return opaque(middlewaretest.Spec{Scopes: scopes}) }
	revoked := iss.OpaqueToken(middlewaretest.Spec{Scopes: []string{"read:users"}})
	iss.Revoke(revoked)
	const get, del = http.MethodGet, http.MethodDelete
	return []Case{
		ok("opaque token", get, "/me", scoped("read:users"), me("read:users")),
		ok("JWT beside it", get, "/me", bearer(iss.Token(middlewaretest.Spec{Scopes: []string{"read:users"}})), me("read:users")),
		ok("opaque token on a scoped route", get, "/users", scoped("read:users"), nil),
		ok("opaque token, alternative scopes", del, "/users/42", scoped("users:write", "users:delete"), nil),
		insufficientScope("read:users").on("opaque token without the scope", get, "/users", scoped("write:users")),
		ok("opaque token on an optional route", get, "/optional", scoped(), map[string]any{"sub": "user-123"}),
		inactive.on("unknown opaque token", get, "/me", bearer("bm90LWEtdG9rZW4")),
		inactive.on("revoked opaque token", get, "/me", bearer(revoked)),
		inactive.on("opaque token expired at the issuer", get, "/me", opaque(middlewaretest.Spec{Lifetime: -time.Hour})),
		inactive.on("unknown opaque token on an optional route", get, "/optional", bearer("bm90LWEtdG9rZW4")),
		wrongAudience.on("opaque token for another audience", get, "/me", opaque(middlewaretest.Spec{Audience: []string{"https://other.example.test"}})),
		wrongAudience.on("opaque token without audience", get, "/me", opaque(middlewaretest.Spec{Claims: map[string]any{"aud": nil}})),
		untrustedIssuer.on("opaque token naming another issuer", get, "/me", opaque(middlewaretest.Spec{Claims: map[string]any{"iss": "https://evil.example.test"}})),
		untrustedIssuer.on("opaque token with an empty iss", get, "/me", opaque(middlewaretest.Spec{Claims: map[string]any{"iss": ""}})),
		malformedToken.on("opaque token answered with ACTIVE beside active", get, "/me", opaque(middlewaretest.Spec{Claims: map[string]any{"ACTIVE": false}})),
		malformedToken.on("opaque token answered with Token_Type beside token_type", get, "/me", opaque(middlewaretest.Spec{Claims: map[string]any{"Token_Type": "refresh_token"}})),
		notAccessToken.on("opaque refresh token", get, "/me", opaque(middlewaretest.Spec{Claims: map[string]any{"token_type": "refresh_token"}})),
		senderConstraint.on("opaque DPoP-bound token", get, "/me", opaque(middlewaretest.Spec{Claims: map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}})),
		senderConstraint.on("opaque DPoP-bound token typed DPoP", get, "/me", opaque(middlewaretest.Spec{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", Claims: map[string]any{"token_type": "DPoP"}})),
		uncheckedBinding.on("opaque token bound by a jku", get, "/me", opaque(middlewaretest.Spec{Claims: map[string]any{"cnf": map[string]any{"jku": "https://client.example.test/jwks"}}})),
		ok("opaque token, claim requirement", get, "/claims/org", opaque(middlewaretest.Spec{Claims: map[string]any{"org_id": "org_a"}}), nil),
		malformedHeader.on("opaque token with illegal characters", get, "/me", authorization("Bearer abc$")),
	}
}
