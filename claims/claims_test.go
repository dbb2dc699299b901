package claims_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/bearerguard/bearerguard/claims"
)

// payloadClaims returns Claims whose Payload is testdata/keycloak-access.json.
func payloadClaims(t *testing.T) *claims.Claims {
	t.Helper()
	raw, err := os.ReadFile("testdata/keycloak-access.json")
	if err != nil {
		t.Fatal(err)
	}
	return &claims.Claims{Subject: "5f1c8c5e-1f1a-4c2e-9d1b-2b7e0f3c9a11", Payload: raw}
}

func TestHasScope(t *testing.T) {
	c := &claims.Claims{Scopes: []string{"openid", "read:users"}}
	for _, tc := range []struct {
		scope string
		want  bool
	}{
		{"read:users", true},
		{"openid", true},
		{"read:user", false},
		{"READ:USERS", false},
		{"read:users:extra", false},
		{"", false},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			if got := c.HasScope(tc.scope); got != tc.want {
				t.Errorf("HasScope(%q) = %v, want %v", tc.scope, got, tc.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	type custom struct {
		OrgID  string `json:"org_id"`
		Tenant struct {
			ID   string `json:"id"`
			Tier int    `json:"tier"`
		} `json:"tenant"`
		Roles []string `json:"https://example.com/roles"`
		Realm struct {
			Roles []string `json:"roles"`
		} `json:"realm_access"`
	}
	var got custom
	if err := payloadClaims(t).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.OrgID != "org_42" || got.Tenant.ID != "t-1" || got.Tenant.Tier != 3 ||
		!reflect.DeepEqual(got.Roles, []string{"editor"}) ||
		!reflect.DeepEqual(got.Realm.Roles, []string{"read:users", "offline_access"}) {
		t.Errorf("Decode = %+v", got)
	}

	// Type mismatches are reported, not ignored.
	var wrong struct {
		OrgID int `json:"org_id"`
	}
	var typeErr *json.UnmarshalTypeError
	if err := payloadClaims(t).Decode(&wrong); !errors.As(err, &typeErr) {
		t.Errorf("Decode into a mismatched type: error %v, want *json.UnmarshalTypeError", err)
	}
}

func TestNoPayload(t *testing.T) {
	c := &claims.Claims{Subject: "x"}
	var v map[string]any
	if err := c.Decode(&v); !errors.Is(err, claims.ErrNoPayload) {
		t.Errorf("Decode error = %v, want ErrNoPayload", err)
	}
	if _, err := c.Map(); !errors.Is(err, claims.ErrNoPayload) {
		t.Errorf("Map error = %v, want ErrNoPayload", err)
	}
	if v, ok := c.Lookup("sub"); ok {
		t.Errorf("Lookup without payload = %v, true", v)
	}
}

func TestMap(t *testing.T) {
	m, err := payloadClaims(t).Map()
	if err != nil {
		t.Fatal(err)
	}
	if m["org_id"] != "org_42" {
		t.Errorf(`m["org_id"] = %v`, m["org_id"])
	}
	// Numbers are json.Number, so large values survive.
	n, ok := m["big"].(json.Number)
	if !ok || n.String() != "12345678901234567890" {
		t.Errorf(`m["big"] = %#v, want json.Number("12345678901234567890")`, m["big"])
	}
	if _, ok := m["exp"].(json.Number); !ok {
		t.Errorf(`m["exp"] = %T, want json.Number`, m["exp"])
	}
	// The map is a fresh decode: changing it does not change the claims.
	m["org_id"] = "changed"
	m2, _ := payloadClaims(t).Map()
	if m2["org_id"] != "org_42" {
		t.Error("Map results share state")
	}

	bad := &claims.Claims{Payload: json.RawMessage(`[1,2]`)}
	if _, err := bad.Map(); err == nil {
		t.Error("Map of a non-object payload: no error")
	}
}

func TestLookup(t *testing.T) {
	c := payloadClaims(t)
	for _, tc := range []struct {
		path string
		want any
		ok   bool
	}{
		{"org_id", "org_42", true},
		{"tenant.id", "t-1", true},
		{"tenant.tier", json.Number("3"), true},
		{"resource_access.account.roles", []any{"manage-account", "view-profile"}, true},
		// A claim whose name contains dots is found by its full name.
		{"https://example.com/roles", []any{"editor"}, true},
		// An exact top-level name wins over the nested path.
		{"realm_access.roles", "shadow", true},
		{"missing", nil, false},
		{"tenant.missing", nil, false},
		{"org_id.x", nil, false},
		{"tenant.id.x", nil, false},
		{"", nil, false},
		{".", nil, false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			got, ok := c.Lookup(tc.path)
			if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Lookup(%q) = %#v, %v; want %#v, %v", tc.path, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestLookupMapNested(t *testing.T) {
	m := map[string]any{
		"realm_access": map[string]any{"roles": []any{"a", "b"}},
		"a.b":          map[string]any{"c": 1},
		"a":            map[string]any{"b.c": 2},
	}
	if v, ok := claims.LookupMap(m, "realm_access.roles"); !ok || !reflect.DeepEqual(v, []any{"a", "b"}) {
		t.Errorf("realm_access.roles = %v, %v", v, ok)
	}
	// The longest prefix naming an object wins: "a.b" then "c".
	if v, ok := claims.LookupMap(m, "a.b.c"); !ok || v != 1 {
		t.Errorf("a.b.c = %v, %v, want 1", v, ok)
	}
	// A namespaced claim name with dots leads a nested path (Auth0).
	ns := map[string]any{"https://example.com/org": map[string]any{"id": "o-1"}}
	if v, ok := claims.LookupMap(ns, "https://example.com/org.id"); !ok || v != "o-1" {
		t.Errorf("https://example.com/org.id = %v, %v, want o-1", v, ok)
	}
	if v, ok := claims.LookupMap(nil, "x"); ok {
		t.Errorf("LookupMap(nil) = %v, true", v)
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if c, ok := claims.FromContext(ctx); ok || c != nil {
		t.Errorf("FromContext(empty) = %v, %v", c, ok)
	}
	want := &claims.Claims{Subject: "user-123"}
	ctx2 := claims.NewContext(ctx, want)
	if got, ok := claims.FromContext(ctx2); !ok || got != want {
		t.Errorf("FromContext = %v, %v; want %v, true", got, ok, want)
	}
	// The parent is unchanged.
	if _, ok := claims.FromContext(ctx); ok {
		t.Error("NewContext changed its parent")
	}
	// A nil *Claims is reported as absent.
	if c, ok := claims.FromContext(claims.NewContext(ctx, nil)); ok || c != nil {
		t.Errorf("FromContext(nil claims) = %v, %v; want nil, false", c, ok)
	}
	// Other packages' values under look-alike keys are not claims.
	type contextKey struct{}
	if _, ok := claims.FromContext(context.WithValue(ctx, contextKey{}, want)); ok {
		t.Error("FromContext found claims stored under another package's key")
	}
}
