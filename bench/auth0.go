package bench

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	jwtmiddlewarev3 "github.com/auth0/go-jwt-middleware/v3"
	jwksv3 "github.com/auth0/go-jwt-middleware/v3/jwks"
	validatorv3 "github.com/auth0/go-jwt-middleware/v3/validator"
)

// auth0Scope is the custom claims type of auth0/go-jwt-middleware's
// documented scope check; it fits the CustomClaims interface of v2 and v3.
type auth0Scope struct {
	Scope string `json:"scope"`
}

func (c *auth0Scope) Validate(context.Context) error { return nil }

func (c *auth0Scope) HasScope(s string) bool { return slices.Contains(strings.Fields(c.Scope), s) }

// Auth0v3 is the protected route of go-jwt-middleware v3.0.0 as its README
// builds it: a caching JWKS provider, a validator for one algorithm,
// CheckJWT, and the scope checked in the handler from the custom claims.
// It serves the same answer as bearerguard's route (the subject), in the
// benchmarks and in cmd/auth0 for the loopback runs.
func Auth0v3(f *Fixture, alg string) (http.Handler, error) {
	issuer, _ := url.Parse(f.Issuer.URL)
	jwksURL, _ := url.Parse(f.Issuer.JWKSURL())
	provider, err := jwksv3.NewCachingProvider(jwksv3.WithIssuerURL(issuer), jwksv3.WithCustomJWKSURI(jwksURL))
	if err != nil {
		return nil, err
	}
	v, err := validatorv3.New(
		validatorv3.WithKeyFunc(provider.KeyFunc),
		validatorv3.WithAlgorithm(validatorv3.SignatureAlgorithm(alg)),
		validatorv3.WithIssuer(f.Issuer.URL),
		validatorv3.WithAudience(Audience),
		validatorv3.WithCustomClaims(func() *auth0Scope { return &auth0Scope{} }),
	)
	if err != nil {
		return nil, err
	}
	mw, err := jwtmiddlewarev3.New(jwtmiddlewarev3.WithValidator(v))
	if err != nil {
		return nil, err
	}
	return mw.CheckJWT(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := jwtmiddlewarev3.GetClaims[*validatorv3.ValidatedClaims](r.Context())
		if err != nil {
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
