package readme

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
)

// The snippets of "Several issuers, tenants and APIs without JWTs", and a
// test that runs them as written.

func presetsSnippet(ctx context.Context) (*middleware.Validator, error) {
	v, err := middleware.New(ctx, middleware.Config{
		ExtraIssuers: append(
			middleware.Auth0([]string{"https://api.example.com"}, "tenant.eu.auth0.com", "login.example.com"),
			middleware.Cognito("eu-west-1", "eu-west-1_AbCdEf", "app-client-id"),
			middleware.Keycloak("https://sso.example.com", "partners", "partner-api"),
		),
	})
	return v, err
}

func entraMultiTenantSnippet(ctx context.Context) (*middleware.Validator, error) {
	customers := map[string]bool{"0b6a2f2e-5f7c-4d8e-9f55-1b2c3d4e5f60": true}
	v, err := middleware.New(ctx, middleware.Config{
		ExtraIssuers: middleware.EntraMultiTenant(
			func(tenant string) bool { return customers[tenant] },
			"api://notes-api"),
	})
	return v, err
}

// tenants is the application's list of customers in the resolver snippet.
var tenants = activeTenants{"acme": true}

type activeTenants map[string]bool

func (t activeTenants) Active(_ context.Context, realm string) bool { return t[realm] }

func resolverSnippet(ctx context.Context) (*middleware.Validator, error) {
	v, err := middleware.New(ctx, middleware.Config{
		Audiences: []string{"https://api.example.com"},
		ResolveIssuer: func(ctx context.Context, iss string) (*middleware.Issuer, error) {
			realm, ok := strings.CutPrefix(iss, "https://sso.example.com/realms/")
			if !ok || !tenants.Active(ctx, realm) {
				return nil, nil // refused
			}
			is := middleware.Keycloak("https://sso.example.com", realm, "https://api.example.com")
			return &is, nil
		},
	})
	return v, err
}

// store is the application's token store of the snippets.
var store tokenStore

type tokenStore struct{}

func (tokenStore) Lookup(_ context.Context, token string) (*claims.Claims, error) {
	if token != "t0k3n-from-the-store" {
		return nil, nil
	}
	return &claims.Claims{Subject: "user-1", Audience: []string{"https://api.example.com"}}, nil
}

func lookupOnlySnippet(ctx context.Context) (*middleware.Validator, error) {
	v, err := middleware.New(ctx, middleware.Config{
		Audiences: []string{"https://api.example.com"},
		LookupToken: func(ctx context.Context, token string) (*claims.Claims, error) {
			return store.Lookup(ctx, token) // nil, nil for a token it does not know
		},
	})
	return v, err
}

func opaqueSourcesSnippet(ctx context.Context) (*middleware.Validator, error) {
	v, err := middleware.New(ctx, middleware.Config{
		Audiences: []string{"https://api.example.com"},
		ExtraIssuers: []middleware.Issuer{
			{Issuer: "https://hydra.example.com/", OpaqueOnly: true, OpaqueTokenPrefix: "ory_at_",
				Introspection: &middleware.Introspection{Endpoint: "https://hydra-admin.example.com/admin/oauth2/introspect",
					ClientID: "api", ClientSecret: os.Getenv("HYDRA_SECRET")}},
			{Issuer: "https://auth.example.com", OpaqueOnly: true, LookupToken: store.Lookup},
		},
	})
	return v, err
}

// TestIssuerSnippetsRun: every configuration of the section is accepted by
// New, and the API without a JWT issuer is ready at once and serves its
// store's tokens, as the README says.
func TestIssuerSnippetsRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no network
	t.Setenv("HYDRA_SECRET", "from the environment")
	for name, f := range map[string]func(context.Context) (*middleware.Validator, error){
		"presets": presetsSnippet, "Entra multi-tenant": entraMultiTenantSnippet,
		"resolver": resolverSnippet, "opaque sources": opaqueSourcesSnippet,
	} {
		if _, err := f(ctx); err != nil {
			t.Errorf("%s: New: %v", name, err)
		}
	}
	v, err := lookupOnlySnippet(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Ready(); err != nil {
		t.Errorf("Ready: %v", err)
	}
	h := v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for token, want := range map[string]int{"t0k3n-from-the-store": http.StatusOK, "unknown": http.StatusUnauthorized} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: status %d, want %d", token, w.Code, want)
		}
	}
}
