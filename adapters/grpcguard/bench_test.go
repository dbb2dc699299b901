package grpcguard_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bearerguard/bearerguard/adapters/grpcguard"
	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// BenchmarkUnary is one request under a scope policy with an RS256 token
// to a handler whose answer does not depend on the claims
// (the verified-token cache on or off): a unary call over an in-process
// bufconn connection, with and without the interceptor, and the net/http
// middleware over a bare handler (a response recorder), with and without
// the middleware. The interceptor's cost per call is guarded minus bare of
// transport=grpc, to be compared with the same difference of
// transport=http.
func BenchmarkUnary(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	token := iss.Token(middlewaretest.Spec{Machine: true, ClientID: "billing-service", Scopes: []string{"read:users"}, Audience: []string{audience}})
	for _, cache := range []struct {
		name string
		size int
	}{{"uncached", -1}, {"cached", 0}} {
		v := newValidator(b, iss, middleware.Config{TokenCacheSize: cache.size})
		ready(b, v)
		g, err := grpcguard.New(v, grpcguard.Config{Methods: map[string]middleware.Policy{method("Ping"): middleware.ScopePolicy("read:users")}})
		if err != nil {
			b.Fatal(err)
		}
		for _, impl := range []string{"bare", "guarded"} {
			b.Run("transport=grpc/cache="+cache.name+"/impl="+impl, func(b *testing.B) {
				var opts []grpc.ServerOption
				if impl == "guarded" {
					opts = append(opts, grpc.UnaryInterceptor(g.UnaryServerInterceptor()))
				}
				conn := bufconnClient(b, opts...)
				ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
				in, out := new(emptypb.Empty), new(structpb.Struct)
				b.ReportAllocs()
				for b.Loop() {
					if err := conn.Invoke(ctx, method("Ping"), in, out); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("transport=interceptor/cache="+cache.name+"/impl="+impl, func(b *testing.B) {
				handler := func(ctx context.Context, _ any) (any, error) {
					c, _ := claims.FromContext(ctx)
					return c, nil
				}
				ic := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
					return h(ctx, req)
				}
				if impl == "guarded" {
					ic = g.UnaryServerInterceptor()
				}
				// The metadata grpc-go's server puts in a call's context.
				ctx := metadata.NewIncomingContext(context.Background(), metadata.MD{
					":authority": {"localhost"}, "authorization": {"Bearer " + token},
					"content-type": {"application/grpc"}, "user-agent": {"grpc-go/1.85.0"}, "te": {"trailers"},
					"grpc-accept-encoding": {"gzip"},
				})
				info := &grpc.UnaryServerInfo{FullMethod: method("Ping")}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := ic(ctx, nil, info, handler); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("transport=http/cache="+cache.name+"/impl="+impl, func(b *testing.B) {
				var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					c, _ := claims.FromContext(r.Context())
					if c != nil {
						_, _ = w.Write([]byte(c.Subject))
					}
				})
				if impl == "guarded" {
					h = v.RequireScope("read:users")(h)
				}
				r := httptest.NewRequest(http.MethodPost, method("Ping"), nil)
				r.Header.Set("Authorization", "Bearer "+token)
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		}
	}
}

// bufconnClient starts the test service with opts on an in-process
// connection and returns its client; both end with b.
func bufconnClient(b *testing.B, opts ...grpc.ServerOption) *grpc.ClientConn {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(opts...)
	srv.RegisterService(serviceDesc(), struct{}{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	b.Cleanup(func() { srv.Stop(); <-done })
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return conn
}
