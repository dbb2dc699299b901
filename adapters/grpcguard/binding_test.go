package grpcguard_test

import (
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/adapters/grpcguard"
	"github.com/bearerguard/bearerguard/internal/conformance"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// TestDPoP: a DPoP-bound token is accepted with the DPoP scheme and a
// proof from the "dpop" metadata whose htm is POST and htu
// https://<authority>/<package.Service>/<Method>; a proof of another
// method, URL or HTTP method, a replayed proof and a bound token sent as
// Bearer are Unauthenticated with the DPoP challenge.
func TestDPoP(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	v := newValidator(t, iss, middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed}})
	conn := connect(t, v, testConfig())

	key := middlewaretest.NewDPoPKey("ES256")
	bound := iss.Token(middlewaretest.Spec{JKT: key.Thumbprint(), Scopes: []string{"read:users"}})
	proof := func(htm, htu string) string {
		return key.Proof(middlewaretest.Proof{Method: htm, URL: htu, AccessToken: bound})
	}
	htu := func(m string) string { return "https://" + authority + method(m) }
	dpop := func(proofs ...string) metadata.MD {
		md := metadata.Pairs("authorization", "DPoP "+bound)
		md["dpop"] = proofs
		return md
	}
	used := proof("POST", htu("Me"))
	cases := []struct {
		name, method string
		md           metadata.MD
		want         codes.Code
		reason       string
	}{
		{"proof of the call", "Me", dpop(used), codes.OK, ""},
		{"proof of the call on a scoped method", "ListUsers", dpop(proof("POST", htu("ListUsers"))), codes.OK, ""},
		{"proof replayed", "Me", dpop(used), codes.Unauthenticated, "invalid_dpop_proof"},
		{"proof of another method", "Me", dpop(proof("POST", htu("ListUsers"))), codes.Unauthenticated, "invalid_dpop_proof"},
		{"proof with htm GET", "Me", dpop(proof("GET", htu("Me"))), codes.Unauthenticated, "invalid_dpop_proof"},
		{"proof of http://", "Me", dpop(proof("POST", "http://"+authority+method("Me"))), codes.Unauthenticated, "invalid_dpop_proof"},
		{"proof of another authority", "Me", dpop(proof("POST", "https://other.example.test"+method("Me"))), codes.Unauthenticated, "invalid_dpop_proof"},
		{"two proofs", "Me", dpop(proof("POST", htu("Me")), proof("POST", htu("Me"))), codes.Unauthenticated, "invalid_dpop_proof"},
		{"no proof", "Me", dpop(), codes.Unauthenticated, "invalid_dpop_proof"},
		{"bound token as Bearer", "Me", bearer(bound), codes.Unauthenticated, "invalid_token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := call(t, conn, c.method, c.md)
			if res.st.Code() != c.want {
				t.Fatalf("code %v (%q), want %v", res.st.Code(), res.st.Message(), c.want)
			}
			if c.want == codes.OK {
				if res.body["sub"] != "user-123" {
					t.Errorf("body %v", res.body)
				}
				return
			}
			if info := errorInfo(res.st); info == nil || info.Reason != c.reason {
				t.Errorf("ErrorInfo %v, want reason %q", info, c.reason)
			}
			if ch := res.trailer.Get("www-authenticate"); len(ch) != 1 || !containsScheme(ch[0], "DPoP") {
				t.Errorf("www-authenticate %q, want a DPoP challenge", ch)
			}
		})
	}
}

// TestDPoPNonce: with server nonces, a proof without nonce is
// Unauthenticated use_dpop_nonce with the trailer dpop-nonce, and a proof
// carrying that nonce is accepted (RFC 9449 §9).
func TestDPoPNonce(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	v := newValidator(t, iss, middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPRequired, NonceSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}}})
	conn := connect(t, v, testConfig())
	key := middlewaretest.NewDPoPKey("ES256")
	bound := iss.Token(middlewaretest.Spec{JKT: key.Thumbprint()})
	md := func(nonce string) metadata.MD {
		return metadata.Pairs("authorization", "DPoP "+bound, "dpop",
			key.Proof(middlewaretest.Proof{Method: "POST", URL: "https://" + authority + method("Me"), AccessToken: bound, Nonce: nonce}))
	}
	res := call(t, conn, "Me", md(""))
	if res.st.Code() != codes.Unauthenticated || errorInfo(res.st).GetReason() != "use_dpop_nonce" {
		t.Fatalf("without nonce: %v %v, want Unauthenticated use_dpop_nonce", res.st.Code(), errorInfo(res.st))
	}
	nonce := res.trailer.Get("dpop-nonce")
	if len(nonce) != 1 {
		t.Fatalf("dpop-nonce trailer %q", nonce)
	}
	if res := call(t, conn, "Me", md(nonce[0])); res.st.Code() != codes.OK {
		t.Fatalf("with the nonce: %v (%q)", res.st.Code(), res.st.Message())
	}
}

// TestCertificateBound: a token bound to a certificate (RFC 8705 §3) is
// accepted only on a connection whose client presented that certificate.
func TestCertificateBound(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	v := newValidator(t, iss, middleware.Config{})
	ready(t, v)
	g, err := grpcguard.New(v, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	p := conformance.NewTestPKI(t)
	addr := guarded(t, p, g)
	client, client2 := p.ClientCert(t, "client-1"), p.ClientCert(t, "client-2")
	token := bearer(iss.Token(middlewaretest.Spec{CertThumbprint: middlewaretest.CertThumbprint(client.Leaf)}))
	for _, c := range []struct {
		name string
		conn func() codes.Code
		want codes.Code
	}{
		{"the certificate", func() codes.Code { return call(t, dial(t, p, addr, &client), "Me", token).st.Code() }, codes.OK},
		{"another certificate", func() codes.Code { return call(t, dial(t, p, addr, &client2), "Me", token).st.Code() }, codes.Unauthenticated},
		{"no certificate", func() codes.Code { return call(t, dial(t, p, addr, nil), "Me", token).st.Code() }, codes.Unauthenticated},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.conn(); got != c.want {
				t.Errorf("code %v, want %v", got, c.want)
			}
		})
	}
}

// containsScheme reports whether the WWW-Authenticate value ch has a
// challenge of scheme (with attributes: DPoP's always has algs).
func containsScheme(ch, scheme string) bool {
	return strings.HasPrefix(ch, scheme+" ") || strings.Contains(ch, ", "+scheme+" ")
}
