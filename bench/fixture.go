// Package bench compares bearerguard with the bare signature check and with
// the JWT middlewares people use in Go today. It is a separate module so the
// comparison peers (auth0/go-jwt-middleware, Echo, Gin, ...) stay out of the
// library's go.mod. See README.md and run.sh.
package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/golang-jwt/jwt/v5"
)

// Algs are the algorithms compared.
var Algs = []string{"RS256", "ES256", "EdDSA"}

// Audience is the audience of the tokens and of every middleware.
const Audience = "https://api.example.test"

// Scope is the scope every protected route requires.
const Scope = "read:users"

// Fixture is a running test issuer and one token per algorithm: a machine
// (client_credentials) token in the RFC 9068 shape, with two scopes, about
// 750 bytes for RS256.
type Fixture struct {
	Issuer *middlewaretest.Issuer
	Tokens map[string]string
}

// NewFixture starts an issuer and mints the tokens.
func NewFixture() *Fixture {
	iss := middlewaretest.NewIssuer()
	f := &Fixture{Issuer: iss, Tokens: map[string]string{}}
	for _, alg := range Algs {
		f.Tokens[alg] = iss.Token(middlewaretest.Spec{
			Alg:      alg,
			Machine:  true,
			ClientID: "billing-service",
			Scopes:   []string{"read:users", "write:users"},
			Audience: []string{Audience},
		})
	}
	return f
}

// Close stops the issuer.
func (f *Fixture) Close() { f.Issuer.Close() }

// Bearerguard returns a bearerguard validator for the fixture's issuer, with
// the JWKS fetched. cacheSize is Config.TokenCacheSize (-1: no cache, 0:
// default).
func (f *Fixture) Bearerguard(ctx context.Context, cacheSize int) (*middleware.Validator, error) {
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:         f.Issuer.URL,
		JWKSURL:        f.Issuer.JWKSURL(),
		Audiences:      []string{Audience},
		TokenCacheSize: cacheSize,
	})
	if err != nil {
		return nil, err
	}
	if err := v.WaitReady(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// Hello is the protected handler of every bearerguard route: it reads the
// subject from the claims, as a real handler would.
var Hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := claims.FromContext(r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	w.Write([]byte(c.Subject))
})

// NoAuth is the handler of the unprotected route: the cost of the harness.
var NoAuth = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Write([]byte("anonymous"))
})

// Bare is the floor: hashing the signing input and checking the signature
// with the standard library, nothing else (no base64, no JSON, no claims).
type Bare struct {
	input []byte
	sig   []byte
	r, s  *big.Int
	key   any
	alg   string
}

// NewBare prepares the bare check of token, signed with key.
func NewBare(alg, token string, key any) (*Bare, error) {
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		return nil, err
	}
	b := &Bare{input: []byte(token[:i]), sig: sig, key: key, alg: alg}
	if alg == "ES256" {
		b.r = new(big.Int).SetBytes(sig[:32])
		b.s = new(big.Int).SetBytes(sig[32:])
	}
	if !b.Verify() {
		return nil, fmt.Errorf("bare %s: signature does not verify", alg)
	}
	return b, nil
}

// Verify checks the signature once.
func (b *Bare) Verify() bool {
	switch b.alg {
	case "RS256":
		h := sha256.Sum256(b.input)
		return rsa.VerifyPKCS1v15(b.key.(*rsa.PublicKey), crypto.SHA256, h[:], b.sig) == nil
	case "ES256":
		h := sha256.Sum256(b.input)
		return ecdsa.Verify(b.key.(*ecdsa.PublicKey), h[:], b.r, b.s)
	case "EdDSA":
		return ed25519.Verify(b.key.(ed25519.PublicKey), b.input, b.sig)
	}
	return false
}

// HandWritten is a minimal net/http middleware of the kind people write on
// golang-jwt v5 and keyfunc v3: jwt.Parse with its options per request,
// jwt.MapClaims, the scope read from the map, the claims stored in the
// context. It checks alg, iss, aud, exp and the scope, and nothing of what
// bearerguard adds (typ, ID tokens, key/alg fit, RFC 6750 answers, ...).
func HandWritten(kf jwt.Keyfunc, issuer string, algs []string, scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tokenString, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				w.Header().Set("WWW-Authenticate", "Bearer")
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			token, err := jwt.Parse(tokenString, kf,
				jwt.WithValidMethods(algs),
				jwt.WithIssuer(issuer),
				jwt.WithAudience(Audience),
				jwt.WithExpirationRequired(),
			)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				http.Error(w, "invalid token", http.StatusUnauthorized)
				return
			}
			mc := token.Claims.(jwt.MapClaims)
			granted, _ := mc["scope"].(string)
			if !slices.Contains(strings.Fields(granted), scope) {
				http.Error(w, "insufficient scope", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), handWrittenKey{}, mc)))
		})
	}
}

type handWrittenKey struct{}

// HandWrittenHello is the protected handler behind [HandWritten].
var HandWrittenHello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	mc, ok := r.Context().Value(handWrittenKey{}).(jwt.MapClaims)
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	sub, _ := mc.GetSubject()
	w.Write([]byte(sub))
})
