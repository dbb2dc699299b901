package grpcguard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Config says what each method of a gRPC server requires. The zero Config
// requires a valid access token on every method.
type Config struct {
	// Methods maps full method names ("/package.Service/Method", as in
	// grpc.UnaryServerInfo.FullMethod) to their policies.
	// Optional; methods not listed get Default.
	Methods map[string]middleware.Policy
	// Default is the policy of every method neither in Methods nor in
	// Exempt. Optional; the zero Policy requires a valid access token and
	// no particular scope. Unknown methods get it too: a method added to
	// the server is never served without a token by omission.
	Default middleware.Policy
	// Exempt lists full method names served without any token check, such
	// as "/grpc.health.v1.Health/Check". Optional; none by default. A token
	// sent to an exempt method is not read: its claims are not in the
	// context.
	Exempt []string
}

// Guard is the gRPC face of a [middleware.Validator]: server interceptors
// and an auth.AuthFunc that run [middleware.Validator.Check] for each call
// under the policy of its method. It is immutable after [New] and safe for
// concurrent use.
type Guard struct {
	v       *middleware.Validator
	methods map[string]middleware.Policy
	def     middleware.Policy
	exempt  map[string]bool
}

// New returns the Guard of v for cfg. It returns an error matching
// [ErrMethodName] for a method name that is not "/package.Service/Method",
// a method both exempt and given a policy, or the error of
// [middleware.Validator.ValidatePolicy] for a policy that cannot be
// answered.
func New(v *middleware.Validator, cfg Config) (*Guard, error) {
	if v == nil {
		return nil, ErrNoValidator
	}
	g := &Guard{v: v, methods: make(map[string]middleware.Policy, len(cfg.Methods)), def: cfg.Default, exempt: make(map[string]bool, len(cfg.Exempt))}
	if err := v.ValidatePolicy(cfg.Default); err != nil {
		return nil, fmt.Errorf("grpcguard: Default: %w", err)
	}
	for m, p := range cfg.Methods {
		if !validMethod(m) {
			return nil, fmt.Errorf("%w: %q", ErrMethodName, m)
		}
		if err := v.ValidatePolicy(p); err != nil {
			return nil, fmt.Errorf("grpcguard: Methods[%q]: %w", m, err)
		}
		g.methods[m] = p
	}
	for _, m := range cfg.Exempt {
		if !validMethod(m) {
			return nil, fmt.Errorf("%w: %q", ErrMethodName, m)
		}
		if _, ok := g.methods[m]; ok {
			return nil, fmt.Errorf("%w: %q is exempt and has a policy", ErrMethodName, m)
		}
		g.exempt[m] = true
	}
	return g, nil
}

// validMethod reports whether m is a full method name,
// "/package.Service/Method".
func validMethod(m string) bool {
	svc, meth, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
	return ok && strings.HasPrefix(m, "/") && svc != "" && meth != "" && !strings.Contains(meth, "/")
}

// UnaryServerInterceptor returns the interceptor that checks every unary
// call before its handler runs: the handler's context holds the claims
// ([claims.FromContext]); a refused call gets the status and trailers
// [Guard.Check] describes, and its handler does not run.
func (g *Guard) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := g.check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns the interceptor that checks every
// streaming call before its handler runs, as
// [Guard.UnaryServerInterceptor] does; the stream's Context holds the
// claims.
func (g *Guard) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := g.check(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

// stream is a ServerStream whose context holds the claims.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// AuthFunc is the check as a go-grpc-middleware/v2 auth.AuthFunc, for
// servers already built on auth.UnaryServerInterceptor and
// auth.StreamServerInterceptor. The method comes from the call's context
// ([grpc.Method]); a context without one (not a server call) is refused
// with codes.Internal.
func (g *Guard) AuthFunc() auth.AuthFunc {
	return func(ctx context.Context) (context.Context, error) {
		m, ok := grpc.Method(ctx)
		if !ok {
			return nil, errNoMethod
		}
		return g.check(ctx, m)
	}
}

// Check is the decision for one call of fullMethod whose server context is
// ctx, under the method's policy ([Config]); the interceptors and
// [Guard.AuthFunc] are built on it. It returns ctx with the claims of the
// token ([claims.NewContext]; none for an exempt method or an optional
// policy without token), or the refusal: an error whose gRPC status
// ([status.FromError]) is
//
//	no token, invalid token, invalid DPoP proof, step-up   Unauthenticated   (HTTP 401)
//	missing scope or claim values, route check refused     PermissionDenied  (HTTP 403)
//	malformed authorization metadata                       InvalidArgument   (HTTP 400)
//	issuer keys, introspection or replay store unavailable Unavailable       (HTTP 503)
//
// with the fixed description of the refusal as the message, an
// errdetails.ErrorInfo whose Reason is the RFC 6750 error code
// ("unauthorized" without token) and whose Metadata holds what the method
// requires (scope, claim, claim_values, acr_values, max_age: facts of the
// configuration, never of the token), and for Unavailable an
// errdetails.RetryInfo. The RFC 6750 challenge is set as the trailer
// "www-authenticate" (with "dpop-nonce" for use_dpop_nonce, "retry-after"
// for Unavailable). The error also matches the core's sentinels with
// [errors.Is], for server-side logging; [errors.As] finds the
// [*middleware.Error].
func (g *Guard) Check(ctx context.Context, fullMethod string) (context.Context, error) {
	return g.check(ctx, fullMethod)
}

func (g *Guard) check(ctx context.Context, method string) (context.Context, error) {
	if g.exempt[method] {
		return ctx, nil
	}
	p, ok := g.methods[method]
	if !ok {
		p = g.def
	}
	r := newRequest(ctx, method)
	c, err := g.v.Check(r, p)
	if err != nil {
		var e *middleware.Error
		if !errors.As(err, &e) {
			return nil, err // Check returns only *Error
		}
		return nil, g.refuse(ctx, e)
	}
	// SetSuccessHeaders sets nothing unless the request has exactly one
	// DPoP proof: its own test, repeated here to skip successNonce's
	// header map on every other call.
	if len(r.Header["Dpop"]) == 1 {
		g.successNonce(ctx, r)
	}
	if c != nil {
		ctx = claims.NewContext(ctx, c)
	}
	return ctx, nil
}

// successNonce sends a fresh DPoP nonce in the response header metadata
// when one is due (RFC 9449 §9), as the net/http middleware does in the
// DPoP-Nonce header.
func (g *Guard) successNonce(ctx context.Context, r *http.Request) {
	h := make(http.Header, 1)
	g.v.SetSuccessHeaders(h, r)
	if n := h.Get("DPoP-Nonce"); n != "" {
		_ = grpc.SetHeader(ctx, metadata.Pairs("dpop-nonce", n))
	}
}
