package scopes_test

import (
	"errors"
	"fmt"

	"github.com/bearerguard/bearerguard/scopes"
)

// A requirement lists alternatives: any one is enough (OR), and the
// space-separated scopes inside one alternative are all needed (AND).
func ExampleNewRequirement() {
	r, err := scopes.NewRequirement("admin", "users:write users:delete")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Allows([]string{"admin"}))
	fmt.Println(r.Allows([]string{"users:write"}))
	fmt.Println(r.Allows([]string{"users:write", "users:delete"}))
	fmt.Println(r.Challenge())
	// Output:
	// true
	// false
	// true
	// admin users:write users:delete
}

// Scope literals must be RFC 6749 §3.3 scope tokens.
func ExampleNewRequirement_invalid() {
	_, err := scopes.NewRequirement(`read "users"`)
	fmt.Println(errors.Is(err, scopes.ErrInvalidScope))
	// Output:
	// true
}

func ExampleParse() {
	fmt.Printf("%q\n", scopes.Parse("openid  read:users write:users"))
	// Output:
	// ["openid" "read:users" "write:users"]
}
