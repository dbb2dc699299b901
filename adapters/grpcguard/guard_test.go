package grpcguard_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/adapters/grpcguard"
	"github.com/bearerguard/bearerguard/internal/conformance"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// TestNew: a method name that is not "/package.Service/Method", a method
// both exempt and given a policy, an invalid policy and a missing
// validator are refused.
func TestNew(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	v := newValidator(t, iss, middleware.Config{})
	bad := middleware.Policy{MaxAge: -time.Second}
	for _, c := range []struct {
		name string
		cfg  grpcguard.Config
		want error
	}{
		{"no leading slash", grpcguard.Config{Methods: map[string]middleware.Policy{"test.v1.Test/Me": {}}}, grpcguard.ErrMethodName},
		{"no method", grpcguard.Config{Methods: map[string]middleware.Policy{"/test.v1.Test/": {}}}, grpcguard.ErrMethodName},
		{"no service", grpcguard.Config{Exempt: []string{"//Me"}}, grpcguard.ErrMethodName},
		{"three parts", grpcguard.Config{Exempt: []string{"/a/b/c"}}, grpcguard.ErrMethodName},
		{"exempt with a policy", grpcguard.Config{Methods: map[string]middleware.Policy{method("Me"): {}}, Exempt: []string{method("Me")}}, grpcguard.ErrMethodName},
		{"invalid method policy", grpcguard.Config{Methods: map[string]middleware.Policy{method("Me"): bad}}, middleware.ErrInvalidConfig},
		{"invalid default policy", grpcguard.Config{Default: bad}, middleware.ErrInvalidConfig},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := grpcguard.New(v, c.cfg); !errors.Is(err, c.want) {
				t.Errorf("err %v, want %v", err, c.want)
			}
		})
	}
	if _, err := grpcguard.New(nil, grpcguard.Config{}); !errors.Is(err, grpcguard.ErrNoValidator) {
		t.Errorf("nil validator: %v", err)
	}
	if _, err := grpcguard.New(v, testConfig()); err != nil {
		t.Errorf("test config: %v", err)
	}
}

// TestMethods: exempt methods are served without reading the token;
// methods without a policy of their own get Default.
func TestMethods(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	v := newValidator(t, iss, middleware.Config{})
	cfg := testConfig()
	cfg.Default = middleware.ScopePolicy("admin")
	conn := connect(t, v, cfg)
	reader := bearer(iss.Token(middlewaretest.Spec{Scopes: []string{"read:users"}}))
	for _, c := range []struct {
		name, method string
		md           metadata.MD
		want         codes.Code
	}{
		{"exempt without token", "Health", nil, codes.OK},
		{"exempt with a malformed token", "Health", metadata.Pairs("authorization", "Bearer"), codes.OK},
		{"exempt with a token", "Health", reader, codes.OK},
		{"default policy refuses", "Me", reader, codes.PermissionDenied},
		{"method policy allows", "ListUsers", reader, codes.OK},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := call(t, conn, c.method, c.md)
			if res.st.Code() != c.want {
				t.Fatalf("code %v, want %v", res.st.Code(), c.want)
			}
			if c.method == "Health" && res.body["anonymous"] != true {
				t.Errorf("exempt method saw claims: %v", res.body)
			}
		})
	}
}

// TestStream: the stream interceptor puts the claims in the stream's
// context and refuses a call without token with the challenge trailer.
func TestStream(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	v := newValidator(t, iss, middleware.Config{})
	conn := connect(t, v, testConfig())
	res := watch(t, conn, bearer(iss.Token(middlewaretest.Spec{})))
	if res.st.Code() != codes.OK || res.body["sub"] != "user-123" {
		t.Fatalf("with token: %v %v", res.st.Code(), res.body)
	}
	res = watch(t, conn, nil)
	if res.st.Code() != codes.Unauthenticated {
		t.Fatalf("without token: %v, want Unauthenticated", res.st.Code())
	}
	if ch := res.trailer.Get("www-authenticate"); len(ch) != 1 || ch[0] != "Bearer" {
		t.Errorf("www-authenticate %q, want Bearer", ch)
	}
}

// TestAuthFunc: the AuthFunc under go-grpc-middleware's auth interceptors
// answers as the Guard's own interceptors do, per method; the error a
// server-side interceptor sees matches the core's sentinels.
func TestAuthFunc(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	v := newValidator(t, iss, middleware.Config{})
	ready(t, v)
	g, err := grpcguard.New(v, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan error, 1)
	record := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		res, err := h(ctx, req)
		seen <- err
		return res, err
	}
	p := conformance.NewTestPKI(t)
	addr := serve(t, p,
		grpc.ChainUnaryInterceptor(record, auth.UnaryServerInterceptor(g.AuthFunc())),
		grpc.StreamInterceptor(auth.StreamServerInterceptor(g.AuthFunc())))
	conn := dial(t, p, addr, nil)

	expired := bearer(iss.Token(middlewaretest.Spec{Lifetime: -time.Hour}))
	res := call(t, conn, "Me", expired)
	if res.st.Code() != codes.Unauthenticated || errorInfo(res.st).GetReason() != "invalid_token" {
		t.Fatalf("expired: %v %v", res.st.Code(), errorInfo(res.st))
	}
	if err := <-seen; !errors.Is(err, middleware.ErrTokenExpired) || !errors.Is(err, middleware.ErrInvalidToken) {
		t.Errorf("server-side error %v does not match ErrTokenExpired and ErrInvalidToken", err)
	}
	if ch := res.trailer.Get("www-authenticate"); len(ch) != 1 {
		t.Errorf("www-authenticate %q", ch)
	}
	reader := bearer(iss.Token(middlewaretest.Spec{Scopes: []string{"read:users"}}))
	for m, want := range map[string]codes.Code{"ListUsers": codes.OK, "CreateUser": codes.PermissionDenied, "Health": codes.OK} {
		if res := call(t, conn, m, reader); res.st.Code() != want {
			t.Errorf("%s: %v, want %v", m, res.st.Code(), want)
		}
		<-seen
	}
	if res := watch(t, conn, reader); res.st.Code() != codes.OK || res.body["sub"] != "user-123" {
		t.Errorf("stream: %v %v", res.st.Code(), res.body)
	}
	if _, err := g.AuthFunc()(context.Background()); err == nil {
		t.Error("AuthFunc outside a call: no error")
	}
}

// TestPlaintext: on a connection without TLS (TLS terminated before the
// server), a DPoP proof's htu is still https://<authority>/..., and a
// certificate-bound token is refused: no certificate was presented.
func TestPlaintext(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	v := newValidator(t, iss, middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed}})
	ready(t, v)
	g, err := grpcguard.New(v, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(g.UnaryServerInterceptor()))
	srv.RegisterService(serviceDesc(), struct{}{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("api.example.test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	key := middlewaretest.NewDPoPKey("ES256")
	bound := iss.Token(middlewaretest.Spec{JKT: key.Thumbprint()})
	for _, c := range []struct {
		htu  string
		want codes.Code
	}{
		{"https://api.example.test" + method("Me"), codes.OK},
		{"http://api.example.test" + method("Me"), codes.Unauthenticated},
	} {
		md := metadata.Pairs("authorization", "DPoP "+bound, "dpop", key.Proof(middlewaretest.Proof{Method: "POST", URL: c.htu, AccessToken: bound}))
		if res := call(t, conn, "Me", md); res.st.Code() != c.want {
			t.Errorf("htu %s: %v (%q), want %v", c.htu, res.st.Code(), res.st.Message(), c.want)
		}
	}
	other := conformance.NewTestPKI(t).ClientCert(t, "client")
	certBound := bearer(iss.Token(middlewaretest.Spec{CertThumbprint: middlewaretest.CertThumbprint(other.Leaf)}))
	if res := call(t, conn, "Me", certBound); res.st.Code() != codes.Unauthenticated {
		t.Errorf("certificate-bound token without TLS: %v, want Unauthenticated", res.st.Code())
	}
}
