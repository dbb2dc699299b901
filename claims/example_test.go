package claims_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bearerguard/bearerguard/claims"
)

// In a handler behind bearerguard's middleware, the claims of the verified
// token are in the request's context.
func ExampleFromContext() {
	// The middleware does this for you.
	ctx := claims.NewContext(context.Background(), &claims.Claims{
		Subject:  "user-123",
		ClientID: "web-app",
		Scopes:   []string{"read:users"},
	})

	c, ok := claims.FromContext(ctx)
	if !ok {
		fmt.Println("anonymous")
		return
	}
	fmt.Println(c.Subject, c.ClientID, c.HasScope("read:users"))
	// Output:
	// user-123 web-app true
}

// Decode reads custom claims into the application's own struct.
func ExampleClaims_Decode() {
	c := &claims.Claims{Payload: json.RawMessage(`{"sub":"user-123","org_id":"org_42","https://example.com/roles":["editor"]}`)}
	var custom struct {
		OrgID string   `json:"org_id"`
		Roles []string `json:"https://example.com/roles"`
	}
	if err := c.Decode(&custom); err != nil {
		panic(err)
	}
	fmt.Println(custom.OrgID, custom.Roles)
	// Output:
	// org_42 [editor]
}

// Lookup finds a claim by name, even one with dots in it, or by a dotted
// path into nested objects.
func ExampleClaims_Lookup() {
	c := &claims.Claims{Payload: json.RawMessage(`{"realm_access":{"roles":["admin"]},"https://example.com/tier":"gold"}`)}
	roles, _ := c.Lookup("realm_access.roles")
	tier, _ := c.Lookup("https://example.com/tier")
	fmt.Println(roles, tier)
	// Output:
	// [admin] gold
}
