package middleware_test

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
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// hgPKI is a test CA with the certificates the real-TLS mTLS tests use:
// the server's for 127.0.0.1 and two clients', all ECDSA P-256 and valid
// for a few minutes around now.
type hgPKI struct {
	pool         *x509.CertPool // the CA, for both sides
	server       tls.Certificate
	clientA      tls.Certificate
	clientB      tls.Certificate
	leafA, leafB *x509.Certificate
}

func hgNewPKI(t testing.TB) *hgPKI {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(0)
	now := time.Now()
	template := func(cn string) *x509.Certificate {
		serial++
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Minute),
			NotAfter:     now.Add(10 * time.Minute),
		}
	}
	caKey := key()
	caTmpl := template("bearerguard test CA")
	caTmpl.IsCA = true
	caTmpl.BasicConstraintsValid = true
	caTmpl.KeyUsage = x509.KeyUsageCertSign
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(tmpl *x509.Certificate) (tls.Certificate, *x509.Certificate) {
		k := key()
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, k.Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}, leaf
	}
	p := &hgPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	srv := template("127.0.0.1")
	srv.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	srv.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	p.server, _ = issue(srv)
	for _, c := range []struct {
		cn   string
		cert *tls.Certificate
		leaf **x509.Certificate
	}{{"client A", &p.clientA, &p.leafA}, {"client B", &p.clientB, &p.leafB}} {
		tmpl := template(c.cn)
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		*c.cert, *c.leaf = issue(tmpl)
	}
	return p
}

// serve starts an HTTPS server on loopback running h that asks for a
// client certificate of the CA but takes connections without one. It is
// closed when the test ends.
func (p *hgPKI) serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{
		Certificates: []tls.Certificate{p.server},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    p.pool,
		MinVersion:   tls.VersionTLS12,
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// client returns an HTTPS client trusting only the CA and presenting cert
// (none if nil). Its idle connections are closed when the test ends.
func (p *hgPKI) client(t testing.TB, cert *tls.Certificate) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// hgGetTLS sends GET url with token as Bearer and returns the status and
// the RFC 6750 error code of the challenge ("" on a 200), checking that a
// refusal carries exactly one Bearer challenge.
func hgGetTLS(t testing.TB, c *http.Client, url, token string) (int, string) {
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
	if len(challenges) != 1 {
		t.Fatalf("status %d, WWW-Authenticate %q: want one challenge", resp.StatusCode, challenges)
	}
	return resp.StatusCode, hgChallengeAttrs(t, challenges[0])["error"]
}

// hgMTLSApps are the ways the real-TLS test serves v, the protected route at
// /resource. (The adapters, modules of their own, run the same cases in
// their conformance suite: internal/conformance, "mtls over TLS".)
var hgMTLSApps = []struct {
	name string
	app  func(v *middleware.Validator) http.Handler
}{
	{"net/http", func(v *middleware.Validator) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/resource", v.Authenticate(hgOK))
		return mux
	}},
}

// TestMTLSRealTLS: certificate-bound tokens (RFC 8705 §3) over real TLS
// connections with client certificates made by a test CA: a token bound to
// client certificate A is accepted from a client presenting A and refused
// (401 invalid_token) from one presenting B, another certificate of the
// same CA, or none; an unbound token is accepted with or without a
// certificate. The certificate is the connection's: a client without one
// is refused even while A's connection to the same server is open.
func TestMTLSRealTLS(t *testing.T) {
	kit := hgKit(t)
	pki := hgNewPKI(t)
	bound := hgToken(kit, middlewaretest.Spec{CertThumbprint: middlewaretest.CertThumbprint(pki.leafA)})
	unbound := hgToken(kit, middlewaretest.Spec{})
	v := hgReady(t, kit, middleware.Config{})
	withA, withB, without := pki.client(t, &pki.clientA), pki.client(t, &pki.clientB), pki.client(t, nil)

	for _, app := range hgMTLSApps {
		t.Run(app.name, func(t *testing.T) {
			srv := pki.serve(t, app.app(v))
			url := srv.URL + "/resource"
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
				// A's client keeps its connection alive from the first
				// case: nothing of it carries over to the other clients.
				{"bound, no certificate, after A", without, bound, http.StatusUnauthorized, "invalid_token"},
				{"bound, certificate A again", withA, bound, http.StatusOK, ""},
				{"bound, certificate B, after A", withB, bound, http.StatusUnauthorized, "invalid_token"},
			} {
				status, code := hgGetTLS(t, tc.client, url, tc.token)
				if status != tc.status || code != tc.code {
					t.Errorf("%s: %d error=%q, want %d error=%q", tc.name, status, code, tc.status, tc.code)
				}
			}
		})
	}
}
