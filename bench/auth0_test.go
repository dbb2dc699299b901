package bench

import (
	"net/http"
	"net/url"
	"time"

	jwtmiddlewarev2 "github.com/auth0/go-jwt-middleware/v2"
	jwksv2 "github.com/auth0/go-jwt-middleware/v2/jwks"
	validatorv2 "github.com/auth0/go-jwt-middleware/v2/validator"
)

func init() {
	impls = append(impls,
		impl{"auth0-v2", buildAuth0v2},
		impl{"auth0-v3", buildAuth0v3},
	)
}

// buildAuth0v2 follows the README of auth0/go-jwt-middleware v2: a caching
// JWKS provider, a validator for one algorithm, CheckJWT, and the scope
// checked in the handler from the custom claims.
func buildAuth0v2(e *env, alg string) (http.Handler, error) {
	issuer, _ := url.Parse(e.f.Issuer.URL)
	jwksURL, _ := url.Parse(e.f.Issuer.JWKSURL())
	provider := jwksv2.NewCachingProvider(issuer, 5*time.Minute, jwksv2.WithCustomJWKSURI(jwksURL))
	v, err := validatorv2.New(provider.KeyFunc, validatorv2.SignatureAlgorithm(alg), e.f.Issuer.URL, []string{Audience},
		validatorv2.WithCustomClaims(func() validatorv2.CustomClaims { return &auth0Scope{} }))
	if err != nil {
		return nil, err
	}
	mw := jwtmiddlewarev2.New(v.ValidateToken)
	return mw.CheckJWT(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := r.Context().Value(jwtmiddlewarev2.ContextKey{}).(*validatorv2.ValidatedClaims)
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		if !c.CustomClaims.(*auth0Scope).HasScope(Scope) {
			http.Error(w, "insufficient scope", http.StatusForbidden)
			return
		}
		w.Write([]byte(c.RegisteredClaims.Subject))
	})), nil
}

// buildAuth0v3 is Auth0v3 in the benchmarks.
func buildAuth0v3(e *env, alg string) (http.Handler, error) { return Auth0v3(e.f, alg) }
