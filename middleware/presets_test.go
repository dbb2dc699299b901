package middleware_test

import (
	"context"
	"maps"
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// The presets (presets.go), each moved onto a test kit (its issuer and
// JWKS URL; every other rule as the preset has it): a token that breaks
// one rule is answered as the rule says, and answered otherwise once that
// rule is removed from the preset, so that removing any rule fails.

// hgRule is one rule of a preset: token under policy is answered with
// want, and with without once drop has removed the rule (drop nil: the
// rule is built in, not a setting).
type hgRule struct {
	name    string
	token   string
	policy  middleware.Policy
	want    error
	drop    func(is *middleware.Issuer)
	without error
}

// hgPresetCheck runs the good tokens and the rules of preset.
func hgPresetCheck(t *testing.T, preset []middleware.Issuer, good []string, rules []hgRule) {
	t.Helper()
	validator := func(t *testing.T, list []middleware.Issuer) *middleware.Validator {
		v, err := middleware.New(t.Context(), middleware.Config{Now: hgFixedNow, ExtraIssuers: list})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if err := v.WaitReady(t.Context()); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := validator(t, preset)
	for i, tok := range good {
		if _, err := v.Check(hgRequest(tok), middleware.Policy{}); err != nil {
			t.Errorf("good token %d refused: %v", i, err)
		}
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			_, err := v.Check(hgRequest(r.token), r.policy)
			hgWant(t, err, hgWants(r.want)...)
			if r.drop == nil {
				return
			}
			list := make([]middleware.Issuer, len(preset))
			for i, is := range preset {
				is.RequiredClaims = maps.Clone(is.RequiredClaims)
				r.drop(&is)
				list[i] = is
			}
			_, err = validator(t, list).Check(hgRequest(r.token), r.policy)
			hgWant(t, err, hgWants(r.without)...)
		})
	}
}

// hgOnKit moves a preset onto kit: its issuer becomes iss, its keys the
// kit's.
func hgOnKit(is middleware.Issuer, kit *middlewaretest.Issuer, iss string) middleware.Issuer {
	is.Issuer, is.JWKSURL = iss, kit.JWKSURL()
	return is
}

func TestPresetEntra(t *testing.T) {
	kit := hgKitAll(t)
	tenant := middlewaretest.EntraTenantID()
	preset := []middleware.Issuer{hgOnKit(middleware.Entra(tenant, hgAudience), kit, kit.EntraIssuer(tenant, false))}
	tok := func(s middlewaretest.Spec) string {
		s.Profile, s.Tenant = middlewaretest.Entra, tenant
		return hgToken(kit, s)
	}
	hgPresetCheck(t, preset, []string{tok(middlewaretest.Spec{})}, []hgRule{
		{name: "RS256 only", token: tok(middlewaretest.Spec{Alg: "ES256"}), want: middleware.ErrUnsupportedAlgorithm,
			drop: func(is *middleware.Issuer) { is.Algorithms = nil }},
		{name: "tid of the tenant", token: tok(middlewaretest.Spec{Claims: map[string]any{"tid": "other"}}), want: middleware.ErrNotAccessToken,
			drop: func(is *middleware.Issuer) { delete(is.RequiredClaims, "tid") }},
		{name: "ver 2.0", token: tok(middlewaretest.Spec{Claims: map[string]any{"ver": "1.0"}}), want: middleware.ErrNotAccessToken,
			drop: func(is *middleware.Issuer) { delete(is.RequiredClaims, "ver") }},
		{name: "application roles are scopes", token: tok(middlewaretest.Spec{Machine: true, Scopes: []string{"read"}}),
			policy: middleware.ScopePolicy("read"),
			drop:   func(is *middleware.Issuer) { is.ScopeClaims = nil }, without: middleware.ErrInsufficientScope},
		{name: "authentication contexts in acrs", token: tok(middlewaretest.Spec{Claims: map[string]any{"acrs": []string{"c1"}}}),
			policy: middleware.Policy{ACRValues: []string{"c1"}},
			drop:   func(is *middleware.Issuer) { is.ACRClaim = "" }, without: middleware.ErrACRNotAccepted},
	})
}

func TestPresetEntraMultiTenant(t *testing.T) {
	const t1, t2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
	kit := hgKitAll(t)
	kit.SetKeyIssuer(kit.EntraIssuer(middleware.TenantPlaceholder, false))
	preset := middleware.EntraMultiTenant(func(tenant string) bool { return tenant == t1 }, hgAudience)
	preset[0] = hgOnKit(preset[0], kit, kit.EntraIssuer(middleware.TenantPlaceholder, false))
	preset[1] = hgOnKit(preset[1], kit, kit.EntraIssuer(middleware.TenantPlaceholder, true))
	tok := func(tenant string, v1 bool, s middlewaretest.Spec) string {
		s.Profile, s.Tenant = middlewaretest.Entra, tenant
		if v1 {
			s.Profile = middlewaretest.EntraV1
		}
		return hgToken(kit, s)
	}
	good := []string{tok(t1, false, middlewaretest.Spec{}), tok(t1, true, middlewaretest.Spec{})}
	hgPresetCheck(t, preset, good, []hgRule{
		{name: "tenant not allowed", token: tok(t2, false, middlewaretest.Spec{}), want: middleware.ErrInvalidIssuer,
			drop: func(is *middleware.Issuer) { is.AllowTenant = func(string) bool { return true } }},
		{name: "tid is the tenant of iss", token: tok(t1, false, middlewaretest.Spec{Claims: map[string]any{"tid": t2}}), want: middleware.ErrInvalidIssuer},
		{name: "tid of another tenant, both allowed", token: tok(t2, false, middlewaretest.Spec{Claims: map[string]any{"tid": t1}}), want: middleware.ErrInvalidIssuer},
		{name: "a tenant that is a path", token: tok("x/../"+t1, false, middlewaretest.Spec{Claims: map[string]any{"tid": "x/../" + t1}}), want: middleware.ErrInvalidIssuer},
		{name: "ver of the v2.0 issuer", token: tok(t1, false, middlewaretest.Spec{Claims: map[string]any{"ver": "1.0"}}), want: middleware.ErrNotAccessToken,
			drop: func(is *middleware.Issuer) { is.RequiredClaims = nil }},
		{name: "ver of the v1.0 issuer", token: tok(t1, true, middlewaretest.Spec{Claims: map[string]any{"ver": "2.0"}}), want: middleware.ErrNotAccessToken,
			drop: func(is *middleware.Issuer) { delete(is.RequiredClaims, "ver") }},
		{name: "RS256 only", token: tok(t1, false, middlewaretest.Spec{Alg: "ES256"}), want: middleware.ErrUnsupportedAlgorithm,
			drop: func(is *middleware.Issuer) { is.Algorithms = nil }},
		{name: "application roles are scopes", token: tok(t1, false, middlewaretest.Spec{Machine: true, Scopes: []string{"read"}}),
			policy: middleware.ScopePolicy("read"),
			drop:   func(is *middleware.Issuer) { is.ScopeClaims = nil }, without: middleware.ErrInsufficientScope},
		{name: "authentication contexts in acrs", token: tok(t1, false, middlewaretest.Spec{Claims: map[string]any{"acrs": []string{"c1"}}}),
			policy: middleware.Policy{ACRValues: []string{"c1"}},
			drop:   func(is *middleware.Issuer) { is.ACRClaim = "" }, without: middleware.ErrACRNotAccepted},
	})
	t.Run("a key naming another issuer", func(t *testing.T) {
		other := hgKitAll(t)
		other.SetKeyIssuer("https://login.example.test/" + middleware.TenantPlaceholder + "/v2.0")
		list := middleware.EntraMultiTenant(func(string) bool { return true }, hgAudience)
		list[0] = hgOnKit(list[0], other, other.EntraIssuer(middleware.TenantPlaceholder, false))
		list = list[:1]
		v, err := middleware.New(t.Context(), middleware.Config{Now: hgFixedNow, ExtraIssuers: list})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.WaitReady(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, err = v.ValidateToken(context.Background(), hgToken(other, middlewaretest.Spec{Profile: middlewaretest.Entra, Tenant: t1}))
		hgWant(t, err, middleware.ErrInvalidIssuer)
		other.SetKeyIssuer("")
	})
	t.Run("an allowlist of tenants", func(t *testing.T) {
		list := middleware.EntraMultiTenant(nil, hgAudience)
		for i, v1 := range []bool{false, true} {
			list[i] = hgOnKit(list[i], kit, kit.EntraIssuer(middleware.TenantPlaceholder, v1))
			list[i].Tenants = []string{t1}
		}
		v, err := middleware.New(t.Context(), middleware.Config{Now: hgFixedNow, ExtraIssuers: list})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.WaitReady(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, v1 := range []bool{false, true} {
			_, err = v.ValidateToken(t.Context(), tok(t1, v1, middlewaretest.Spec{}))
			hgWant(t, err)
			_, err = v.ValidateToken(t.Context(), tok(t2, v1, middlewaretest.Spec{}))
			hgWant(t, err, middleware.ErrInvalidIssuer)
		}
	})
	t.Run("config", func(t *testing.T) {
		for name, is := range map[string]middleware.Issuer{
			"no JWKS URL":            {Issuer: kit.EntraIssuer(middleware.TenantPlaceholder, false), Audiences: []string{hgAudience}, Tenants: []string{t1}},
			"no tenant rule":         {Issuer: kit.EntraIssuer(middleware.TenantPlaceholder, false), JWKSURL: kit.JWKSURL(), Audiences: []string{hgAudience}},
			"both tenant rules":      {Issuer: kit.EntraIssuer(middleware.TenantPlaceholder, false), JWKSURL: kit.JWKSURL(), Audiences: []string{hgAudience}, Tenants: []string{t1}, AllowTenant: func(string) bool { return true }},
			"tenants of no template": {Issuer: kit.URL, Audiences: []string{hgAudience}, Tenants: []string{t1}},
			"two placeholders":       {Issuer: kit.URL + "/{tenantid}/{tenantid}", JWKSURL: kit.JWKSURL(), Audiences: []string{hgAudience}, Tenants: []string{t1}},
			"a tenant with a slash":  {Issuer: kit.EntraIssuer(middleware.TenantPlaceholder, false), JWKSURL: kit.JWKSURL(), Audiences: []string{hgAudience}, Tenants: []string{"a/b"}},
		} {
			if _, err := middleware.New(t.Context(), middleware.Config{ExtraIssuers: []middleware.Issuer{is}}); err == nil {
				t.Errorf("%s: New accepted it", name)
			}
		}
	})
}

func TestPresetAuth0(t *testing.T) {
	kit := hgKitAll(t)
	custom := kit.URL + "/custom"
	preset := middleware.Auth0([]string{hgAudience}, "tenant.example", "custom.example")
	preset[0] = hgOnKit(preset[0], kit, kit.URL+"/")
	preset[1] = hgOnKit(preset[1], kit, custom+"/")
	tok := func(iss string, s middlewaretest.Spec) string {
		s.Profile = middlewaretest.Auth0
		s.Claims = maps.Clone(s.Claims)
		if s.Claims == nil {
			s.Claims = map[string]any{}
		}
		s.Claims["iss"] = iss
		return hgToken(kit, s)
	}
	hgPresetCheck(t, preset, []string{tok(kit.URL+"/", middlewaretest.Spec{}), tok(custom+"/", middlewaretest.Spec{})}, []hgRule{
		{name: "issuer with its trailing slash", token: tok(kit.URL, middlewaretest.Spec{}), want: middleware.ErrInvalidIssuer},
		{name: "RS256 only", token: tok(custom+"/", middlewaretest.Spec{Alg: "ES256"}), want: middleware.ErrUnsupportedAlgorithm,
			drop: func(is *middleware.Issuer) { is.Algorithms = nil }},
		{name: "permissions are not scopes", token: tok(kit.URL+"/", middlewaretest.Spec{Claims: map[string]any{"scope": nil, "permissions": []string{"read"}}}),
			policy: middleware.ScopePolicy("read"), want: middleware.ErrInsufficientScope,
			drop: func(is *middleware.Issuer) { is.ScopeClaims = []string{"permissions"} }},
		{name: "scopes in scope only", token: tok(kit.URL+"/", middlewaretest.Spec{Claims: map[string]any{"scope": nil, "scp": "read"}}),
			policy: middleware.ScopePolicy("read"), want: middleware.ErrInsufficientScope,
			drop: func(is *middleware.Issuer) { is.ScopeClaims = nil }},
	})
}

func TestPresetCognito(t *testing.T) {
	kit := hgKitAll(t)
	preset := []middleware.Issuer{hgOnKit(middleware.Cognito("eu-west-1", "eu-west-1_pool", "test-client"), kit, kit.URL)}
	tok := func(s middlewaretest.Spec) string {
		s.Profile = middlewaretest.Cognito
		return hgToken(kit, s)
	}
	hgPresetCheck(t, preset, []string{tok(middlewaretest.Spec{})}, []hgRule{
		{name: "token_use access", token: tok(middlewaretest.Spec{Claims: map[string]any{"token_use": nil}}), want: middleware.ErrNotAccessToken,
			drop: func(is *middleware.Issuer) { is.RequiredClaims = nil }},
		{name: "client_id of the app clients", token: tok(middlewaretest.Spec{ClientID: "other"}), want: middleware.ErrInvalidAudience,
			drop: func(is *middleware.Issuer) { is.ClientIDs = append(is.ClientIDs, "other") }},
		{name: "an ID token", token: hgToken(kit, middlewaretest.Spec{Profile: middlewaretest.Cognito, Kind: middlewaretest.IDToken}), want: middleware.ErrNotAccessToken},
		{name: "RS256 only", token: tok(middlewaretest.Spec{Alg: "ES256"}), want: middleware.ErrUnsupportedAlgorithm,
			drop: func(is *middleware.Issuer) { is.Algorithms = nil }},
		{name: "scopes in scope only", token: tok(middlewaretest.Spec{Claims: map[string]any{"scope": nil, "scp": "read"}}),
			policy: middleware.ScopePolicy("read"), want: middleware.ErrInsufficientScope,
			drop: func(is *middleware.Issuer) { is.ScopeClaims = nil }},
	})
}

func TestPresetKeycloak(t *testing.T) {
	kit := hgKitAll(t)
	preset := []middleware.Issuer{hgOnKit(middleware.Keycloak("https://sso.example.test", "realm", hgAudience), kit, kit.URL)}
	tok := func(s middlewaretest.Spec) string {
		s.Profile = middlewaretest.Keycloak
		return hgToken(kit, s)
	}
	hgPresetCheck(t, preset, []string{tok(middlewaretest.Spec{})}, []hgRule{
		{name: "aud account is not this API", token: tok(middlewaretest.Spec{Claims: map[string]any{"aud": "account"}}), want: middleware.ErrInvalidAudience,
			drop: func(is *middleware.Issuer) { is.Audiences = append(is.Audiences, "account") }},
		{name: "typ Bearer", token: tok(middlewaretest.Spec{Claims: map[string]any{"typ": nil}}), want: middleware.ErrNotAccessToken,
			drop: func(is *middleware.Issuer) { is.RequiredClaims = nil }},
		{name: "scopes in scope only", token: tok(middlewaretest.Spec{Claims: map[string]any{"scope": nil, "scp": "read"}}),
			policy: middleware.ScopePolicy("read"), want: middleware.ErrInsufficientScope,
			drop: func(is *middleware.Issuer) { is.ScopeClaims = nil }},
	})
}

func TestPresetOkta(t *testing.T) {
	kit := hgKitAll(t)
	preset := []middleware.Issuer{hgOnKit(middleware.Okta("https://org.okta.example", "default", hgAudience), kit, kit.URL)}
	tok := func(s middlewaretest.Spec) string {
		s.Profile = middlewaretest.Okta
		return hgToken(kit, s)
	}
	hgPresetCheck(t, preset, []string{tok(middlewaretest.Spec{})}, []hgRule{
		{name: "RS256 only", token: tok(middlewaretest.Spec{Alg: "ES256"}), want: middleware.ErrUnsupportedAlgorithm,
			drop: func(is *middleware.Issuer) { is.Algorithms = nil }},
		{name: "scopes in scp only", token: tok(middlewaretest.Spec{Claims: map[string]any{"scope": "read"}}),
			policy: middleware.ScopePolicy("read"), want: middleware.ErrInsufficientScope,
			drop: func(is *middleware.Issuer) { is.ScopeClaims = nil }},
	})
}

func TestPresetLogto(t *testing.T) {
	kit := hgKitAll(t)
	preset := []middleware.Issuer{hgOnKit(middleware.Logto("https://tenant.logto.example", hgAudience), kit, kit.URL)}
	tok := func(s middlewaretest.Spec) string {
		s.Profile = middlewaretest.Logto
		if s.Alg == "" {
			s.Alg = "ES384"
		}
		return hgToken(kit, s)
	}
	hgPresetCheck(t, preset, []string{tok(middlewaretest.Spec{})}, []hgRule{
		{name: "typed at+jwt", token: tok(middlewaretest.Spec{Header: map[string]any{"typ": "JWT"}}), want: middleware.ErrNotAccessToken,
			drop: func(is *middleware.Issuer) { is.AccessTokenType = middleware.TokenTypeDefault }},
		{name: "ES384 or RS256", token: tok(middlewaretest.Spec{Alg: "ES256"}), want: middleware.ErrUnsupportedAlgorithm,
			drop: func(is *middleware.Issuer) { is.Algorithms = nil }},
		{name: "scopes in scope only", token: tok(middlewaretest.Spec{Claims: map[string]any{"scope": nil, "scp": "read"}}),
			policy: middleware.ScopePolicy("read"), want: middleware.ErrInsufficientScope,
			drop: func(is *middleware.Issuer) { is.ScopeClaims = nil }},
	})
}

func TestPresetZitadel(t *testing.T) {
	kit := hgKitAll(t)
	preset := []middleware.Issuer{hgOnKit(middleware.Zitadel("instance.zitadel.example", hgAudience), kit, kit.URL)}
	hgPresetCheck(t, preset, []string{hgToken(kit, middlewaretest.Spec{})}, []hgRule{
		{name: "RS256 only", token: hgToken(kit, middlewaretest.Spec{Alg: "ES256"}), want: middleware.ErrUnsupportedAlgorithm,
			drop: func(is *middleware.Issuer) { is.Algorithms = nil }},
		{name: "scopes in scope only", token: hgToken(kit, middlewaretest.Spec{Claims: map[string]any{"scope": nil, "scp": "read"}}),
			policy: middleware.ScopePolicy("read"), want: middleware.ErrInsufficientScope,
			drop: func(is *middleware.Issuer) { is.ScopeClaims = nil }},
	})
}

// TestPresetShapes: the presets name their providers' real issuers and
// key sets.
func TestPresetShapes(t *testing.T) {
	for _, tc := range []struct {
		is        middleware.Issuer
		iss, jwks string
	}{
		{middleware.Entra("t1"), "https://login.microsoftonline.com/t1/v2.0", "https://login.microsoftonline.com/t1/discovery/v2.0/keys"},
		{middleware.EntraMultiTenant(nil)[0], "https://login.microsoftonline.com/{tenantid}/v2.0", "https://login.microsoftonline.com/common/discovery/v2.0/keys"},
		{middleware.EntraMultiTenant(nil)[1], "https://sts.windows.net/{tenantid}/", "https://login.microsoftonline.com/common/discovery/v2.0/keys"},
		{middleware.Auth0(nil, "t.eu.auth0.com")[0], "https://t.eu.auth0.com/", "https://t.eu.auth0.com/.well-known/jwks.json"},
		{middleware.Cognito("eu-west-1", "eu-west-1_abc"), "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"},
		{middleware.Keycloak("https://sso.example.com/", "r"), "https://sso.example.com/realms/r", "https://sso.example.com/realms/r/protocol/openid-connect/certs"},
		{middleware.Okta("https://o.okta.com", "default"), "https://o.okta.com/oauth2/default", "https://o.okta.com/oauth2/default/v1/keys"},
		{middleware.Logto("https://t.logto.app"), "https://t.logto.app/oidc", "https://t.logto.app/oidc/jwks"},
		{middleware.Zitadel("i.zitadel.cloud"), "https://i.zitadel.cloud", "https://i.zitadel.cloud/oauth/v2/keys"},
	} {
		if tc.is.Issuer != tc.iss || tc.is.JWKSURL != tc.jwks {
			t.Errorf("preset %q %q, want %q %q", tc.is.Issuer, tc.is.JWKSURL, tc.iss, tc.jwks)
		}
	}
}

// TestEntraMultiTenantListsApart: the v2.0 and v1.0 issuers of
// EntraMultiTenant are values the application may change one at a time:
// editing one's lists in place leaves the other's as they were.
func TestEntraMultiTenantListsApart(t *testing.T) {
	is := middleware.EntraMultiTenant(nil, "api://a")
	v2, v1 := is[0], is[1]
	v2.Audiences[0], v2.Algorithms[0], v2.ScopeClaims[0] = "api://changed", "PS256", "changed"
	if v1.Audiences[0] != "api://a" || v1.Algorithms[0] != "RS256" || v1.ScopeClaims[0] != "scp" {
		t.Errorf("v1.0 issuer changed with the v2.0 one: %v %v %v", v1.Audiences, v1.Algorithms, v1.ScopeClaims)
	}
	// Nor do they share the caller's list.
	auds := []string{"api://a"}
	is = middleware.EntraMultiTenant(nil, auds...)
	auds[0] = "api://changed"
	if is[0].Audiences[0] != "api://a" || is[1].Audiences[0] != "api://a" {
		t.Errorf("the issuers changed with the caller's audiences: %v %v", is[0].Audiences, is[1].Audiences)
	}
}

// TestAuth0DomainsListsApart: the issuers of an Auth0 tenant's domains
// share no list, as EntraMultiTenant's templates do not.
func TestAuth0DomainsListsApart(t *testing.T) {
	is := middleware.Auth0([]string{"https://api.example.test"}, "a.auth0.com", "login.example.test")
	is[0].Audiences[0], is[0].Algorithms[0], is[0].ScopeClaims[0] = "changed", "PS256", "changed"
	if is[1].Audiences[0] != "https://api.example.test" || is[1].Algorithms[0] != "RS256" || is[1].ScopeClaims[0] != "scope" {
		t.Errorf("the second domain's issuer changed with the first: %v %v %v", is[1].Audiences, is[1].Algorithms, is[1].ScopeClaims)
	}
	auds := []string{"https://api.example.test"}
	is = middleware.Auth0(auds, "a.auth0.com")
	auds[0] = "changed"
	if is[0].Audiences[0] != "https://api.example.test" {
		t.Errorf("the issuer changed with the caller's audiences: %v", is[0].Audiences)
	}
}
