// Command handwritten serves GET / behind the minimal golang-jwt v5 +
// keyfunc v3 middleware of bench.HandWritten (see ../../run.sh).
package main

import (
	"context"
	"net/http"

	"github.com/MicahParks/keyfunc/v3"

	"github.com/bearerguard/bearerguard/bench"
)

func main() {
	bench.RunServer(func(ctx context.Context, f *bench.Fixture, alg string) (http.Handler, error) {
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{f.Issuer.JWKSURL()})
		if err != nil {
			return nil, err
		}
		return bench.HandWritten(kf.Keyfunc, f.Issuer.URL, []string{alg}, bench.Scope)(bench.HandWrittenHello), nil
	})
}
