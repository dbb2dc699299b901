package interop

// Ory Hydra, the third kind of server: a Go program built from the Go module
// proxy by .ci/install-interop.sh (testdata/hydra pins it in a module of its
// own, outside the workspace), run with an in-memory database.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// HydraOpaquePrefix begins every opaque access token Hydra issues.
const HydraOpaquePrefix = "ory_at_"

// Hydra is an Ory Hydra server (`hydra serve all --dev`) on two loopback
// ports: the public one, whose URL is the issuer, and the admin one, which
// answers without any authentication and so is never exposed in
// production. Its database is in process memory: clients and tokens are
// lost when it stops.
//
// A Hydra belongs to the test that created it: call its methods from that
// test's goroutine.
type Hydra struct {
	// Issuer is the issuer identifier exactly as the metadata says.
	Issuer string
	// TokenURL and JWKSURL are the token endpoint and jwks_uri from the
	// metadata; RevocationURL is the RFC 7009 revocation_endpoint.
	TokenURL, JWKSURL, RevocationURL string
	// IntrospectionURL is the admin API's RFC 7662 endpoint. Hydra
	// authenticates no caller there.
	IntrospectionURL string
	// AdminURL is the admin API's base URL.
	AdminURL string

	t testing.TB
	process
}

// HydraClient is a client_credentials client registered at Hydra.
type HydraClient struct {
	Credentials
	// JWT says the client's access tokens are JWTs signed with Hydra's
	// keys (access_token_strategy "jwt"); otherwise they are opaque.
	JWT bool
}

// StartHydra starts Hydra on free loopback ports and waits, at most
// ReadyTimeout, until its admin API is ready and its public metadata names
// the issuer.
func StartHydra(t testing.TB) *Hydra {
	t.Helper()
	bin := requireHydra(t)
	public, admin := ReservePort(t), ReservePort(t)
	for admin == public {
		admin = ReservePort(t)
	}
	issuer := "http://127.0.0.1:" + strconv.Itoa(public)
	h := &Hydra{
		Issuer:           issuer,
		AdminURL:         "http://127.0.0.1:" + strconv.Itoa(admin),
		IntrospectionURL: "http://127.0.0.1:" + strconv.Itoa(admin) + "/admin/oauth2/introspect",
		t:                t,
		process:          process{name: "hydra"},
	}
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out")
	cmd.Env = append(os.Environ(),
		"DSN=memory",
		"SECRETS_SYSTEM="+randomString()+randomString(),
		"URLS_SELF_ISSUER="+issuer,
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT="+strconv.Itoa(public),
		"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT="+strconv.Itoa(admin),
		"STRATEGIES_ACCESS_TOKEN=opaque",
		"LOG_LEVEL=warn",
	)
	h.stopAtCleanup(t)
	_, done := h.start(t, cmd, fmt.Sprintf("on ports %d (public) and %d (admin)", public, admin))
	if err := h.waitReady(done); err != nil {
		h.Stop()
		t.Fatalf("interop: hydra not ready: %v (server log follows)", err)
	}
	return h
}

func (h *Hydra) waitReady(done <-chan struct{}) error {
	deadline := time.Now().Add(ReadyTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var lastErr error
	for {
		var md struct {
			Issuer             string `json:"issuer"`
			TokenEndpoint      string `json:"token_endpoint"`
			JWKSURI            string `json:"jwks_uri"`
			RevocationEndpoint string `json:"revocation_endpoint"`
		}
		var ready map[string]any
		lastErr = getJSON(h.AdminURL+"/health/ready", &ready)
		if lastErr == nil {
			lastErr = getJSON(h.Issuer+"/.well-known/openid-configuration", &md)
		}
		if lastErr == nil {
			if md.Issuer != h.Issuer {
				return fmt.Errorf("metadata issuer %q, want %q", md.Issuer, h.Issuer)
			}
			if md.TokenEndpoint == "" || md.JWKSURI == "" || md.RevocationEndpoint == "" {
				return fmt.Errorf("metadata lacks token_endpoint, jwks_uri or revocation_endpoint: %+v", md)
			}
			h.TokenURL, h.JWKSURL, h.RevocationURL = md.TokenEndpoint, md.JWKSURI, md.RevocationEndpoint
			// Hydra makes its signing keys at the first request for its
			// JWKS; concurrent first requests (one per validator) would
			// each make a key set, and tokens be signed with a key some
			// validators never saw. One request, before any validator.
			var set struct {
				Keys []json.RawMessage `json:"keys"`
			}
			if err := getJSON(h.JWKSURL, &set); err != nil {
				return fmt.Errorf("JWKS: %v", err)
			}
			if len(set.Keys) == 0 {
				return errors.New("JWKS has no keys")
			}
			return nil
		}
		select {
		case <-done:
			return errors.New("process exited before it was ready")
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %v: %v", ReadyTimeout, lastErr)
		}
	}
}

// Stop kills the Hydra process and waits until it has exited. Its clients
// and tokens are gone: Hydra cannot be started again.
func (h *Hydra) Stop() { h.stop(h.t) }

// CreateClient registers a client_credentials client through the admin API
// (client_secret_basic), allowed scopes and audiences, and returns it with
// the identifier and secret Hydra gave it.
func (h *Hydra) CreateClient(t testing.TB, scopes, audiences []string, jwt bool) HydraClient {
	t.Helper()
	body := map[string]any{
		"client_secret":              randomString() + randomString(),
		"grant_types":                []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_basic",
		"scope":                      strings.Join(scopes, " "),
		"audience":                   audiences,
		"access_token_strategy":      "opaque",
	}
	if jwt {
		body["access_token_strategy"] = "jwt"
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.AdminURL+"/admin/clients", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		t.Fatalf("interop: hydra create client: %v", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("interop: hydra create client: status %d: %s", resp.StatusCode, out)
	}
	var c struct {
		ID       string `json:"client_id"`
		Secret   string `json:"client_secret"`
		Strategy string `json:"access_token_strategy"`
	}
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("interop: hydra create client: %v", err)
	}
	if c.ID == "" || c.Secret == "" || c.Strategy != body["access_token_strategy"] {
		t.Fatalf("interop: hydra create client: answer %s", out)
	}
	return HydraClient{Credentials: Credentials{ID: c.ID, Secret: c.Secret}, JWT: jwt}
}

// Token runs the client_credentials grant for c with golang.org/x/oauth2
// (client_secret_basic), asking for scopes and, in Hydra's "audience"
// parameter, audiences. It fails the test on any error, or if the token is
// not of the kind c's strategy makes: a compact JWS for a JWT client, one
// beginning with HydraOpaquePrefix otherwise.
func (h *Hydra) Token(t testing.TB, c HydraClient, scopes, audiences []string) string {
	t.Helper()
	conf := clientcredentials.Config{
		ClientID:       c.ID,
		ClientSecret:   c.Secret,
		TokenURL:       h.TokenURL,
		Scopes:         scopes,
		EndpointParams: url.Values{"audience": {strings.Join(audiences, " ")}},
		AuthStyle:      oauth2.AuthStyleInHeader,
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, httpClient(nil))
	tok, err := conf.Token(ctx)
	if err != nil {
		t.Fatalf("interop: hydra client_credentials token for %s: %v", c.ID, err)
	}
	if c.JWT != looksLikeJWS(tok.AccessToken) || c.JWT == strings.HasPrefix(tok.AccessToken, HydraOpaquePrefix) {
		t.Fatalf("interop: hydra issued %q to a client with JWT %v", tok.AccessToken, c.JWT)
	}
	return tok.AccessToken
}

// Revoke revokes token at RevocationURL (RFC 7009) as c, the client it was
// issued to, and fails the test unless Hydra answers 200.
func (h *Hydra) Revoke(t testing.TB, c HydraClient, token string) {
	t.Helper()
	revoke(t, h.name, h.RevocationURL, c.Credentials, token)
}

// Logs returns everything the Hydra process has printed so far.
func (h *Hydra) Logs() string { return h.logs.String() }

// requireHydra returns the Hydra binary: INTEROP_HYDRA, else the one
// .ci/install-interop.sh builds into testdata/hydra/bin.
func requireHydra(t testing.TB) string {
	skipShort(t)
	t.Helper()
	bin := os.Getenv("INTEROP_HYDRA")
	if bin == "" {
		bin = filepath.Join(packageDir(t), "testdata", "hydra", "bin", "hydra")
	}
	if _, err := os.Stat(bin); err != nil {
		missing(t, "Ory Hydra ("+bin+")", "run: bash .ci/install-interop.sh (it builds Hydra from testdata/hydra/go.mod)")
	}
	return bin
}
