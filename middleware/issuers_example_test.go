package middleware_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/bearerguard/bearerguard/middleware"
)

// A multi-tenant Entra ID application: two issuer templates whose keys come
// from Entra's common JWK Set, for the tenants the application accepts.
func ExampleEntraMultiTenant() {
	customers := map[string]bool{"0b6a2f2e-5f7c-4d8e-9f55-1b2c3d4e5f60": true}
	for _, is := range middleware.EntraMultiTenant(func(tenant string) bool { return customers[tenant] }, "api://notes-api") {
		fmt.Println(is.Issuer, is.JWKSURL, is.RequiredClaims)
	}
	// Output:
	// https://login.microsoftonline.com/{tenantid}/v2.0 https://login.microsoftonline.com/common/discovery/v2.0/keys map[ver:2.0]
	// https://sts.windows.net/{tenantid}/ https://login.microsoftonline.com/common/discovery/v2.0/keys map[ver:1.0]
}

// Presets are plain values: change what your tenant does differently.
func ExampleCognito() {
	is := middleware.Cognito("eu-west-1", "eu-west-1_AbCdEf", "app-client-id")
	is.ScopeClaims = append(is.ScopeClaims, "cognito:groups")
	fmt.Println(is.Issuer)
	fmt.Println(is.ClientIDs, is.RequiredClaims, is.ScopeClaims)
	// Output:
	// https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf
	// [app-client-id] map[token_use:access] [scope cognito:groups]
}

// Issuers added at run time: one Keycloak realm per customer, the realms
// of inactive customers refused.
func ExampleConfig_resolveIssuer() {
	active := map[string]bool{"acme": true}
	cfg := middleware.Config{
		Audiences: []string{"https://api.example.com"},
		ResolveIssuer: func(ctx context.Context, iss string) (*middleware.Issuer, error) {
			realm, ok := strings.CutPrefix(iss, "https://sso.example.com/realms/")
			if !ok || !active[realm] {
				return nil, nil
			}
			is := middleware.Keycloak("https://sso.example.com", realm, "https://api.example.com")
			return &is, nil
		},
	}
	is, _ := cfg.ResolveIssuer(context.Background(), "https://sso.example.com/realms/acme")
	fmt.Println(is.Issuer, is.JWKSURL)
	is, _ = cfg.ResolveIssuer(context.Background(), "https://sso.example.com/realms/other")
	fmt.Println(is == nil)
	// Output:
	// https://sso.example.com/realms/acme https://sso.example.com/realms/acme/protocol/openid-connect/certs
	// true
}
