package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestHardeningSenderConstrained: a token bound to a key through "cnf"
// (RFC 7800) must be used with proof of possession: DPoP (RFC 9449 §7.2)
// or mutual TLS (RFC 8705 §3). Sent as a plain bearer token it is refused.
// (A "cnf" bearerguard cannot check: TestUnsupportedConfirmation.)
func TestHardeningSenderConstrained(t *testing.T) {
	t.Parallel()
	f := hgShared()
	for name, cnf := range map[string]any{
		"DPoP jkt":         map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
		"mTLS x5t#S256":    map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
		"jkt and x5t#S256": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
	} {
		t.Run(name, func(t *testing.T) {
			tok := f.kit.Sign(map[string]any{"typ": "at+jwt"}, hgWith(hgValidClaims(f.kit.URL), "cnf", cnf))
			f.h.refuse(t, tok, middleware.ErrSenderConstrained)
		})
	}
}

// TestUnsupportedConfirmation: a token whose "cnf" holds a confirmation
// method bearerguard cannot check (RFC 7800 §3: "jwk", "jwe", "jku", "kid",
// or any member it does not know, beside a method it knows or alone), or
// none at all (an empty object), is refused however it is presented, since
// possession cannot be confirmed; a "cnf" that is not a JSON object is
// malformed. The rule holds for JWTs, introspection answers and
// Config.LookupToken results alike.
func TestUnsupportedConfirmation(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	jkt := key.Thumbprint()
	const x5t = "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"
	k := hgKeys()
	unsupported := []error{middleware.ErrUnsupportedConfirmation}
	malformed := []error{middleware.ErrMalformedToken}
	cases := []struct {
		name string
		cnf  any
		want []error // of a JWT and an introspection answer
	}{
		{"kid", map[string]any{"kid": "dfd1aa97-6d8d-4575-a0fe-34b96de2bfad"}, unsupported},
		{"jwe", map[string]any{"jwe": "eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn"}, unsupported},
		{"jku", map[string]any{"jku": "https://client.example.test/jwks", "kid": "k1"}, unsupported},
		{"jwk", map[string]any{"jwk": hgJwk(k.ec, "pop", "ES256")}, unsupported},
		{"unknown member", map[string]any{"x5t#S384": "abc"}, unsupported},
		{"empty object", map[string]any{}, unsupported},
		{"jkt and kid", map[string]any{"jkt": jkt, "kid": "k1"}, unsupported},
		{"jkt differing in case", map[string]any{"JKT": jkt}, unsupported},
		{"x5t#S256 and jwk", map[string]any{"x5t#S256": x5t, "jwk": hgJwk(k.ec, "pop", "ES256")}, unsupported},
		{"null", nil, malformed},
		{"a string", "jkt", malformed},
		{"an array", []any{map[string]any{"jkt": jkt}}, malformed},
	}

	jwtV := hgReady(t, kit, middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed}})
	introV := hgIntrospecting(t, kit, middleware.Config{
		Now:  func() time.Time { return hgNow },
		DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed},
	})
	for _, tc := range cases {
		cnfJSON := hgMustJSON(tc.cnf)
		t.Run("JWT "+tc.name, func(t *testing.T) {
			token := hgToken(kit, middlewaretest.Spec{Claims: map[string]any{"cnf": json.RawMessage(cnfJSON)}})
			_, err := jwtV.ValidateToken(t.Context(), token)
			hgWant(t, err, tc.want...)
			_, err = jwtV.Check(hgRequest(token), middleware.Policy{})
			hgWant(t, err, tc.want...)
			// With a valid proof of the key a "jkt" names, if any.
			_, err = jwtV.Check(hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{})), middleware.Policy{})
			hgWant(t, err, tc.want...)
		})
		t.Run("introspected "+tc.name, func(t *testing.T) {
			token := kit.OpaqueToken(middlewaretest.Spec{IssuedAt: hgNow, Claims: map[string]any{"cnf": json.RawMessage(cnfJSON)}})
			_, err := introV.ValidateToken(t.Context(), token)
			hgWant(t, err, tc.want...)
			_, err = introV.Check(hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{})), middleware.Policy{})
			hgWant(t, err, tc.want...)
		})
		t.Run("LookupToken "+tc.name, func(t *testing.T) {
			const token = "opaque-token-1"
			v := hgReady(t, kit, middleware.Config{
				DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed},
				LookupToken: func(_ context.Context, tok string) (*claims.Claims, error) {
					return &claims.Claims{
						Issuer: kit.URL, Audience: []string{hgAudience}, ExpiresAt: hgNow.Add(time.Hour),
						Payload: []byte(`{"sub":"u","cnf":` + cnfJSON + `}`),
					}, nil
				},
			})
			// The application's payload that is not what it should be is
			// its store failing: 503, as for any payload it cannot read.
			want := tc.want
			if errors.Is(want[0], middleware.ErrMalformedToken) {
				want = []error{middleware.ErrKeysUnavailable, middleware.ErrLookupFailed}
			}
			_, err := v.ValidateToken(t.Context(), token)
			hgWant(t, err, want...)
			_, err = v.Check(hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{})), middleware.Policy{})
			hgWant(t, err, want...)
		})
	}
}
