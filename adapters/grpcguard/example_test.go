package grpcguard_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net"

	"github.com/bearerguard/bearerguard/adapters/grpcguard"
	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// A server whose methods require a valid token, ListUsers the scope
// read:users, and whose health check is public. A call without token is
// Unauthenticated, with the RFC 6750 challenge in the trailer.
func Example() {
	iss := middlewaretest.NewIssuer() // stands for your authorization server
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:     iss.URL,
		Audiences:  []string{"https://api.example.test"},
		HTTPClient: iss.Client(), // the test issuer's TLS; omit in production
	})
	if err != nil {
		log.Fatal(err)
	}
	g, err := grpcguard.New(v, grpcguard.Config{
		Methods: map[string]middleware.Policy{
			"/test.v1.Test/ListUsers": middleware.ScopePolicy("read:users"),
		},
		Exempt: []string{"/grpc.health.v1.Health/Check"},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(g.UnaryServerInterceptor()),
		grpc.StreamInterceptor(g.StreamServerInterceptor()),
	)
	srv.RegisterService(serviceDesc(), struct{}{}) // your pb.RegisterXxxServer(srv, impl)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	var trailer metadata.MD
	err = conn.Invoke(ctx, "/test.v1.Test/ListUsers", new(emptypb.Empty), new(structpb.Struct), grpc.Trailer(&trailer))
	fmt.Println(status.Code(err), trailer.Get("www-authenticate"))

	token := iss.Token(middlewaretest.Spec{Scopes: []string{"read:users"}, Audience: []string{"https://api.example.test"}})
	out := new(structpb.Struct)
	err = conn.Invoke(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token),
		"/test.v1.Test/ListUsers", new(emptypb.Empty), out)
	fmt.Println(status.Code(err), out.AsMap()["sub"])
	// Output:
	// Unauthenticated [Bearer]
	// OK user-123
}

// A server's wiring: per-method policies, public health checks, TLS (so
// that certificate-bound tokens can be checked) and the claims in a
// handler. (The README's "gRPC" snippets are these lines, checked by
// TestReadme.)
func Example_server() {
	// A context already done: the example does not reach the issuer.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tlsConfig := &tls.Config{ClientAuth: tls.RequestClientCert}

	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    "https://tenant.eu.auth0.com/",
		Audiences: []string{"https://api.example.com"},
		DPoP:      middleware.DPoP{Mode: middleware.DPoPAllowed},
	})
	if err != nil {
		log.Fatal(err)
	}
	g, err := grpcguard.New(v, grpcguard.Config{
		Methods: map[string]middleware.Policy{
			"/notes.v1.Notes/ListNotes":  middleware.ScopePolicy("notes:read"),
			"/notes.v1.Notes/DeleteNote": middleware.ScopePolicy("notes:admin", "notes:write notes:delete"),
		},
		Exempt: []string{"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tlsConfig)),
		grpc.ChainUnaryInterceptor(g.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(g.StreamServerInterceptor()),
	)
	_ = srv

	// A server already built on go-grpc-middleware's auth interceptors:
	srv = grpc.NewServer(
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(g.AuthFunc())),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(g.AuthFunc())),
	)
	_ = srv
}

// listNotes is a handler of the README's snippet: the claims are in its
// context.
func listNotes(ctx context.Context, _ *emptypb.Empty) (*structpb.Struct, error) {
	c, _ := claims.FromContext(ctx) // the verified token's claims
	return structpb.NewStruct(map[string]any{"owner": c.Subject})
}

var _ = listNotes
