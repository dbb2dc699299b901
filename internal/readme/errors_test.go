package readme

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestErrorTable holds the README's error table: which malformations are
// 400 invalid_request, and which bad tokens are 401 invalid_token.
func TestErrorTable(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	v, err := middleware.New(t.Context(), middleware.Config{
		Issuer:          iss.URL,
		Audiences:       []string{"https://api.example.test"},
		AllowQueryToken: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	good := iss.Token(middlewaretest.Spec{})
	h := v.Authenticate(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, c := range []struct {
		name   string
		query  string
		auth   []string
		status int
		code   string
	}{
		{"no token", "", nil, 401, ""},
		{"Basic", "", []string{"Basic dXNlcjpwYXNz"}, 401, ""},
		{"two Authorization headers", "", []string{"Bearer " + good, "Bearer " + good}, 400, "invalid_request"},
		{"Bearer alone", "", []string{"Bearer"}, 400, "invalid_request"},
		{"Bearer and a space", "", []string{"Bearer "}, 400, "invalid_request"},
		{"Bearer a b", "", []string{"Bearer a b"}, 400, "invalid_request"},
		{`Bearer "x"`, "", []string{`Bearer "x"`}, 400, "invalid_request"},
		{"no scheme", "", []string{": x"}, 400, "invalid_request"},
		{"leading space", "", []string{" Bearer " + good}, 400, "invalid_request"},
		{"header and query", "access_token=" + good, []string{"Bearer " + good}, 400, "invalid_request"},
		{"Bearer garbage", "", []string{"Bearer garbage"}, 401, "invalid_token"},
		{"Bearer a.b.c", "", []string{"Bearer a.b.c"}, 401, "invalid_token"},
		{"JWE shape", "", []string{"Bearer a.b.c.d.e"}, 401, "invalid_token"},
		{"over 16 KiB", "", []string{"Bearer " + strings.Repeat("a", 16<<10+1)}, 401, "invalid_token"},
		{"ID token", "", []string{"Bearer " + iss.Token(middlewaretest.Spec{Kind: middlewaretest.IDToken, Audience: []string{"https://api.example.test"}})}, 401, "invalid_token"},
		{"valid", "", []string{"Bearer " + good}, 200, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/?"+c.query, nil)
			for _, a := range c.auth {
				r.Header.Add("Authorization", a)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			www := w.Header().Get("WWW-Authenticate")
			if w.Code != c.status || (c.code != "") != strings.Contains(www, `error="`+c.code+`"`) {
				t.Errorf("%d %q, want %d with error %q", w.Code, www, c.status, c.code)
			}
		})
	}
}
