package middleware_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// hgClientCert returns a self-signed client certificate.
func hgClientCert(t testing.TB) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(hgSelfSigned(t, k))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// hgTLSRequest returns a GET over TLS carrying token as Bearer, the client
// having presented cert (none if nil).
func hgTLSRequest(token string, cert *x509.Certificate) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://api.example.test/resource", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	if cert != nil {
		r.TLS.PeerCertificates = []*x509.Certificate{cert}
	}
	return r
}

// TestMTLSBoundToken: a token with "cnf" "x5t#S256" is accepted only from a
// client whose certificate has that thumbprint (RFC 8705 §3): on the TLS
// connection, or, with the explicit opt-in, in the proxy's header in
// either format; never from the header without the opt-in.
func TestMTLSBoundToken(t *testing.T) {
	kit := hgKit(t)
	cert, other := hgClientCert(t), hgClientCert(t)
	token := hgToken(kit, middlewaretest.Spec{CertThumbprint: middlewaretest.CertThumbprint(cert)})
	// As nginx escapes it: spaces as %20.
	pemOf := func(c *x509.Certificate) string {
		return url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	// Form-style: spaces as "+".
	formPEM := url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
	hashOf := func(c *x509.Certificate) string {
		sum := sha256.Sum256(c.Raw)
		return hex.EncodeToString(sum[:])
	}
	withHeader := func(cert *x509.Certificate, values ...string) func() *http.Request {
		return func() *http.Request {
			r := hgTLSRequest(token, cert)
			for _, v := range values {
				r.Header.Add("X-Client-Cert", v)
			}
			return r
		}
	}
	direct := middleware.MTLS{}
	nginx := middleware.MTLS{CertificateHeader: "X-Client-Cert", CertificateHeaderFormat: "pem-urlencoded"}
	envoy := middleware.MTLS{CertificateHeader: "X-Client-Cert", CertificateHeaderFormat: "xfcc"}
	for _, tc := range []struct {
		name string
		mtls middleware.MTLS
		r    func() *http.Request
		want error
	}{
		{"TLS: the certificate", direct, withHeader(cert), nil},
		{"TLS: another certificate", direct, withHeader(other), middleware.ErrCertificateMismatch},
		{"TLS: no certificate", direct, withHeader(nil), middleware.ErrSenderConstrained},
		{"TLS: header without the opt-in", direct, withHeader(nil, pemOf(cert)), middleware.ErrSenderConstrained},
		{"nginx: the certificate", nginx, withHeader(nil, pemOf(cert)), nil},
		{"nginx: spaces as +", nginx, withHeader(nil, formPEM), nil},
		{"nginx: another certificate", nginx, withHeader(nil, pemOf(other)), middleware.ErrCertificateMismatch},
		{"nginx: the TLS certificate does not count", nginx, withHeader(cert), middleware.ErrSenderConstrained},
		{"nginx: two headers", nginx, withHeader(nil, pemOf(cert), pemOf(cert)), middleware.ErrSenderConstrained},
		{"nginx: not PEM", nginx, withHeader(nil, "garbage"), middleware.ErrSenderConstrained},
		{"envoy: Hash", envoy, withHeader(nil, `By=spiffe://api;Hash=`+hashOf(cert)+`;Subject="CN=a,O=b";URI=`), nil},
		{"envoy: Cert", envoy, withHeader(nil, `Cert="`+pemOf(cert)+`"`), nil},
		{"envoy: Hash and Cert", envoy, withHeader(nil, `Hash=`+hashOf(cert)+`;Cert="`+pemOf(cert)+`"`), nil},
		{"envoy: Hash of another", envoy, withHeader(nil, `Hash=`+hashOf(other)), middleware.ErrCertificateMismatch},
		{"envoy: Hash and Cert disagree", envoy, withHeader(nil, `Hash=`+hashOf(other)+`;Cert="`+pemOf(cert)+`"`), middleware.ErrSenderConstrained},
		{"envoy: two elements", envoy, withHeader(nil, `Hash=`+hashOf(cert)+`,Hash=`+hashOf(cert)), middleware.ErrSenderConstrained},
		{"envoy: neither Hash nor Cert", envoy, withHeader(nil, `By=spiffe://api`), middleware.ErrSenderConstrained},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := hgReady(t, kit, middleware.Config{MTLS: tc.mtls})
			_, err := v.Check(tc.r(), middleware.Policy{})
			hgWant(t, err, hgWants(tc.want)...)
		})
	}
	t.Run("unbound token without certificate", func(t *testing.T) {
		v := hgReady(t, kit, middleware.Config{})
		_, err := v.Check(hgTLSRequest(hgToken(kit, middlewaretest.Spec{}), nil), middleware.Policy{})
		hgWant(t, err)
	})
	t.Run("DPoP and certificate bound", func(t *testing.T) {
		key := middlewaretest.NewDPoPKey("ES256")
		both := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint(), CertThumbprint: middlewaretest.CertThumbprint(cert)})
		v := hgReady(t, kit, middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed}})
		r := hgDPoPRequest(both, hgProof(key, both, middlewaretest.Proof{}))
		_, err := v.Check(r, middleware.Policy{})
		hgWant(t, err, middleware.ErrSenderConstrained)
		r = hgDPoPRequest(both, hgProof(key, both, middlewaretest.Proof{}))
		r.TLS.PeerCertificates = []*x509.Certificate{cert}
		_, err = v.Check(r, middleware.Policy{})
		hgWant(t, err)
	})
}

// TestMTLSConfig: New refuses an MTLS header setting it cannot honour.
func TestMTLSConfig(t *testing.T) {
	for name, m := range map[string]middleware.MTLS{
		"format without header": {CertificateHeaderFormat: "xfcc"},
		"header without format": {CertificateHeader: "X-Client-Cert"},
		"unknown format":        {CertificateHeader: "X-Client-Cert", CertificateHeaderFormat: "der"},
		"not a header name":     {CertificateHeader: "X Client", CertificateHeaderFormat: "xfcc"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := middleware.New(context.Background(), middleware.Config{
				Issuer: "https://issuer.example.test", Audiences: []string{hgAudience}, MTLS: m,
			})
			if !errors.Is(err, middleware.ErrInvalidConfig) {
				t.Errorf("New: %v, want ErrInvalidConfig", err)
			}
		})
	}
}
