package middlewaretest

import "maps"

// Multi-tenant issuers (Microsoft Entra ID): the kit's forms of the v1.0
// and v2.0 issuers of a tenant, tokens of a tenant ([Spec.Tenant],
// [EntraV1]) and key sets whose keys name the issuer they sign for
// ([Issuer.SetKeyIssuer]), as Entra's common keys do.

// EntraTenantID returns the fixed, fictitious tenant ("tid") of the Entra
// profile's tokens without [Spec.Tenant].
func EntraTenantID() string { return entraTenantID() }

// EntraIssuer returns the kit's form of an Entra ID issuer of tenant:
// URL+"/"+tenant+"/v2.0" for v2.0 tokens (Entra's
// "https://login.microsoftonline.com/{tenantid}/v2.0"), and
// URL+"/sts.windows.net/"+tenant+"/" for v1.0 ("https://sts.windows.net/{tenantid}/").
// Replace tenant by "{tenantid}" to get the template.
func (i *Issuer) EntraIssuer(tenant string, v1 bool) string {
	if v1 {
		return i.URL + "/sts.windows.net/" + tenant + "/"
	}
	return i.URL + "/" + tenant + "/v2.0"
}

// SetKeyIssuer makes every JWK the kit serves carry an "issuer" member
// with value issuer, such as a template with "{tenantid}" as in Entra's
// common keys ("https://login.microsoftonline.com/{tenantid}/v2.0"). An
// empty issuer removes the member.
func (i *Issuer) SetKeyIssuer(issuer string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keyIssuer = issuer
}

// withKeyIssuer returns jwk with an "issuer" member, if issuer is set.
func withKeyIssuer(jwk map[string]any, issuer string) map[string]any {
	if issuer == "" {
		return jwk
	}
	out := maps.Clone(jwk)
	out["issuer"] = issuer
	return out
}

// tenantShape applies Spec.Tenant and the EntraV1 profile to the claims of
// an Entra access token.
func (i *Issuer) tenantShape(s Spec, claims map[string]any) {
	if s.Profile != Entra && s.Profile != EntraV1 {
		return
	}
	tenant := s.Tenant
	if tenant == "" {
		if s.Profile == Entra {
			return // the fixed tenant and issuer, as before
		}
		tenant = entraTenantID()
	}
	claims["tid"] = tenant
	claims["iss"] = i.EntraIssuer(tenant, s.Profile == EntraV1)
	if s.Profile == EntraV1 {
		claims["ver"] = "1.0"
		claims["appid"] = claims["azp"]
		delete(claims, "azp")
		delete(claims, "azpacr")
		claims["appidacr"] = "1"
	}
}
