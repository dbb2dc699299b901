package middleware

import (
	"encoding/json"
	"strings"

	"github.com/bearerguard/bearerguard/internal/jsonscan"
)

// This file holds multi-tenant issuers: an Issuer.Issuer that is a template
// with TenantPlaceholder, such as Entra ID's
// "https://login.microsoftonline.com/{tenantid}/v2.0". trustFor (issuers.go)
// matches a token's "iss" against the templates (tenantOf), then checks the
// tenant (accepts) and the token's "tid"; after the signature, a key's
// "issuer" member, as Entra's common keys carry, must name the token's
// issuer for its tenant (checkKeyIssuer).

// TenantPlaceholder marks the tenant in the template of a multi-tenant
// issuer, see Issuer.Issuer.
const TenantPlaceholder = "{tenantid}"

// tenantOf returns the tenant of iss if it matches the template ti.
func (ti *trust) tenantOf(iss string) (string, bool) {
	if !ti.template || len(iss) <= len(ti.head)+len(ti.tail) ||
		!strings.HasPrefix(iss, ti.head) || !strings.HasSuffix(iss, ti.tail) {
		return "", false
	}
	tenant := iss[len(ti.head) : len(iss)-len(ti.tail)]
	return tenant, validTenant(tenant)
}

// accepts reports whether tenant is one of Tenants, or AllowTenant says so.
func (ti *trust) accepts(tenant string) bool {
	if ti.allowTenant != nil {
		return ti.allowTenant(tenant)
	}
	return ti.tenants[tenant]
}

// validTenant reports whether s may be a tenant: 1 to 64 letters, digits,
// "-", "." or "_" (an Entra tenant is a GUID), so that no "/" or other
// URL syntax can move the issuer it names.
func validTenant(s string) bool {
	if s == "" || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// checkKeyIssuer applies a key's "issuer" member (Entra ID): the key signs
// only for that issuer, a template whose placeholder is the token's tenant
// (from its template, else its "tid"). A template's key may name any
// template of its JWKS URL (Entra's common keys name the v2.0 issuer, and
// also sign v1.0 tokens).
func (ti *trust) checkKeyIssuer(key *verifyKey, t *jwsToken) error {
	if key.issuer == "" {
		return nil
	}
	iss := t.claims.Iss
	tenant, ok := ti.tenantOf(iss)
	if !ok {
		tenant = claimString(t.claims.raw, "tid")
	}
	named := strings.ReplaceAll(key.issuer, TenantPlaceholder, tenant)
	if named == iss {
		return nil
	}
	for _, tmpl := range ti.keyIssuers {
		if named == strings.ReplaceAll(tmpl, TenantPlaceholder, tenant) && validTenant(tenant) {
			return nil
		}
	}
	return invalidToken(ErrInvalidIssuer, nil)
}

// claimString returns the top-level string claim name of the claims set
// raw, "" if it is absent or not a string.
func claimString(raw []byte, name string) string {
	var out string
	_ = jsonscan.Object(raw, func(n string, v []byte) error {
		if n == name {
			out, _ = jsonscan.String(v)
		}
		return nil
	})
	return out
}

// keyIssuer returns the "issuer" member of a raw JWK; ok is false when it
// is present but not a string.
func keyIssuer(raw []byte) (iss string, ok bool) {
	var m struct {
		Issuer *json.RawMessage `json:"issuer"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Issuer == nil {
		return "", true
	}
	if err := json.Unmarshal(*m.Issuer, &iss); err != nil {
		return "", false
	}
	return iss, true
}
