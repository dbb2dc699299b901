package interop

// Tokens of oidc-provider meet the gRPC adapter: a three-method service,
// written without generated code, behind grpcguard's interceptors over
// loopback TLS. The test lives here, not in adapters/grpcguard, so that the
// published grpcguard module does not import this unpublished one.

import (
	"context"
	"crypto/tls"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/bearerguard/bearerguard/adapters/grpcguard"
	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/internal/conformance"
	"github.com/bearerguard/bearerguard/middleware"
)

// grpcAuthority is the :authority the test client sends: the server name
// of its TLS config, and the host of a DPoP proof's htu.
const grpcAuthority = "localhost"

// grpcMethod returns the full name of method m of the test service.
func grpcMethod(m string) string { return "/interop.v1.Users/" + m }

// grpcUsers is the test service: Me, ListUsers and CreateUser, each
// answering {"client_id": ...} from the claims in its context.
func grpcUsers() *grpc.ServiceDesc {
	sd := &grpc.ServiceDesc{ServiceName: "interop.v1.Users", HandlerType: (*any)(nil)}
	h := func(ctx context.Context, _ any) (any, error) {
		c, ok := claims.FromContext(ctx)
		if !ok {
			return nil, status.Error(codes.Internal, "no claims")
		}
		return structpb.NewStruct(map[string]any{"client_id": c.ClientID})
	}
	for _, name := range []string{"Me", "ListUsers", "CreateUser"} {
		info := &grpc.UnaryServerInfo{FullMethod: grpcMethod(name)}
		sd.Methods = append(sd.Methods, grpc.MethodDesc{MethodName: name,
			Handler: func(_ any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
				in := new(emptypb.Empty)
				if err := dec(in); err != nil {
					return nil, err
				}
				if ic == nil {
					return h(ctx, in)
				}
				return ic(ctx, in, info, h)
			}})
	}
	return sd
}

// grpcGuarded serves the test service behind g on 127.0.0.1 over TLS, with
// a certificate of a test CA for [grpcAuthority], and returns a client of
// it that trusts only that CA; both are stopped when t ends.
func grpcGuarded(t *testing.T, g *grpcguard.Guard) *grpc.ClientConn {
	t.Helper()
	pki := conformance.NewTestPKI(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{pki.Server}, MinVersion: tls.VersionTLS13}
	clientTLS := &tls.Config{RootCAs: pki.Pool, ServerName: grpcAuthority, MinVersion: tls.VersionTLS13}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(serverTLS)),
		grpc.UnaryInterceptor(g.UnaryServerInterceptor()), grpc.StreamInterceptor(g.StreamServerInterceptor()))
	srv.RegisterService(grpcUsers(), struct{}{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// grpcCall calls method m of the test service with md and returns the
// status and, on success, the answer.
func grpcCall(t *testing.T, conn *grpc.ClientConn, m string, md grpcmd.MD) (*status.Status, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	out := new(structpb.Struct)
	err := conn.Invoke(grpcmd.NewOutgoingContext(ctx, md), grpcMethod(m), new(emptypb.Empty), out)
	if err != nil {
		return status.Convert(err), nil
	}
	return status.Convert(nil), out.AsMap()
}

// TestGRPCOIDCProvider: tokens of oidc-provider, obtained by the client
// credentials grant, over gRPC with loopback TLS: RS256 and ES256 bearer
// tokens by scope, and a DPoP-bound token with a proof for the call (htm
// POST, htu https://<authority>/<package.Service>/<Method>), refused as a
// bearer token.
func TestGRPCOIDCProvider(t *testing.T) {
	s := StartOIDCProvider(t)
	v := newValidator(t, middleware.Config{
		Issuer:    s.Issuer,
		Audiences: []string{ResourceRS256, ResourceES256},
		DPoP:      middleware.DPoP{Mode: middleware.DPoPAllowed},
	})
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	g, err := grpcguard.New(v, grpcguard.Config{Methods: map[string]middleware.Policy{
		grpcMethod("ListUsers"):  middleware.ScopePolicy(ScopeRead),
		grpcMethod("CreateUser"): middleware.ScopePolicy(ScopeWrite),
	}})
	if err != nil {
		t.Fatal(err)
	}
	conn := grpcGuarded(t, g)
	bearer := func(token string) grpcmd.MD { return grpcmd.Pairs("authorization", "Bearer "+token) }

	for _, aud := range []string{ResourceRS256, ResourceES256} {
		reader := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, resource(aud))
		for m, want := range map[string]codes.Code{"Me": codes.OK, "ListUsers": codes.OK, "CreateUser": codes.PermissionDenied} {
			st, body := grpcCall(t, conn, m, bearer(reader))
			if st.Code() != want {
				t.Errorf("%s %s: %v (%q), want %v", aud, m, st.Code(), st.Message(), want)
			}
			if want == codes.OK && body["client_id"] != s.BasicClient.ID {
				t.Errorf("%s %s: body %v, want client_id %q", aud, m, body, s.BasicClient.ID)
			}
		}
	}

	key := NewDPoPKey(t)
	bound := s.DPoPToken(t, key, s.BasicClient, []string{ScopeRead}, resource(ResourceES256))
	for _, m := range []string{"Me", "ListUsers"} {
		proof := key.Proof(t, DPoPProof{Method: "POST", URL: "https://" + grpcAuthority + grpcMethod(m), AccessToken: bound})
		st, body := grpcCall(t, conn, m, grpcmd.Pairs("authorization", "DPoP "+bound, "dpop", proof))
		if st.Code() != codes.OK {
			t.Errorf("DPoP %s: %v (%q), want OK", m, st.Code(), st.Message())
		}
		if body["client_id"] != s.BasicClient.ID {
			t.Errorf("DPoP %s: body %v, want client_id %q", m, body, s.BasicClient.ID)
		}
	}
	if st, _ := grpcCall(t, conn, "Me", bearer(bound)); st.Code() != codes.Unauthenticated {
		t.Errorf("DPoP-bound token as Bearer: %v, want Unauthenticated", st.Code())
	}
}
