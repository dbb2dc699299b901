package interop

// The test API served through net/http, Echo and Gin, and the helpers the
// bearerguard interop tests share: validators whose key fetches are logged,
// requests served in process, and assertions on RFC 6750 answers.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/bearerguard/bearerguard/adapters/echoguard"
	"github.com/bearerguard/bearerguard/adapters/ginguard"
	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
)

func init() {
	// No route listing on stdout; set once, before any test runs.
	gin.SetMode(gin.TestMode)
}

// realm is the realm of every test validator, so that challenges are
// checked with a realm attribute in front.
const realm = "interop"

// route is one route of the test API. An empty scope means the route only
// authenticates.
type route struct {
	method, path, scope string
}

// routes are the same in every framework.
var routes = []route{
	{http.MethodGet, "/users", ScopeRead},
	{http.MethodPost, "/users", ScopeWrite},
	{http.MethodGet, "/me", ""},
}

// claimsView is what the test API's handlers answer with: the claims the
// handler saw, read through the framework's accessor.
type claimsView struct {
	Subject  string   `json:"sub"`
	ClientID string   `json:"client_id"`
	Machine  bool     `json:"machine"`
	Scopes   []string `json:"scopes"`
}

func viewOf(c *claims.Claims) claimsView {
	return claimsView{Subject: c.Subject, ClientID: c.ClientID, Machine: c.Machine, Scopes: c.Scopes}
}

// framework builds the test API on a validator.
type framework struct {
	name  string
	build func(v *middleware.Validator) http.Handler
}

var frameworks = []framework{
	{"net/http", netHTTPApp},
	{"echo", echoApp},
	{"echo5", echo5App},
	{"gin", ginApp},
}

func netHTTPApp(v *middleware.Validator) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := claims.FromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(viewOf(c))
	})
	mux := http.NewServeMux()
	mux.Handle("GET /users", v.RequireScope(ScopeRead)(h))
	mux.Handle("POST /users", v.RequireScope(ScopeWrite)(h))
	mux.Handle("GET /me", v.Authenticate(h))
	return mux
}

func echoApp(v *middleware.Validator) http.Handler {
	g := echoguard.Wrap(v)
	h := func(c echo.Context) error {
		cl, ok := echoguard.Claims(c)
		if !ok {
			return echo.NewHTTPError(http.StatusInternalServerError, "no claims")
		}
		return c.JSON(http.StatusOK, viewOf(cl))
	}
	e := echo.New()
	e.GET("/users", h, g.RequireScope(ScopeRead))
	e.POST("/users", h, g.RequireScope(ScopeWrite))
	e.GET("/me", h, g.Authenticate())
	return e
}

func ginApp(v *middleware.Validator) http.Handler {
	g := ginguard.Wrap(v)
	h := func(c *gin.Context) {
		cl, ok := ginguard.Claims(c)
		if !ok {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.JSON(http.StatusOK, viewOf(cl))
	}
	r := gin.New()
	r.GET("/users", g.RequireScope(ScopeRead), h)
	r.POST("/users", g.RequireScope(ScopeWrite), h)
	r.GET("/me", g.Authenticate(), h)
	return r
}

// target is the test API of one framework on a validator of its own.
type target struct {
	name string
	v    *middleware.Validator
	h    http.Handler
	log  *fetchLog
}

// newTargets builds the test API in every framework, each on its own
// validator for cfg whose HTTP requests are logged. Every framework thus
// verifies tokens itself instead of finding them in another's token cache.
func newTargets(t *testing.T, cfg middleware.Config) []target {
	t.Helper()
	var out []target
	for _, fw := range frameworks {
		log := newFetchLog()
		c := cfg
		c.HTTPClient = log.client()
		if c.Realm == "" {
			c.Realm = realm
		}
		v := newValidator(t, c)
		out = append(out, target{name: fw.name, v: v, h: fw.build(v), log: log})
	}
	return out
}

// newValidator returns a validator whose background goroutine ends with the
// test.
func newValidator(t *testing.T, cfg middleware.Config) *middleware.Validator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := middleware.New(ctx, cfg)
	if err != nil {
		t.Fatalf("middleware.New: %v", err)
	}
	return v
}

// waitReady waits, at most ReadyTimeout, until every target's validator has
// obtained its issuer's keys.
func waitReady(t *testing.T, targets []target) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	for _, tg := range targets {
		if err := tg.v.WaitReady(ctx); err != nil {
			t.Fatalf("%s: WaitReady: %v", tg.name, err)
		}
		if err := tg.v.Ready(); err != nil {
			t.Fatalf("%s: Ready after WaitReady: %v", tg.name, err)
		}
	}
}

// serve sends one request to h in process, with the token as a bearer
// token unless it is empty.
func serve(t *testing.T, h http.Handler, method, path, token string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// validate runs ValidateToken with a bounded context.
func validate(v *middleware.Validator, token string) (*claims.Claims, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return v.ValidateToken(ctx, token)
}

func decodeBody(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("status %d: body: %v", resp.StatusCode, err)
	}
}

// scopeChallenge is the exact RFC 6750 §3 challenge of a 403 for a route
// requiring scope.
func scopeChallenge(scope string) string {
	return `Bearer realm="` + realm + `", error="insufficient_scope", error_description="the token lacks the required scope", scope="` + scope + `"`
}

// wantAccepted presents token to every route of tg: routes whose scope is
// among want.Scopes answer 200 with the claims want describes, the others
// 403 insufficient_scope with the route's scope in the challenge.
func wantAccepted(t *testing.T, tg target, token string, want claimsView) {
	t.Helper()
	for _, rt := range routes {
		resp := serve(t, tg.h, rt.method, rt.path, token)
		if rt.scope == "" || slices.Contains(want.Scopes, rt.scope) {
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s %s: status %d, want 200 (WWW-Authenticate %q)", tg.name, rt.method, rt.path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
				resp.Body.Close()
				continue
			}
			var got claimsView
			decodeBody(t, resp, &got)
			if !sameView(got, want) {
				t.Errorf("%s %s %s: claims %+v, want %+v", tg.name, rt.method, rt.path, got, want)
			}
			continue
		}
		wantInsufficientScope(t, tg.name+" "+rt.method+" "+rt.path, resp, rt.scope)
	}
}

func wantInsufficientScope(t *testing.T, what string, resp *http.Response, scope string) {
	t.Helper()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("%s: status %d, want 403", what, resp.StatusCode)
	}
	// With DPoP allowed, a DPoP challenge follows the Bearer one.
	if got, want := resp.Header.Get("WWW-Authenticate"), scopeChallenge(scope); got != want && !strings.HasPrefix(got, want+", DPoP ") {
		t.Errorf("%s: WWW-Authenticate\n got %s\nwant %s", what, got, want)
	}
	var body middleware.ErrorBody
	decodeBody(t, resp, &body)
	if body.Error != middleware.CodeInsufficientScope || body.Scope != scope {
		t.Errorf("%s: body %+v, want error %s scope %s", what, body, middleware.CodeInsufficientScope, scope)
	}
}

// wantRefused checks that token is refused with the specific sentinel by
// ValidateToken, and 401 invalid_token on every route of tg.
func wantRefused(t *testing.T, tg target, token string, sentinel error) {
	t.Helper()
	_, err := validate(tg.v, token)
	if !errors.Is(err, middleware.ErrInvalidToken) || !errors.Is(err, sentinel) {
		t.Errorf("%s: ValidateToken error %v, want ErrInvalidToken and %v", tg.name, err, sentinel)
	}
	for _, rt := range routes {
		wantInvalidToken(t, tg.name+" "+rt.method+" "+rt.path, serve(t, tg.h, rt.method, rt.path, token))
	}
}

// wantInvalidToken checks a 401 invalid_token answer (RFC 6750 §3.1) without
// depending on the description's text.
func wantInvalidToken(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: status %d, want 401", what, resp.StatusCode)
	}
	const prefix = `Bearer realm="` + realm + `", error="invalid_token", error_description="`
	got := resp.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(got, prefix) || !strings.HasSuffix(got, `"`) || strings.Contains(got, "scope=") {
		t.Errorf("%s: WWW-Authenticate %q, want %s...\"", what, got, prefix)
	}
	var body middleware.ErrorBody
	decodeBody(t, resp, &body)
	if body.Error != middleware.CodeInvalidToken {
		t.Errorf("%s: body error %q, want %s", what, body.Error, middleware.CodeInvalidToken)
	}
}

// wantUnavailable checks a 503 answer: Retry-After of at least one second
// and no challenge.
func wantUnavailable(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%s: status %d, want 503", what, resp.StatusCode)
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("%s: Retry-After %q, want a whole number of seconds >= 1", what, resp.Header.Get("Retry-After"))
	}
	if c := resp.Header.Get("WWW-Authenticate"); c != "" {
		t.Errorf("%s: WWW-Authenticate %q on a 503", what, c)
	}
	var body middleware.ErrorBody
	decodeBody(t, resp, &body)
	if body.Error != middleware.CodeUnavailable {
		t.Errorf("%s: body error %q, want %s", what, body.Error, middleware.CodeUnavailable)
	}
}

func sameView(a, b claimsView) bool {
	as, bs := slices.Clone(a.Scopes), slices.Clone(b.Scopes)
	slices.Sort(as)
	slices.Sort(bs)
	return a.Subject == b.Subject && a.ClientID == b.ClientID && a.Machine == b.Machine && slices.Equal(as, bs)
}

// machineView is the claims of a client_credentials token of client c at
// the real servers: sub and client_id are the client.
func machineView(c Credentials, scopes ...string) claimsView {
	return claimsView{Subject: c.ID, ClientID: c.ID, Machine: true, Scopes: scopes}
}

// forgedToken is a well-formed access token naming issuer, signed with a
// key nobody publishes under a kid nobody knows: a validator can only
// refuse it, and must look for the kid in a fresh JWKS first.
func forgedToken(t *testing.T, issuer, aud string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss":       issuer,
		"sub":       "mallory",
		"client_id": "mallory",
		"aud":       aud,
		"scope":     ScopeRead + " " + ScopeWrite,
		"iat":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
	})
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = "unknown-" + randomString()
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fetchLog is the RoundTripper of a validator's HTTP client: it records
// every discovery and JWKS request so tests can tell when the validator
// last fetched and whether fetches failed.
type fetchLog struct {
	base http.RoundTripper

	mu       sync.Mutex
	ok       map[string]int // successful GETs by URL
	failures int
	last     time.Time // end of the last request
}

func newFetchLog() *fetchLog {
	return &fetchLog{
		base: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		ok:   map[string]int{},
	}
}

func (l *fetchLog) client() *http.Client {
	return &http.Client{Transport: l, Timeout: requestTimeout}
}

func (l *fetchLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = time.Now()
	if err == nil && resp.StatusCode == http.StatusOK {
		l.ok[req.URL.String()]++
	} else {
		l.failures++
	}
	return resp, err
}

// fetched returns how many GETs of url succeeded.
func (l *fetchLog) fetched(url string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok[url]
}

func (l *fetchLog) failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failures
}

func (l *fetchLog) sinceLast() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Since(l.last)
}

// eventually calls cond every pollInterval until it returns true or
// timeout has passed, and reports whether it returned true.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}

// waitQuiet waits, at most a few seconds, until no target's validator has
// made an HTTP request for d: a validator whose MinRefreshInterval is below
// d may then fetch its JWKS again for an unknown kid.
func waitQuiet(t *testing.T, targets []target, d time.Duration) {
	t.Helper()
	quiet := func() bool {
		for _, tg := range targets {
			if tg.log.sinceLast() < d {
				return false
			}
		}
		return true
	}
	if !eventually(5*time.Second+d, quiet) {
		t.Fatalf("validators kept fetching; none was quiet for %v", d)
	}
}
