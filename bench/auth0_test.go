package bench

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jwtmiddlewarev2 "github.com/auth0/go-jwt-middleware/v2"
	jwksv2 "github.com/auth0/go-jwt-middleware/v2/jwks"
	validatorv2 "github.com/auth0/go-jwt-middleware/v2/validator"
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

// buildAuth0v3 follows the README of auth0/go-jwt-middleware v3.
func buildAuth0v3(e *env, alg string) (http.Handler, error) {
	issuer, _ := url.Parse(e.f.Issuer.URL)
	jwksURL, _ := url.Parse(e.f.Issuer.JWKSURL())
	provider, err := jwksv3.NewCachingProvider(jwksv3.WithIssuerURL(issuer), jwksv3.WithCustomJWKSURI(jwksURL))
	if err != nil {
		return nil, err
	}
	v, err := validatorv3.New(
		validatorv3.WithKeyFunc(provider.KeyFunc),
		validatorv3.WithAlgorithm(validatorv3.SignatureAlgorithm(alg)),
		validatorv3.WithIssuer(e.f.Issuer.URL),
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
