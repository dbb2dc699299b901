package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestPKI is a certificate authority made for one test, with a server
// certificate it issued for 127.0.0.1 and localhost. Keys are ECDSA P-256;
// certificates are valid from an hour before [NewTestPKI] to an hour
// after. Its methods are safe for concurrent use.
type TestPKI struct {
	// Pool holds the CA's certificate alone: the RootCAs of a client, the
	// ClientCAs of a server that verifies client certificates.
	Pool *x509.CertPool
	// Server is the server certificate, with its Leaf: IP address
	// 127.0.0.1 and DNS name "localhost", for server authentication.
	Server tls.Certificate

	ca                  *x509.Certificate
	key                 *ecdsa.PrivateKey
	notBefore, notAfter time.Time
	serial              atomic.Int64 // of the last certificate made
}

// NewTestPKI returns a new CA with its server certificate. It fails t if
// a key or a certificate cannot be made.
func NewTestPKI(t testing.TB) *TestPKI {
	t.Helper()
	now := time.Now()
	p := &TestPKI{Pool: x509.NewCertPool(), key: newKey(t), notBefore: now.Add(-time.Hour), notAfter: now.Add(time.Hour)}
	tmpl := p.template("bearerguard test CA")
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, p.key.Public(), p.key)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.Pool.AddCert(p.ca)
	tmpl = p.template("localhost")
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	tmpl.DNSNames = []string{"localhost"}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	p.Server = p.issue(t, tmpl)
	return p
}

// ClientCert returns a new client certificate of the CA, with its Leaf,
// for the common name cn. Its SHA-256 hash is what a token bound to it
// carries (RFC 8705 §3.1).
func (p *TestPKI) ClientCert(t testing.TB, cn string) tls.Certificate {
	t.Helper()
	tmpl := p.template(cn)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return p.issue(t, tmpl)
}

// template returns a certificate template for cn with the next serial
// number and p's validity.
func (p *TestPKI) template(cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(p.serial.Add(1)),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    p.notBefore,
		NotAfter:     p.notAfter,
	}
}

// issue returns the certificate of tmpl, signed by the CA, for a new key.
func (p *TestPKI) issue(t testing.TB, tmpl *x509.Certificate) tls.Certificate {
	t.Helper()
	k := newKey(t)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, k.Public(), p.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}
}

// newKey returns a new ECDSA P-256 key.
func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// serve starts an HTTPS server on loopback running h that asks for a
// client certificate of the CA but takes connections without one. It is
// closed when the test ends.
func (p *TestPKI) serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{
		Certificates: []tls.Certificate{p.Server},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    p.Pool,
		MinVersion:   tls.VersionTLS12,
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// client returns an HTTPS client trusting only the CA and presenting cert
// (none if nil). Its idle connections are closed when the test ends.
func (p *TestPKI) client(t testing.TB, cert *tls.Certificate) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: p.Pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// runMTLS: certificate-bound tokens (RFC 8705 §3) over real TLS connections
// with client certificates made by a test CA, through the front end h (the
// app of [Run], its /me route): a token bound to client certificate A is
// accepted from a client presenting A and refused (401 invalid_token) from
// one presenting B, another certificate of the same CA, or none; an
// unbound token is accepted with or without a certificate. The certificate
// is the connection's: a client without one is refused even while A's
// connection to the same server is open.
func runMTLS(t *testing.T, iss *middlewaretest.Issuer, h http.Handler) {
	pki := NewTestPKI(t)
	certA, certB := pki.ClientCert(t, "client A"), pki.ClientCert(t, "client B")
	bound := iss.Token(middlewaretest.Spec{CertThumbprint: middlewaretest.CertThumbprint(certA.Leaf)})
	unbound := iss.Token(middlewaretest.Spec{})
	withA, withB, without := pki.client(t, &certA), pki.client(t, &certB), pki.client(t, nil)
	url := pki.serve(t, h).URL + "/me"
	for _, tc := range []struct {
		name   string
		client *http.Client
		token  string
		status int
		code   string
	}{
		{"bound, certificate A", withA, bound, http.StatusOK, ""},
		{"bound, certificate B", withB, bound, http.StatusUnauthorized, "invalid_token"},
		{"bound, no certificate", without, bound, http.StatusUnauthorized, "invalid_token"},
		{"unbound, certificate A", withA, unbound, http.StatusOK, ""},
		{"unbound, no certificate", without, unbound, http.StatusOK, ""},
		// A's client keeps its connection alive from the first case:
		// nothing of it carries over to the other clients.
		{"bound, no certificate, after A", without, bound, http.StatusUnauthorized, "invalid_token"},
		{"bound, certificate A again", withA, bound, http.StatusOK, ""},
		{"bound, certificate B, after A", withB, bound, http.StatusUnauthorized, "invalid_token"},
	} {
		status, code := getTLS(t, tc.client, url, tc.token)
		if status != tc.status || code != tc.code {
			t.Errorf("%s: %d error=%q, want %d error=%q", tc.name, status, code, tc.status, tc.code)
		}
	}
}

// getTLS sends GET url with token as Bearer and returns the status and the
// RFC 6750 error code of the challenge ("" on a 200), checking that a
// refusal carries exactly one Bearer challenge.
func getTLS(t testing.TB, c *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.TLS == nil {
		t.Fatalf("GET %s: not over TLS", url)
	}
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	challenges := resp.Header.Values("WWW-Authenticate")
	if len(challenges) != 1 || !strings.HasPrefix(challenges[0], "Bearer ") {
		t.Fatalf("status %d, WWW-Authenticate %q: want one Bearer challenge", resp.StatusCode, challenges)
	}
	_, after, _ := strings.Cut(challenges[0], `error="`)
	code, _, _ := strings.Cut(after, `"`)
	return resp.StatusCode, code
}
