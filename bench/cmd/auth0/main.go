// Command auth0 serves GET / behind auth0/go-jwt-middleware v3, built as
// its README shows (bench.Auth0v3); see ../../run.sh.
package main

import (
	"context"
	"net/http"

	"github.com/bearerguard/bearerguard/bench"
)

func main() {
	bench.RunServer(func(ctx context.Context, f *bench.Fixture, alg string) (http.Handler, error) {
		return bench.Auth0v3(f, alg)
	})
}
