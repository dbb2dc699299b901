package conformance

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Sender-constrained tokens: DPoP (RFC 9449) and certificate-bound tokens
// (RFC 8705) through a proxy's header, for every front end.

const (
	// dpopBase is the DPoP.PublicBaseURL of the DPoP validator, so that
	// proofs name one URI in process and over a socket.
	dpopBase = "https://api.example.test"
	// certHeader is its MTLS.CertificateHeader, in nginx's format.
	certHeader = "X-Client-Cert"
)

// dpopAlgs is the algs attribute of the DPoP challenge with the default
// DPoP.Algorithms.
var dpopAlgs = `algs="` + strings.Join(middleware.DefaultAlgorithms(), " ") + `"`

var (
	invalidProof    = refusal{status: 401, code: "invalid_dpop_proof", desc: "the DPoP proof is invalid"}
	notDPoPBound    = invalidToken("the token is not bound to a DPoP key")
	otherClientCert = invalidToken("the token is bound to another client certificate")
)

// dpopChallenge is the WWW-Authenticate value of r on a route that accepts
// Bearer and DPoP (RFC 9449 §7.1): two challenges in one field, the error
// attributes with the scheme the request used.
func (r refusal) dpopChallenge(viaDPoP bool) string {
	switch {
	case r.code == "unauthorized":
		return "Bearer, DPoP " + dpopAlgs
	case viaDPoP:
		return `Bearer, DPoP error="` + r.code + `", error_description="` + r.desc + `", ` + dpopAlgs
	}
	return r.challenge() + ", DPoP " + dpopAlgs
}

// onDPoP is r.on for the DPoP validator.
func (r refusal) onDPoP(name, method, path string, h http.Header) Case {
	c := r.on(name, method, path, h)
	c.Challenge = r.dpopChallenge(strings.HasPrefix(h.Get("Authorization"), "DPoP "))
	return c
}

// proxyMTLS is the MTLS of the validator of [DPoPCases]: certificates of
// certificate-bound tokens read from a proxy's header.
var proxyMTLS = middleware.MTLS{CertificateHeader: certHeader, CertificateHeaderFormat: "pem-urlencoded"}

// runDPoP runs the cases cases makes for iss against the app build makes
// for a validator of iss with DPoP allowed (DPoP.PublicBaseURL [dpopBase])
// and mtls as its MTLS, in process and over a socket. cases is called for
// each run, so that each run gets fresh proofs: a proof is accepted once.
func runDPoP(t *testing.T, iss *middlewaretest.Issuer, mtls middleware.MTLS, build func(v *middleware.Validator) http.Handler, cases func(testing.TB, *middlewaretest.Issuer) []Case) {
	t.Helper()
	cfg := suiteConfig(iss, 10*time.Second)
	cfg.DPoP = middleware.DPoP{Mode: middleware.DPoPAllowed, PublicBaseURL: dpopBase}
	cfg.MTLS = mtls
	runWith(t, cfg, build, func() []Case { return cases(t, iss) })
}

// DPoPCases returns the cases of sender-constrained tokens for an app whose
// validator trusts iss with DPoP allowed (Config.DPoP.Mode DPoPAllowed,
// PublicBaseURL "https://api.example.test") and client certificates read
// from the X-Client-Cert header in nginx's format. The cases must run in
// order: one replays the proof of another.
func DPoPCases(t testing.TB, iss *middlewaretest.Issuer) []Case {
	key := middlewaretest.NewDPoPKey("ES256")
	bound := iss.Token(middlewaretest.Spec{JKT: key.Thumbprint()})
	unbound := iss.Token(middlewaretest.Spec{})
	proof := func(token, path, method string) string {
		return key.Proof(middlewaretest.Proof{Method: method, URL: dpopBase + path, AccessToken: token})
	}
	dpop := func(token string, proofs ...string) http.Header {
		h := authorization("DPoP " + token)
		h["Dpop"] = proofs
		return h
	}
	used := proof(bound, "/me", "GET")
	writer := iss.Token(middlewaretest.Spec{JKT: key.Thumbprint(), Scopes: []string{"write:users"}})

	pki := NewTestPKI(t)
	cert, other := pki.ClientCert(t, "client").Leaf, pki.ClientCert(t, "other").Leaf
	certBound := iss.Token(middlewaretest.Spec{CertThumbprint: middlewaretest.CertThumbprint(cert)})
	withCert := func(c *x509.Certificate) http.Header {
		h := bearer(certBound)
		if c != nil {
			h.Set(certHeader, url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))))
		}
		return h
	}
	return []Case{
		ok("DPoP: bound token and proof", "GET", "/me", dpop(bound, used), map[string]any{"sub": "user-123"}),
		ok("DPoP: POST with its own proof", "POST", "/users", dpop(writer, proof(writer, "/users", "POST")), nil),
		invalidProof.onDPoP("DPoP: proof replayed", "GET", "/me", dpop(bound, used)),
		invalidProof.onDPoP("DPoP: proof for another URL", "GET", "/me", dpop(bound, proof(bound, "/users", "GET"))),
		invalidProof.onDPoP("DPoP: proof for another method", "GET", "/me", dpop(bound, proof(bound, "/me", "POST"))),
		invalidProof.onDPoP("DPoP: no proof", "GET", "/me", authorization("DPoP "+bound)),
		notDPoPBound.onDPoP("DPoP: unbound token", "GET", "/me", dpop(unbound, proof(unbound, "/me", "GET"))),
		senderConstraint.onDPoP("DPoP: bound token as Bearer", "GET", "/me", bearer(bound)),
		ok("DPoP: unbound token as Bearer", "GET", "/me", bearer(unbound), me()),
		noToken.onDPoP("DPoP: no token", "GET", "/me", nil),
		ok("mTLS: the certificate", "GET", "/me", withCert(cert), map[string]any{"sub": "user-123"}),
		otherClientCert.onDPoP("mTLS: another certificate", "GET", "/me", withCert(other)),
		senderConstraint.onDPoP("mTLS: no certificate", "GET", "/me", withCert(nil)),
	}
}
