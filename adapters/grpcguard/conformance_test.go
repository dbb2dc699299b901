package grpcguard_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/adapters/grpcguard"
	"github.com/bearerguard/bearerguard/internal/conformance"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"google.golang.org/grpc/codes"
)

// routes maps the routes of the conformance suite to the test service's
// methods.
var routes = map[string]string{
	"GET /health":             "Health",
	"GET /me":                 "Me",
	"GET /users":              "ListUsers",
	"POST /users":             "CreateUser",
	"DELETE /users/42":        "DeleteUser",
	"GET /optional":           "Optional",
	"GET /claims/org":         "ClaimsOrg",
	"GET /claims/permissions": "ClaimsPermissions",
	"GET /claims/roles":       "ClaimsRoles",
	"GET /claims/checked":     "ClaimsChecked",
	"GET /stepup/mfa":         "StepupMFA",
	"GET /stepup/fresh":       "StepupFresh",
}

// conformanceConfig is testConfig with the route check of the suite.
func conformanceConfig() grpcguard.Config {
	cfg := testConfig()
	cfg.Methods[method("ClaimsChecked")] = middleware.Policy{
		Claims: []middleware.ClaimRequirement{middleware.ClaimValues("org_id", "org_a")},
		Check:  conformance.RouteCheck,
	}
	cfg.Methods[method("StepupMFA")] = middleware.Policy{ACRValues: []string{"urn:example:mfa"}}
	cfg.Methods[method("StepupFresh")] = middleware.Policy{MaxAge: 5 * time.Minute}
	return cfg
}

// TestConformance runs the conformance suite's cases of the core and of
// the claim routes as gRPC calls over loopback TLS: each HTTP answer
// becomes its status code (401 Unauthenticated, 403 PermissionDenied, 400
// InvalidArgument), the description the message, the error code and the
// challenge attributes an ErrorInfo, and the challenge the trailer
// www-authenticate.
func TestConformance(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	cases := append(conformance.Cases(iss), conformance.ClaimCases(iss)...)
	v := newValidator(t, iss, middleware.Config{})
	conn := connect(t, v, conformanceConfig())
	runCases(t, conn, cases)
}

// TestOpaqueConformance runs the suite's cases of opaque tokens (RFC 7662
// introspection beside JWTs of the same issuer: the same answers for both)
// as gRPC calls.
func TestOpaqueConformance(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	iss.AddClient(middlewaretest.Client{ID: "grpc-rs", Secret: "grpc-rs-secret"})
	v := newValidator(t, iss, middleware.Config{
		Introspection: &middleware.Introspection{ClientID: "grpc-rs", ClientSecret: "grpc-rs-secret", CacheTTL: time.Minute},
	})
	conn := connect(t, v, conformanceConfig())
	runCases(t, conn, conformance.OpaqueCases(iss))
}

// TestResourceConformance runs the suite's cases of a validator with
// Config.Resource (every challenge carries resource_metadata, RFC 9728
// §5.1) and its step-up routes (RFC 9470 §3: Unauthenticated, with
// acr_values or max_age in the challenge and the ErrorInfo), as gRPC
// calls. The metadata document itself is served over HTTP, not gRPC.
func TestResourceConformance(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	cases := conformance.ResourceCases(iss)
	v := newValidator(t, iss, middleware.Config{
		Resource:         conformance.Audience,
		ResourceMetadata: middleware.ResourceMetadata{ScopesSupported: []string{"read:users", "write:users"}},
	})
	conn := connect(t, v, conformanceConfig())
	runCases(t, conn, cases)
}

// TestUnavailable: a token whose issuer's keys cannot be obtained is
// Unavailable with a RetryInfo and the trailer retry-after, and no
// challenge, as HTTP's 503; a call without token is still
// Unauthenticated, and an exempt method is served.
func TestUnavailable(t *testing.T) {
	down := middlewaretest.NewIssuer()
	t.Cleanup(down.Close)
	down.SetStatus(http.StatusServiceUnavailable)
	v := newValidator(t, down, middleware.Config{KeyWait: 200 * time.Millisecond})
	g, err := grpcguard.New(v, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	p := conformance.NewTestPKI(t)
	conn := dial(t, p, guarded(t, p, g), nil)
	token := bearer(down.Token(middlewaretest.Spec{Scopes: []string{"read:users"}}))
	for _, m := range []string{"Me", "ListUsers", "Optional"} {
		t.Run(m, func(t *testing.T) {
			res := call(t, conn, m, token)
			if res.st.Code() != codes.Unavailable {
				t.Fatalf("code %v, want Unavailable", res.st.Code())
			}
			ri := retryInfo(res.st)
			if ri == nil || ri.RetryDelay.AsDuration() < time.Second {
				t.Errorf("RetryInfo %v, want a delay of at least 1s", ri)
			}
			if info := errorInfo(res.st); info == nil || info.Reason != "temporarily_unavailable" || info.Domain != grpcguard.ErrorDomain {
				t.Errorf("ErrorInfo %v", info)
			}
			if got := res.trailer.Get("retry-after"); len(got) != 1 || got[0] == "0" {
				t.Errorf("retry-after %q", got)
			}
			if got := res.trailer.Get("www-authenticate"); len(got) != 0 {
				t.Errorf("www-authenticate %q, want none", got)
			}
		})
	}
	if res := call(t, conn, "Me", nil); res.st.Code() != codes.Unauthenticated {
		t.Errorf("no token: %v, want Unauthenticated", res.st.Code())
	}
	if res := call(t, conn, "Health", token); res.st.Code() != codes.OK {
		t.Errorf("exempt method: %v, want OK", res.st.Code())
	}
}

// checkCase checks what a client saw of a call against the conformance
// case's expected HTTP answer.
func checkCase(t *testing.T, c conformance.Case, res result) {
	t.Helper()
	want := codes.OK
	if c.Status != http.StatusOK {
		want = grpcguard.Code(c.Status)
	}
	if res.st.Code() != want {
		t.Fatalf("code %v (%q), want %v (HTTP %d)", res.st.Code(), res.st.Message(), want, c.Status)
	}
	if got := res.trailer.Get("www-authenticate"); c.Challenge == "" && len(got) != 0 || c.Challenge != "" && (len(got) != 1 || got[0] != c.Challenge) {
		t.Errorf("www-authenticate %q, want %q", got, c.Challenge)
	}
	if want == codes.OK {
		checkBody(t, c.Body, res.body)
		return
	}
	if res.st.Message() != c.Description {
		t.Errorf("message %q, want %q", res.st.Message(), c.Description)
	}
	info := errorInfo(res.st)
	if info == nil {
		t.Fatal("no ErrorInfo")
	}
	if info.Reason != c.Error || info.Domain != grpcguard.ErrorDomain {
		t.Errorf("ErrorInfo reason %q domain %q, want %q", info.Reason, info.Domain, c.Error)
	}
	// The suite's step-up routes (RFC 9470 §3) ask for acr_values
	// urn:example:mfa or max_age 300.
	if md := info.Metadata; c.Error == "insufficient_user_authentication" &&
		(md["acr_values"] == "" && md["max_age"] == "" || md["acr_values"] != "" && md["acr_values"] != "urn:example:mfa" || md["max_age"] != "" && md["max_age"] != "300") {
		t.Errorf("ErrorInfo metadata %v, want acr_values urn:example:mfa or max_age 300", md)
	}
	for k, w := range map[string]string{"scope": c.Scope, "claim": c.Claim, "claim_values": c.ClaimValues} {
		if got, ok := info.Metadata[k]; got != w || ok != (w != "") {
			t.Errorf("ErrorInfo %s %q, want %q", k, got, w)
		}
	}
	if (retryInfo(res.st) != nil) != c.RetryAfter {
		t.Errorf("RetryInfo %v, want present: %v", retryInfo(res.st), c.RetryAfter)
	}
}

// checkBody checks that body has the fields of want (after a JSON round
// trip).
func checkBody(t *testing.T, want, body map[string]any) {
	t.Helper()
	for k, w := range want {
		if got := body[k]; !reflect.DeepEqual(roundTrip(t, got), roundTrip(t, w)) {
			t.Errorf("body %s = %v, want %v", k, got, w)
		}
	}
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
