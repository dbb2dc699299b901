package middleware

import (
	"strings"
	"testing"
)

// TestValidTenant holds the tenant rule of SECURITY.md: 1 to 64 letters,
// digits, "-", "." or "_", never "." or "..", so that a tenant cannot move
// the issuer a template names.
func TestValidTenant(t *testing.T) {
	for _, tc := range []struct {
		tenant string
		want   bool
	}{
		{"0b6a2f2e-5f7c-4d8e-9f55-1b2c3d4e5f60", true},
		{"a", true},
		{"Acme_corp.eu-1", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"a?b", false},
		{"a#b", false},
		{"a%2Fb", false},
		{"a b", false},
		{"a:b", false},
		{"a@b", false},
		{"é", false},
	} {
		if got := validTenant(tc.tenant); got != tc.want {
			t.Errorf("validTenant(%.70q) = %v, want %v", tc.tenant, got, tc.want)
		}
	}
}

// TestTenantOf: a template matches an "iss" only with a valid tenant in
// place of the placeholder.
func TestTenantOf(t *testing.T) {
	ti := &trust{template: true, head: "https://login.example.test/", tail: "/v2.0"}
	for _, tc := range []struct {
		iss, tenant string
		ok          bool
	}{
		{"https://login.example.test/t1/v2.0", "t1", true},
		{"https://login.example.test//v2.0", "", false},
		{"https://login.example.test/a/b/v2.0", "a/b", false},
		{"https://login.example.test/" + strings.Repeat("a", 65) + "/v2.0", "", false},
		{"https://login.example.test/t1/v1.0", "", false},
		{"https://other.example.test/t1/v2.0", "", false},
	} {
		tenant, ok := ti.tenantOf(tc.iss)
		if ok != tc.ok || ok && tenant != tc.tenant {
			t.Errorf("tenantOf(%.60q) = %q, %v, want %q, %v", tc.iss, tenant, ok, tc.tenant, tc.ok)
		}
	}
}
