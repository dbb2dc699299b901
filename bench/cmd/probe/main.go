// Command probe serves GET / with a part of what the bearerguard server
// does, to tell where the cached loopback figure goes (see ../../run.sh,
// WRK_PROBES=1, and bench/README.md):
//
//   - -mode=floor: the protected handler (bench.Hello) gets a shallow copy
//     of cached claims (the struct; its lists and payload still shared) in
//     the request's context, and nothing is checked: less than any
//     middleware that hands on claims pays, as it keeps nothing apart;
//   - -mode=check: bearerguard's Validator.Check on every request, with the
//     token cache, and the same body written without handing the claims on;
//   - -mode=minimal: the least a caching middleware can do and still hand
//     on claims: the Bearer header read, one map lookup of the whole token
//     under a mutex, exp and the scope checked, a copy of the claims with
//     their own payload and scope list (the audience list still shared) in
//     the request's context. No key
//     rotation, no strict syntax, no refusal answers: a ceiling for the
//     cached figure, not a middleware.
package main

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bearerguard/bearerguard/bench"
	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
)

func main() {
	mode := flag.String("mode", "floor", "floor, check or minimal")
	bench.RunServer(func(ctx context.Context, f *bench.Fixture, alg string) (http.Handler, error) {
		v, err := f.Bearerguard(ctx, 0)
		if err != nil {
			return nil, err
		}
		p := middleware.Policy{Scopes: []string{bench.Scope}}
		// verified returns the claims bearerguard hands on for the token.
		verified := func() (*claims.Claims, error) {
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+f.Tokens[alg])
			return v.Check(r, p)
		}
		switch *mode {
		case "floor":
			c, err := verified()
			if err != nil {
				return nil, err
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				own := *c
				bench.Hello.ServeHTTP(w, r.WithContext(claims.NewContext(r.Context(), &own)))
			}), nil
		case "minimal":
			c, err := verified()
			if err != nil {
				return nil, err
			}
			var mu sync.Mutex
			cache := map[string]*claims.Claims{f.Tokens[alg]: c}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := r.Header["Authorization"]
				if len(h) != 1 || len(h[0]) < 7 || !strings.EqualFold(h[0][:7], "Bearer ") {
					http.Error(w, "refused", http.StatusUnauthorized)
					return
				}
				mu.Lock()
				cc, ok := cache[h[0][7:]]
				mu.Unlock()
				if !ok || !time.Now().Before(cc.ExpiresAt) || !slices.Contains(cc.Scopes, bench.Scope) {
					http.Error(w, "refused", http.StatusUnauthorized)
					return
				}
				own := *cc
				own.Payload = slices.Clone(cc.Payload)
				own.Scopes = slices.Clone(cc.Scopes)
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
		return nil, errors.New("probe: -mode must be floor, check or minimal")
	})
}
