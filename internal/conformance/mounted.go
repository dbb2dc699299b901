package conformance

import (
	"net/http"
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Mounted routes: a DPoP proof signs the URI the client requested (RFC 9449
// §4.3, check 9), whatever path the front end's routing hands the
// protected handler: http.StripPrefix, a group, a rewriting middleware, a
// re-routed request.

// MountedPath is the path clients request of a mounted app: GET
// /api/me, which the front end may route to a handler that sees "/me".
const MountedPath = "/api/me"

// RunMounted runs [MountedCases] against the app build makes for a
// validator of a fresh issuer with DPoP allowed (DPoP.PublicBaseURL
// "https://api.example.test"), in process and over a socket. The app must
// serve GET [MountedPath] with Authenticate, answering as /me of [Run]
// does, however it gets there: under http.StripPrefix("/api", ...), in a
// group "/api", through a middleware that rewrites "/api/*" to "/*", or
// re-routed to "/me".
func RunMounted(t *testing.T, build func(v *middleware.Validator) http.Handler) {
	t.Helper()
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	runDPoP(t, iss, middleware.MTLS{}, build, MountedCases)
}

// MountedCases returns the cases of [RunMounted] for a validator that
// trusts iss: a proof for the URI the client requested is accepted, and
// one for the path the routing made of it, or for another path, refused.
func MountedCases(t testing.TB, iss *middlewaretest.Issuer) []Case {
	key := middlewaretest.NewDPoPKey("ES256")
	bound := iss.Token(middlewaretest.Spec{JKT: key.Thumbprint()})
	proof := func(path string) string {
		return key.Proof(middlewaretest.Proof{Method: http.MethodGet, URL: dpopBase + path, AccessToken: bound})
	}
	dpop := func(p string) http.Header {
		h := authorization("DPoP " + bound)
		h["Dpop"] = []string{p}
		return h
	}
	const get = http.MethodGet
	return []Case{
		ok("DPoP: proof for the URI requested", get, MountedPath, dpop(proof(MountedPath)), map[string]any{"sub": "user-123"}),
		ok("DPoP: proof for the URI requested, with a query", get, MountedPath+"?page=2", dpop(proof(MountedPath)), map[string]any{"sub": "user-123"}),
		invalidProof.onDPoP("DPoP: proof for the path the routing sees", get, MountedPath, dpop(proof("/me"))),
		invalidProof.onDPoP("DPoP: proof for another path of the mount", get, MountedPath, dpop(proof("/api/users"))),
		ok("Bearer: unbound token", get, MountedPath, bearer(iss.Token(middlewaretest.Spec{})), me()),
	}
}
