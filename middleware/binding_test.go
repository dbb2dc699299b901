package middleware_test

import (
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
)

// TestHardeningSenderConstrained: a token bound to a key through "cnf"
// (RFC 7800) must be used with proof of possession: DPoP (RFC 9449 §7.2)
// or mutual TLS (RFC 8705 §3). Sent as a plain bearer token it is refused.
func TestHardeningSenderConstrained(t *testing.T) {
	t.Parallel()
	f := hgShared()
	k := hgKeys()
	for name, cnf := range map[string]any{
		"DPoP jkt":        map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
		"mTLS x5t#S256":   map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
		"jwk":             map[string]any{"jwk": hgJwk(k.ec, "pop", "ES256")},
		"jkt and unknown": map[string]any{"jkt": "x", "other": 1},
	} {
		t.Run(name, func(t *testing.T) {
			tok := f.kit.Sign(map[string]any{"typ": "at+jwt"}, hgWith(hgValidClaims(f.kit.URL), "cnf", cnf))
			f.h.refuse(t, tok, middleware.ErrSenderConstrained)
		})
	}
}
