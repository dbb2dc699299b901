// Command noauth serves GET / without authentication: the ceiling of the
// loopback throughput test (see ../../run.sh).
package main

import (
	"context"
	"net/http"

	"github.com/bearerguard/bearerguard/bench"
)

func main() {
	bench.RunServer(func(ctx context.Context, f *bench.Fixture, alg string) (http.Handler, error) {
		return bench.NoAuth, nil
	})
}
