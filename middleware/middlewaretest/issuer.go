package middlewaretest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Issuer is an in-process OAuth 2.0 authorization server and OpenID
// Provider listening on 127.0.0.1. Create it with [NewIssuer] and stop it
// with [Issuer.Close]. Its methods are safe for concurrent use.
type Issuer struct {
	// URL is the issuer identifier and the base URL of every endpoint,
	// "http://127.0.0.1:PORT" with no trailing slash. Tokens carry it in
	// the "iss" claim and the metadata documents in "issuer".
	URL string

	srv       *httptest.Server
	done      chan struct{} // closed by Close; ends injected delays
	closeOnce sync.Once

	jwksRequests          atomic.Int64
	discoveryRequests     atomic.Int64
	introspectionRequests atomic.Int64

	mu           sync.RWMutex
	current      map[string]*signingKey // alg -> signing key
	published    []*signingKey          // JWKS contents, in publication order
	jwksOverride []byte                 // non-nil: served at /jwks verbatim
	keyIssuer    string                 // non-empty: the "issuer" member of every JWK served
	status       int                    // non-zero: metadata and JWKS fail with it
	delay        time.Duration
	clients      map[string]Client

	opaque                map[string]*opaqueToken // tokens of OpaqueToken
	introspectionOverride []byte                  // non-nil: the introspection answer, verbatim
	seenJTIs              map[string]bool         // jti of private_key_jwt assertions seen
}

// NewIssuer starts and returns a new Issuer. It generates RSA 2048 keys
// for RS256 and PS256, a P-256 key for ES256 and an Ed25519 key for EdDSA;
// keys for the other algorithms are generated on first use. The caller
// should call Close when finished. NewIssuer panics if a key cannot be
// generated, as httptest.NewServer panics if it cannot listen.
func NewIssuer() *Issuer {
	i := &Issuer{
		done:    make(chan struct{}),
		current: make(map[string]*signingKey),
		clients: make(map[string]Client),
	}
	for _, alg := range eagerAlgs() {
		k, err := generateKey(alg)
		if err != nil {
			panic(err)
		}
		i.installLocked(k) // not shared yet: no lock needed
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveMetadata)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", i.serveMetadata)
	mux.HandleFunc("GET /jwks", i.serveJWKS)
	mux.HandleFunc("POST /oauth/token", i.serveToken)
	mux.HandleFunc("POST /oauth/introspect", i.serveIntrospection)
	// URL is set before the server starts, so that a request arriving at
	// once (a client of an earlier server on the same port) reads it
	// without a race.
	i.srv = httptest.NewUnstartedServer(mux)
	i.URL = "http://" + i.srv.Listener.Addr().String()
	i.srv.Start()
	return i
}

// Close shuts the Issuer down and blocks until all outstanding requests
// have completed. Responses held back by [Issuer.SetDelay] are released
// at once. Close may be called more than once.
func (i *Issuer) Close() {
	i.closeOnce.Do(func() { close(i.done) })
	i.srv.Close()
}

// JWKSURL returns the URL of the JWK Set, URL + "/jwks".
func (i *Issuer) JWKSURL() string { return i.URL + "/jwks" }

// TokenURL returns the URL of the token endpoint, URL + "/oauth/token".
func (i *Issuer) TokenURL() string { return i.URL + "/oauth/token" }

// Client returns an HTTP client configured for requests to the Issuer.
// It is closed, like httptest.Server's, when the Issuer is closed.
func (i *Issuer) Client() *http.Client { return i.srv.Client() }

// SetStatus makes the discovery, metadata, JWKS and introspection
// endpoints answer with HTTP status code, for outage tests. Zero restores normal service. The
// token endpoint is not affected.
func (i *Issuer) SetStatus(code int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.status = code
}

// SetDelay makes the discovery, metadata, JWKS and introspection
// endpoints wait d before
// answering, for timeout tests. A wait ends early, without a response,
// when the client gives up on the request or the Issuer is closed. Zero
// removes the delay.
func (i *Issuer) SetDelay(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.delay = d
}

// JWKSRequests returns the number of GET requests /jwks has received,
// including those answered with an injected status or cut short by an
// injected delay.
func (i *Issuer) JWKSRequests() int64 { return i.jwksRequests.Load() }

// DiscoveryRequests returns the number of GET requests received by
// /.well-known/openid-configuration and
// /.well-known/oauth-authorization-server together, counted like
// [Issuer.JWKSRequests].
func (i *Issuer) DiscoveryRequests() int64 { return i.discoveryRequests.Load() }

// fault applies the injected delay and status. It reports whether the
// request has been dealt with and the handler must return.
func (i *Issuer) fault(w http.ResponseWriter, r *http.Request) bool {
	i.mu.RLock()
	delay := i.delay
	i.mu.RUnlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		case <-i.done:
			http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
			return true
		}
	}
	i.mu.RLock()
	status := i.status
	i.mu.RUnlock()
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return true
	}
	return false
}

// metadata is the provider metadata document shared by OpenID Connect
// Discovery 1.0 §3 and RFC 8414 §2.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	JWKSURI                           string   `json:"jwks_uri"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
}

func (i *Issuer) serveMetadata(w http.ResponseWriter, r *http.Request) {
	i.discoveryRequests.Add(1)
	if i.fault(w, r) {
		return
	}
	i.mu.RLock()
	scopes := []string{}
	for _, c := range i.clients {
		scopes = append(scopes, c.Scopes...)
	}
	i.mu.RUnlock()
	slices.Sort(scopes)
	doc := metadata{
		Issuer:                            i.URL,
		JWKSURI:                           i.JWKSURL(),
		TokenEndpoint:                     i.TokenURL(),
		GrantTypesSupported:               []string{"client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		IntrospectionEndpoint:             i.IntrospectionURL(),
		IntrospectionAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		// There is no authorization endpoint, so no response type is
		// supported; the member is REQUIRED, hence an empty array.
		ResponseTypesSupported:           []string{},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: supportedAlgs(),
		ScopesSupported:                  slices.Compact(scopes),
	}
	writeJSON(w, http.StatusOK, doc)
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.jwksRequests.Add(1)
	if i.fault(w, r) {
		return
	}
	body, err := i.jwksBody()
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
