package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// safeClient returns a copy of c (or a default client) that never follows a
// redirect to another origin and has a timeout.
func safeClient(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	if cp.Timeout <= 0 {
		cp.Timeout = DefaultFetchTimeout
	}
	next := cp.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		first := via[0].URL
		if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
			return errors.New("redirect to another origin refused")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &cp
}

var (
	errBodyTooLarge = errors.New("response body too large")
	errStatus       = errors.New("unexpected HTTP status")
)

// getJSON fetches u and decodes its JSON body into v, reading at most limit
// bytes. It returns the status of the answer, if one was received. Its
// errors do not name u: the caller's error does.
func getJSON(ctx context.Context, client *http.Client, u string, limit int64, v any) (status int, err error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return resp.StatusCode, errStatus
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, err
	}
	if int64(len(body)) > limit {
		return resp.StatusCode, fmt.Errorf("%w (limit %d bytes)", errBodyTooLarge, limit)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resp.StatusCode, fmt.Errorf("invalid JSON: %w", err)
	}
	return resp.StatusCode, nil
}

// fetchError is the cause of a failed fetch of u: reason is the sentinel
// of the step (ErrDiscoveryFailed, ErrIssuerMismatch, ErrJWKSUnusable),
// status what getJSON returned, err what went wrong.
func fetchError(reason error, u string, status int, err error) *KeysError {
	ke := &KeysError{URL: u, reason: reason, timeout: isTimeout(err)}
	if status != http.StatusOK {
		ke.Status = status
	}
	if err != errStatus {
		ke.cause = err
	}
	return ke
}

// isTimeout reports whether err is a request that timed out: the client's
// Timeout or the fetch's own deadline.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}

// metadata is the part of an OpenID Connect discovery document or RFC 8414
// authorization server metadata bearerguard reads.
type metadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// discoveryURLs lists where an issuer's metadata may be found: OpenID
// Connect Discovery 1.0 §4 appends the well-known path to the issuer; RFC
// 8414 §3.1 inserts it between host and path.
func discoveryURLs(issuer string) []string {
	oidc := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	u, err := url.Parse(issuer)
	if err != nil {
		return []string{oidc}
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	rfc := *u
	rfc.RawPath = ""
	rfc.Path = ""
	rfc.RawQuery = ""
	return []string{oidc, rfc.String() + "/.well-known/oauth-authorization-server" + path}
}

var (
	errNoJWKSURI       = errors.New("no jwks_uri")
	errNoIntrospection = errors.New("no introspection_endpoint")
	errIssuer          = errors.New("the document names another issuer")
)

// discover finds the jwks_uri of issuer. Errors are *KeysError, for the
// last location tried.
func discover(ctx context.Context, client *http.Client, issuer string, insecure bool) (string, error) {
	return discoverURL(ctx, client, issuer, insecure, "jwks_uri", errNoJWKSURI, func(m *metadata) string { return m.JWKSURI })
}

// discoverURL finds the URL that member returns of issuer's metadata. The
// document's issuer must equal the configured one exactly (OpenID Connect
// Discovery 1.0 §4.3, RFC 8414 §3.3); the URL must be https (or http on
// loopback, or insecure). name is the member's name, missing the cause
// when it is empty.
// Errors are *KeysError, for the last location tried.
func discoverURL(ctx context.Context, client *http.Client, issuer string, insecure bool, name string, missing error, member func(*metadata) string) (string, error) {
	var last error
	for _, u := range discoveryURLs(issuer) {
		var m metadata
		status, err := getJSON(ctx, client, u, MaxDiscoverySize, &m)
		if err != nil {
			last = fetchError(ErrDiscoveryFailed, u, status, err)
			if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
				continue // try the next well-known location
			}
			break
		}
		if m.Issuer != issuer {
			return "", fetchError(ErrIssuerMismatch, u, status, fmt.Errorf("%w: %q, want %q", errIssuer, m.Issuer, issuer))
		}
		found := member(&m)
		if found == "" {
			return "", fetchError(ErrDiscoveryFailed, u, status, missing)
		}
		if err := checkURL(found, insecure); err != nil {
			return "", fetchError(ErrDiscoveryFailed, u, status, fmt.Errorf("%s %q: %w", name, found, err))
		}
		return found, nil
	}
	return "", last
}
