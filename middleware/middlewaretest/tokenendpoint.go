package middlewaretest

import (
	"crypto"
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Client is an OAuth 2.0 client registered with an Issuer's token endpoint
// for the client credentials grant (RFC 6749 §4.4).
type Client struct {
	// ID is the client identifier. Required.
	ID string

	// Secret is the client secret, checked for client_secret_basic and
	// client_secret_post authentication (RFC 6749 §2.3.1).
	Secret string

	// Scopes are the scopes the client may request. A request without a
	// scope parameter is granted all of them.
	Scopes []string

	// Profile is the shape of the tokens issued to the client.
	Profile Profile

	// PublicKey, if set, lets the client authenticate at the
	// introspection endpoint with private_key_jwt (RFC 7523 §2.2): a
	// client assertion signed with the matching private key, whose aud is
	// [Issuer.IntrospectionURL]. An *rsa.PublicKey, *ecdsa.PublicKey or
	// ed25519.PublicKey.
	PublicKey crypto.PublicKey
}

// AddClient registers c with the token endpoint, replacing any client with
// the same ID. It panics if c.ID is empty.
func (i *Issuer) AddClient(c Client) {
	if c.ID == "" {
		panic("middlewaretest: AddClient: empty client ID")
	}
	c.Scopes = slices.Clone(c.Scopes)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.clients[c.ID] = c
}

// maxTokenRequestBytes bounds the body of a token request.
const maxTokenRequestBytes = 64 << 10

// tokenError is an RFC 6749 §5.2 error response.
type tokenError struct {
	status      int
	code        string
	description string
}

// serveToken implements POST /oauth/token for grant_type=client_credentials.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	// RFC 6749 §5.1: token responses must not be cached. Set it on errors
	// too; it does no harm.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	resp, terr := i.issue(w, r)
	if terr != nil {
		if terr.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="middlewaretest"`)
		}
		writeJSON(w, terr.status, map[string]string{
			"error":             terr.code,
			"error_description": terr.description,
		})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func badRequest(code, description string) *tokenError {
	return &tokenError{status: http.StatusBadRequest, code: code, description: description}
}

func (i *Issuer) issue(w http.ResponseWriter, r *http.Request) (map[string]any, *tokenError) {
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequestBytes)
	if err := r.ParseForm(); err != nil {
		return nil, badRequest("invalid_request", "malformed request body")
	}
	// Parameters come from the application/x-www-form-urlencoded body only
	// (RFC 6749 §3.2); PostForm ignores the query string.
	form := r.PostForm
	// RFC 6749 §3.1, §3.2: parameters must not be repeated. RFC 8707 §2
	// allows several resource parameters.
	for _, name := range []string{"grant_type", "scope", "client_id", "client_secret", "audience"} {
		if len(form[name]) > 1 {
			return nil, badRequest("invalid_request", "repeated parameter "+name)
		}
	}

	client, terr := i.authenticate(r, form, "")
	if terr != nil {
		return nil, terr
	}

	switch grant := form.Get("grant_type"); grant {
	case "":
		return nil, badRequest("invalid_request", "missing grant_type")
	case "client_credentials":
	default:
		return nil, badRequest("unsupported_grant_type", "only client_credentials is supported")
	}

	granted := client.Scopes
	if _, ok := form["scope"]; ok {
		granted = strings.Fields(form.Get("scope"))
		for _, s := range granted {
			if !slices.Contains(client.Scopes, s) {
				return nil, badRequest("invalid_scope", "scope not allowed for this client")
			}
		}
	}

	var audience []string
	if a := form.Get("audience"); a != "" {
		audience = append(audience, a)
	}
	for _, res := range form["resource"] {
		// RFC 8707 §2: an absolute URI without a fragment.
		u, err := url.Parse(res)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, badRequest("invalid_target", "resource must be an absolute URI without a fragment")
		}
		audience = append(audience, res)
	}
	if len(audience) == 0 {
		audience = []string{defaultAudience}
	}

	token := i.Token(Spec{
		Profile:  client.Profile,
		Machine:  true,
		ClientID: client.ID,
		Scopes:   granted,
		Audience: audience,
	})
	resp := map[string]any{
		"access_token": token,
		"token_type":   "Bearer",
		"expires_in":   int64(defaultLifetime.Seconds()),
	}
	if len(granted) > 0 {
		resp["scope"] = strings.Join(granted, " ")
	}
	return resp, nil
}

// authenticate identifies the client by HTTP Basic (client_secret_basic)
// or by client_id and client_secret in the body (client_secret_post), RFC
// 6749 §2.3.1, or, with assertionAud set, by a private_key_jwt client
// assertion whose aud it must be (RFC 7523 §2.2, §3). Using two methods is
// an error (RFC 6749 §2.3).
func (i *Issuer) authenticate(r *http.Request, form url.Values, assertionAud string) (Client, *tokenError) {
	invalidClient := &tokenError{
		status:      http.StatusUnauthorized,
		code:        "invalid_client",
		description: "client authentication failed",
	}
	var id, secret string
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		if assertionAud == "" || form.Get("client_assertion_type") != clientAssertionType ||
			r.Header.Get("Authorization") != "" || form.Has("client_secret") {
			return Client{}, invalidClient
		}
		c, ok := i.verifyAssertion(form.Get("client_assertion"), assertionAud)
		if !ok || (form.Has("client_id") && form.Get("client_id") != c.ID) {
			return Client{}, invalidClient
		}
		return c, nil
	}
	if user, pass, ok := r.BasicAuth(); ok {
		if form.Has("client_secret") {
			return Client{}, badRequest("invalid_request", "more than one client authentication method")
		}
		// The credentials are form-urlencoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(user)
		secret, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return Client{}, invalidClient
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return Client{}, badRequest("invalid_request", "client_id does not match the authenticated client")
		}
	} else if r.Header.Get("Authorization") != "" {
		return Client{}, invalidClient // some other scheme, or malformed Basic
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
		if id == "" || !form.Has("client_secret") {
			return Client{}, invalidClient
		}
	}

	i.mu.RLock()
	c, known := i.clients[id]
	i.mu.RUnlock()
	if !known {
		// Compare anyway so unknown and known IDs take similar time.
		c = Client{Secret: "\x00"}
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 || !known {
		return Client{}, invalidClient
	}
	return c, nil
}
