package conformance

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Token sources and preflights (Config.TokenCookie, Config.TokenFunc,
// Config.AllowUnauthenticatedPreflight), for every front end.

const (
	// sourceCookie is the Config.TokenCookie of the sources validator.
	sourceCookie = "bg_at"
	// sourceHeader is the header its Config.TokenFunc reads.
	sourceHeader = "X-Api-Token"
)

var (
	malformedCredentials = invalidRequest("malformed credentials")
	multipleTokens       = invalidRequest("the token was sent more than once")
)

// sourceToken is the Config.TokenFunc of the sources validator: the
// X-Api-Token header, refused when sent twice.
func sourceToken(r *http.Request) (string, error) {
	v := r.Header.Values(sourceHeader)
	if len(v) > 1 {
		return "", errors.New("X-Api-Token sent twice")
	}
	if len(v) == 0 {
		return "", nil
	}
	return v[0], nil
}

// runSources runs [SourceCases] against the app build makes for a
// validator of iss with a token cookie, a TokenFunc and preflights let
// through, in process and over a socket.
func runSources(t *testing.T, iss *middlewaretest.Issuer, build func(v *middleware.Validator) http.Handler) {
	t.Helper()
	cases := SourceCases(iss)
	cfg := suiteConfig(iss, 10*time.Second)
	cfg.TokenCookie, cfg.TokenFunc, cfg.AllowUnauthenticatedPreflight = sourceCookie, sourceToken, true
	runWith(t, cfg, build, func() []Case { return cases })
}

// preflight is the header of a CORS preflight request.
func preflight(h http.Header) http.Header {
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Origin", "https://app.example.test")
	h.Set("Access-Control-Request-Method", "DELETE")
	return h
}

func cookie(values ...string) http.Header { return http.Header{"Cookie": values} }

func merged(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, vs := range h {
			for _, v := range vs {
				out.Add(k, v)
			}
		}
	}
	return out
}

// defaultSourceCases are the cases of [Cases] about token sources and
// preflights: with the defaults, cookies are not read and a preflight is
// checked like any request.
func defaultSourceCases(iss *middlewaretest.Issuer) []Case {
	valid := iss.Token(middlewaretest.Spec{Scopes: []string{"read:users"}})
	return []Case{
		noToken.on("cookie not read by default", http.MethodGet, "/me", cookie(sourceCookie+"="+valid)),
		noToken.on("preflight checked by default", http.MethodOptions, "/me", preflight(nil)),
	}
}

// SourceCases returns the cases for an app whose validator is that of
// [Cases] with Config.TokenCookie "bg_at", a Config.TokenFunc reading the
// X-Api-Token header (an error when it is sent twice) and
// Config.AllowUnauthenticatedPreflight. The app serves OPTIONS /me with
// Authenticate, answering 200.
func SourceCases(iss *middlewaretest.Issuer) []Case {
	valid := iss.Token(middlewaretest.Spec{Scopes: []string{"read:users"}})
	writer := iss.Token(middlewaretest.Spec{Scopes: []string{"write:users"}})
	jar := func(token string) http.Header { return cookie(sourceCookie + "=" + token) }
	api := func(values ...string) http.Header { return http.Header{sourceHeader: values} }
	const get, options = http.MethodGet, http.MethodOptions
	return []Case{
		ok("cookie", get, "/me", jar(valid), me("read:users")),
		ok("cookie among others", get, "/me", cookie("theme=dark; "+sourceCookie+"="+valid+"; lang=en"), me("read:users")),
		ok("cookie on a scoped route", get, "/users", jar(valid), nil),
		insufficientScope("read:users").on("cookie without the scope", get, "/users", jar(writer)),
		ok("cookie on an optional route", get, "/optional", jar(valid), map[string]any{"sub": "user-123"}),
		ok("cookie with a Basic header", get, "/me", merged(jar(valid), authorization("Basic dXNlcjpwYXNz")), me("read:users")),
		expired.on("cookie with an expired token", get, "/me", jar(iss.Token(middlewaretest.Spec{Lifetime: -time.Hour}))),
		malformedCredentials.on("cookie not a token68", get, "/me", jar("not%20a%20token")),
		malformedCredentials.on("cookie empty", get, "/me", jar("")),
		multipleTokens.on("cookie twice", get, "/me", cookie(sourceCookie+"="+valid+"; "+sourceCookie+"="+valid)),
		multipleTokens.on("cookie and header", get, "/me", merged(jar(valid), bearer(valid))),
		ok("header still read", get, "/me", bearer(valid), me("read:users")),
		noToken.on("other cookies only", get, "/me", cookie("theme=dark")),

		ok("custom extractor", get, "/me", api(valid), me("read:users")),
		malformedCredentials.on("custom extractor error", get, "/me", api(valid, valid)),
		malformedCredentials.on("custom extractor, not a token68", get, "/me", api(valid+"$")),
		multipleTokens.on("custom extractor and header", get, "/me", merged(api(valid), bearer(valid))),
		multipleTokens.on("custom extractor and cookie", get, "/me", merged(api(valid), jar(valid))),

		ok("preflight", options, "/me", preflight(nil), nil),
		ok("preflight with a malformed header", options, "/me", preflight(authorization("Bearer")), nil),
		noToken.on("OPTIONS without preflight headers", options, "/me", nil),
		noToken.on("OPTIONS with Origin only", options, "/me", http.Header{"Origin": {"https://app.example.test"}}),
	}
}
