package middlewaretest

import (
	"crypto/rand"
	"net/http"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// opaqueToken is what the Issuer knows of an opaque token it minted.
type opaqueToken struct {
	claims  map[string]any // the introspection answer's members besides "active"
	forced  bool           // Spec.Claims set "active": answered as minted
	revoked bool
}

// OpaqueToken mints an opaque access token described by s, as Authlib's
// default generator, oidc-provider without a resource indicator or Auth0
// without an audience issue them: a random string that says nothing by
// itself. [Issuer.IntrospectionURL] answers for it with "active": true,
// "token_type": "Bearer" and the claims [Issuer.Token] would put in a JWT
// of s (scopes in "scope" for the Generic profile), until it expires
// (s.Lifetime) or is revoked ([Issuer.Revoke]); then with "active": false
// alone. [Spec.Claims] apply last, as for Token: an "active" entry there is
// answered as given, whatever the token's lifetime, for tests of what a
// resource server does with an answer that contradicts itself. Header, Alg
// and Kind do not apply.
func (i *Issuer) OpaqueToken(s Spec) string {
	alg := s.Alg
	if alg == "" {
		alg = defaultAlg
	}
	s.Kind = AccessToken
	_, claims := i.shape(s, alg)
	claims["token_type"] = "Bearer"
	merge(claims, s.Claims)
	_, forced := s.Claims["active"]
	token := rand.Text() + rand.Text()
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.opaque == nil {
		i.opaque = make(map[string]*opaqueToken)
	}
	i.opaque[token] = &opaqueToken{claims: claims, forced: forced}
	return token
}

// Revoke revokes token (RFC 7009), an opaque token of [Issuer.OpaqueToken]:
// its introspection answers "active": false from now on. Revoking a token
// the Issuer did not mint as opaque does nothing.
func (i *Issuer) Revoke(token string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if t := i.opaque[token]; t != nil {
		t.revoked = true
	}
}

// IntrospectionURL returns the URL of the token introspection endpoint
// (RFC 7662), URL + "/oauth/introspect", also advertised in the metadata
// documents as "introspection_endpoint".
func (i *Issuer) IntrospectionURL() string { return i.URL + "/oauth/introspect" }

// IntrospectionRequests returns the number of POST requests the
// introspection endpoint has received, including those refused or cut
// short by an injected fault.
func (i *Issuer) IntrospectionRequests() int64 { return i.introspectionRequests.Load() }

// SetIntrospectionAnswer makes the introspection endpoint answer every
// authenticated request with status 200 and body, verbatim, for tests of
// answers that are not introspection answers. Nil restores normal service.
func (i *Issuer) SetIntrospectionAnswer(body []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.introspectionOverride = slices.Clone(body)
}

// serveIntrospection implements POST /oauth/introspect (RFC 7662 §2): the
// caller must be a registered client (client_secret_basic,
// client_secret_post, or private_key_jwt with the client's PublicKey);
// otherwise 401 invalid_client. Injected faults ([Issuer.SetStatus],
// [Issuer.SetDelay]) apply.
func (i *Issuer) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	i.introspectionRequests.Add(1)
	if i.fault(w, r) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequestBytes)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	form := r.PostForm
	if _, terr := i.authenticate(r, form, i.IntrospectionURL()); terr != nil {
		if terr.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="middlewaretest"`)
		}
		writeJSON(w, terr.status, map[string]string{"error": terr.code, "error_description": terr.description})
		return
	}
	if len(form["token"]) != 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	i.mu.RLock()
	override := i.introspectionOverride
	t := i.opaque[form.Get("token")]
	var answer map[string]any
	if t != nil && !t.revoked && (t.forced || !expired(t.claims["exp"])) {
		answer = make(map[string]any, len(t.claims)+1)
		answer["active"] = true
		for k, v := range t.claims {
			answer[k] = v
		}
	}
	i.mu.RUnlock()
	if override != nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(override)
		return
	}
	if answer == nil {
		answer = map[string]any{"active": false}
	}
	writeJSON(w, http.StatusOK, answer)
}

// expired reports whether exp, a NumericDate claim of any Go number type,
// is in the past; an absent exp never expires.
func expired(exp any) bool {
	var t float64
	switch e := exp.(type) {
	case nil:
		return false
	case int64:
		t = float64(e)
	case int:
		t = float64(e)
	case float64:
		t = e
	default:
		return false
	}
	return float64(time.Now().Unix()) >= t
}

// clientAssertionType is the client_assertion_type of private_key_jwt
// (RFC 7523 §2.2).
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// verifyAssertion checks a private_key_jwt client assertion (RFC 7523 §3)
// for endpoint: signed with the client's PublicKey, iss and sub the client
// id, aud the endpoint, exp in the future, a jti not seen before. It
// returns the client's id, or "" if the assertion is not acceptable.
func (i *Issuer) verifyAssertion(assertion, endpoint string) (Client, bool) {
	var claims jwt.RegisteredClaims
	var client Client
	_, err := jwt.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		i.mu.RLock()
		c, ok := i.clients[iss]
		i.mu.RUnlock()
		if !ok || c.PublicKey == nil {
			return nil, jwt.ErrTokenUnverifiable
		}
		client = c
		return c.PublicKey, nil
	},
		jwt.WithValidMethods([]string{"RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"}),
		jwt.WithAudience(endpoint), jwt.WithExpirationRequired())
	if err != nil || claims.Subject != client.ID || claims.ID == "" {
		return Client{}, false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.seenJTIs == nil {
		i.seenJTIs = make(map[string]bool)
	}
	if i.seenJTIs[claims.ID] {
		return Client{}, false // replayed
	}
	i.seenJTIs[claims.ID] = true
	return client, true
}
