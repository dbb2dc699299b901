// Command probe serves GET / with a part of what the bearerguard server
// does, to tell where the cached loopback figure goes (see ../../run.sh,
// WRK_PROBES=1, and bench/README.md):
//
//   - -mode=floor: the protected handler (bench.Hello) gets a private copy
//     of cached claims in the request's context, and nothing is checked:
//     what any middleware that hands a handler claims it may change pays;
//   - -mode=check: bearerguard's Validator.Check on every request, with the
//     token cache, and the same body written without handing the claims on.
package main

import (
	"context"
	"errors"
	"flag"
	"net/http"

	"github.com/bearerguard/bearerguard/bench"
	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
)

func main() {
	mode := flag.String("mode", "floor", "floor or check")
	bench.RunServer(func(ctx context.Context, f *bench.Fixture, alg string) (http.Handler, error) {
		v, err := f.Bearerguard(ctx, 0)
		if err != nil {
			return nil, err
		}
		p := middleware.Policy{Scopes: []string{bench.Scope}}
		switch *mode {
		case "floor":
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+f.Tokens[alg])
			c, err := v.Check(r, p)
			if err != nil {
				return nil, err
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				own := *c
				bench.Hello.ServeHTTP(w, r.WithContext(claims.NewContext(r.Context(), &own)))
			}), nil
		case "check":
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := v.Check(r, p)
				if err != nil {
					http.Error(w, "refused", http.StatusUnauthorized)
					return
				}
				w.Write([]byte(c.Subject))
			}), nil
		}
		return nil, errors.New("probe: -mode must be floor or check")
	})
}
