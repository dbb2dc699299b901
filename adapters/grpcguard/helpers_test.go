package grpcguard_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/adapters/grpcguard"
	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/internal/conformance"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// The test service: each method but Ping answers the claims of its
// context, or {"anonymous": true}; Ping answers {}. Watch is a server stream sending one such message.
const (
	service   = "test.v1.Test"
	authority = "localhost" // the :authority clients send: the server name of the TLS config
	audience  = "https://api.example.test"
)

// method returns the full method name of the test service's method m.
func method(m string) string { return "/" + service + "/" + m }

// unaryMethods are the unary methods of the test service.
var unaryMethods = []string{"Ping", "Health", "Me", "ListUsers", "CreateUser", "DeleteUser", "Optional",
	"ClaimsOrg", "ClaimsPermissions", "ClaimsRoles", "ClaimsChecked", "StepupMFA", "StepupFresh"}

// answer is what every method of the test service returns.
func answer(ctx context.Context) (*structpb.Struct, error) {
	c, ok := claims.FromContext(ctx)
	if !ok {
		return structpb.NewStruct(map[string]any{"anonymous": true})
	}
	var scopes any // null without scopes, as JSON encodes a nil slice
	if len(c.Scopes) > 0 {
		list := make([]any, len(c.Scopes))
		for i, s := range c.Scopes {
			list[i] = s
		}
		scopes = list
	}
	return structpb.NewStruct(map[string]any{"sub": c.Subject, "client_id": c.ClientID, "scopes": scopes})
}

// serviceDesc is the test service, written without generated code.
func serviceDesc() *grpc.ServiceDesc {
	sd := &grpc.ServiceDesc{ServiceName: service, HandlerType: (*any)(nil)}
	for _, name := range unaryMethods {
		full := method(name)
		sd.Methods = append(sd.Methods, grpc.MethodDesc{MethodName: name,
			Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
				in := new(emptypb.Empty)
				if err := dec(in); err != nil {
					return nil, err
				}
				h := func(ctx context.Context, _ any) (any, error) { return answer(ctx) }
				if name == "Ping" { // the same answer with or without claims, for benchmarks
					h = func(context.Context, any) (any, error) { return &structpb.Struct{}, nil }
				}
				if ic == nil {
					return h(ctx, in)
				}
				return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, h)
			}})
	}
	sd.Streams = []grpc.StreamDesc{{StreamName: "Watch", ServerStreams: true,
		Handler: func(_ any, ss grpc.ServerStream) error {
			if err := ss.RecvMsg(new(emptypb.Empty)); err != nil {
				return err
			}
			a, err := answer(ss.Context())
			if err != nil {
				return err
			}
			return ss.SendMsg(a)
		}}}
	return sd
}

// testConfig is the Config of the test service: the routes of the
// conformance suite, as methods.
func testConfig() grpcguard.Config {
	return grpcguard.Config{
		Methods: map[string]middleware.Policy{
			method("ListUsers"):         middleware.ScopePolicy("read:users"),
			method("CreateUser"):        middleware.ScopePolicy("write:users"),
			method("DeleteUser"):        middleware.ScopePolicy("admin", "users:write users:delete"),
			method("Optional"):          {Optional: true},
			method("ClaimsOrg"):         {Claims: []middleware.ClaimRequirement{middleware.ClaimValues("org_id", "org_a", "org_b")}},
			method("ClaimsPermissions"): {Claims: []middleware.ClaimRequirement{middleware.ClaimValues("permissions", "admin", "read:users write:users")}},
			method("ClaimsRoles"):       {Claims: []middleware.ClaimRequirement{middleware.ClaimValues("realm_access.roles", "auditor")}},
		},
		Exempt: []string{method("Health")},
	}
}

// serve starts a gRPC server over loopback TLS, with p's server
// certificate, the test service and opts, stopped when t ends, and returns
// its address. Client certificates are requested, not verified: RFC 8705
// §2.2 allows self-signed ones.
func serve(t testing.TB, p *conformance.TestPKI, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{p.Server}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS13})
	srv := grpc.NewServer(append(opts, grpc.Creds(creds))...)
	srv.RegisterService(serviceDesc(), struct{}{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return lis.Addr().String()
}

// dial returns a client of the server at addr, trusting p's CA, with the
// :authority [authority], presenting cert if not nil, closed when t ends.
func dial(t testing.TB, p *conformance.TestPKI, addr string, cert *tls.Certificate) *grpc.ClientConn {
	t.Helper()
	cfg := &tls.Config{RootCAs: p.Pool, ServerName: authority, MinVersion: tls.VersionTLS13}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// result is what a client sees of one call.
type result struct {
	st      *status.Status
	body    map[string]any
	header  metadata.MD
	trailer metadata.MD
}

// call calls method m of the test service with md as metadata.
func call(t testing.TB, conn *grpc.ClientConn, m string, md metadata.MD) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = metadata.NewOutgoingContext(ctx, md)
	var res result
	out := new(structpb.Struct)
	err := conn.Invoke(ctx, method(m), new(emptypb.Empty), out, grpc.Header(&res.header), grpc.Trailer(&res.trailer))
	res.st = status.Convert(err)
	if err == nil {
		res.body = out.AsMap()
	}
	return res
}

// watch calls the Watch stream with md and reads its one message.
func watch(t testing.TB, conn *grpc.ClientConn, md metadata.MD) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = metadata.NewOutgoingContext(ctx, md)
	var res result
	cs, err := conn.NewStream(ctx, &serviceDesc().Streams[0], method("Watch"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(new(emptypb.Empty)); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	out := new(structpb.Struct)
	err = cs.RecvMsg(out)
	res.st = status.Convert(err)
	if err == nil {
		res.body = out.AsMap()
	}
	res.trailer = cs.Trailer()
	return res
}

// errorInfo returns the ErrorInfo detail of st, or nil.
func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// retryInfo returns the RetryInfo detail of st, or nil.
func retryInfo(st *status.Status) *errdetails.RetryInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.RetryInfo); ok {
			return info
		}
	}
	return nil
}

// newValidator returns a validator of iss for [audience], with its keys.
func newValidator(t testing.TB, iss *middlewaretest.Issuer, cfg middleware.Config) *middleware.Validator {
	t.Helper()
	cfg.Issuer, cfg.Audiences, cfg.HTTPClient = iss.URL, []string{audience}, iss.Client()
	if cfg.KeyWait == 0 {
		cfg.KeyWait = 10 * time.Second
	}
	cfg.MinRefreshInterval = 100 * time.Millisecond
	v, err := middleware.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ready waits for v's keys.
func ready(t testing.TB, v *middleware.Validator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

// guarded starts the test service behind g's interceptors.
func guarded(t testing.TB, p *conformance.TestPKI, g *grpcguard.Guard, opts ...grpc.ServerOption) string {
	t.Helper()
	return serve(t, p, append(opts, grpc.UnaryInterceptor(g.UnaryServerInterceptor()), grpc.StreamInterceptor(g.StreamServerInterceptor()))...)
}

// connect waits for v's keys, serves the test service behind a Guard of
// v with cfg, and returns a client connection to it.
func connect(t testing.TB, v *middleware.Validator, cfg grpcguard.Config) *grpc.ClientConn {
	t.Helper()
	ready(t, v)
	g, err := grpcguard.New(v, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := conformance.NewTestPKI(t)
	return dial(t, p, guarded(t, p, g), nil)
}

// runCases runs conformance cases as calls on conn, each to the method of
// its route; the metadata document (RFC 9728) is served over HTTP, not
// gRPC: its cases are left out.
func runCases(t *testing.T, conn *grpc.ClientConn, cases []conformance.Case) {
	t.Helper()
	for _, c := range cases {
		if c.Path == conformance.MetadataPath {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			path, _, _ := strings.Cut(c.Path, "?")
			m, ok := routes[c.Method+" "+path]
			if !ok {
				t.Fatalf("no method for %s %s", c.Method, path)
			}
			checkCase(t, c, call(t, conn, m, lowerKeys(c.Header)))
		})
	}
}

// bearer is the metadata of a Bearer token.
func bearer(token string) metadata.MD { return metadata.Pairs("authorization", "Bearer "+token) }

// lowerKeys returns h's entries with lowercase keys: the metadata of a
// conformance case's header.
func lowerKeys(h map[string][]string) metadata.MD {
	md := metadata.MD{}
	for k, v := range h {
		md[strings.ToLower(k)] = v
	}
	return md
}
