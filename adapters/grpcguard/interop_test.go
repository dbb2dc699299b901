package grpcguard_test

import (
	"net/url"
	"testing"

	"github.com/bearerguard/bearerguard/adapters/grpcguard"
	"github.com/bearerguard/bearerguard/internal/interop"
	"github.com/bearerguard/bearerguard/middleware"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// TestInteropOIDCProvider: tokens of a real authorization server,
// oidc-provider (the engine under Logto), obtained by the client
// credentials grant, over gRPC with loopback TLS: RS256 and ES256 bearer
// tokens by scope, and a DPoP-bound token with a proof for the call
// (htm POST, htu https://<authority>/<package.Service>/<Method>), refused
// as a bearer token. Skipped without node and the npm packages, unless
// CI=true.
func TestInteropOIDCProvider(t *testing.T) {
	s := interop.StartOIDCProvider(t)
	v := newValidatorFor(t, middleware.Config{
		Issuer:    s.Issuer,
		Audiences: []string{interop.ResourceRS256, interop.ResourceES256},
		DPoP:      middleware.DPoP{Mode: middleware.DPoPAllowed},
	})
	g, err := grpcguard.New(v, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	conn := dial(t, p, guarded(t, p, g), nil)
	resource := func(r string) url.Values { return url.Values{"resource": {r}} }

	for _, aud := range []string{interop.ResourceRS256, interop.ResourceES256} {
		reader := s.ClientCredentialsToken(t, s.BasicClient, interop.Basic, []string{interop.ScopeRead}, resource(aud))
		for m, want := range map[string]codes.Code{"Me": codes.OK, "ListUsers": codes.OK, "CreateUser": codes.PermissionDenied} {
			res := call(t, conn, m, bearer(reader))
			if res.st.Code() != want {
				t.Errorf("%s %s: %v (%q), want %v", aud, m, res.st.Code(), res.st.Message(), want)
			}
			if want == codes.OK && res.body["client_id"] != s.BasicClient.ID {
				t.Errorf("%s %s: body %v", aud, m, res.body)
			}
		}
	}

	key := interop.NewDPoPKey(t)
	bound := s.DPoPToken(t, key, s.BasicClient, []string{interop.ScopeRead}, resource(interop.ResourceES256))
	dpop := func(m string) metadata.MD {
		proof := key.Proof(t, interop.DPoPProof{Method: "POST", URL: "https://" + authority + method(m), AccessToken: bound})
		return metadata.Pairs("authorization", "DPoP "+bound, "dpop", proof)
	}
	for _, m := range []string{"Me", "ListUsers"} {
		if res := call(t, conn, m, dpop(m)); res.st.Code() != codes.OK {
			t.Errorf("DPoP %s: %v (%q)", m, res.st.Code(), res.st.Message())
		}
	}
	if res := call(t, conn, "Me", bearer(bound)); res.st.Code() != codes.Unauthenticated {
		t.Errorf("DPoP-bound token as Bearer: %v, want Unauthenticated", res.st.Code())
	}
}
