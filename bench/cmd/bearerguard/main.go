// Command bearerguard serves GET / behind bearerguard's RequireScope, with
// the token cache (default) or without (-cache=false); see ../../run.sh.
package main

import (
	"context"
	"flag"
	"net/http"

	"github.com/bearerguard/bearerguard/bench"
)

func main() {
	cache := flag.Bool("cache", true, "use the token cache (Config.TokenCacheSize 0); false sets -1")
	bench.RunServer(func(ctx context.Context, f *bench.Fixture, alg string) (http.Handler, error) {
		size := 0
		if !*cache {
			size = -1
		}
		v, err := f.Bearerguard(ctx, size)
		if err != nil {
			return nil, err
		}
		return v.RequireScope(bench.Scope)(bench.Hello), nil
	})
}
