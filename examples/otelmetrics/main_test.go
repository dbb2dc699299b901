package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestPrometheusScrape runs the example server on loopback, sends it
// requests with a valid, an expired and no token, and scrapes /metrics as
// Prometheus would: the counts are there by result and cause, the key
// fetch and readiness too, and nothing of the tokens.
func TestPrometheusScrape(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	const audience = "https://api.example.test"
	h, err := newHandler(t.Context(), middleware.Config{Issuer: iss.URL, Audiences: []string{audience}, HTTPClient: iss.Client()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(path, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, string(b)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for { // readiness, polled through the API's own endpoint, boundedly
		if code, _ := get("/ready", ""); code == http.StatusOK {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("not ready")
		case <-time.After(20 * time.Millisecond):
		}
	}
	valid := iss.Token(middlewaretest.Spec{Subject: "subject-secret-42"})
	expired := iss.Token(middlewaretest.Spec{Lifetime: -time.Hour})
	for _, c := range []struct {
		token string
		want  int
	}{{valid, 200}, {valid, 200}, {expired, 401}, {"", 401}} {
		if code, _ := get("/me", c.token); code != c.want {
			t.Fatalf("/me: %d, want %d", code, c.want)
		}
	}
	code, body := get("/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	samples := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "bearerguard_") {
			samples[line] = true
		}
	}
	has := func(name, value string, labels ...string) {
		t.Helper()
		for s := range samples {
			if !strings.HasPrefix(s, name+"{") || !strings.HasSuffix(s, "} "+value) {
				continue
			}
			all := true
			for _, l := range labels {
				all = all && strings.Contains(s, l)
			}
			if all {
				return
			}
		}
		t.Errorf("no sample %s%v = %s in:\n%s", name, labels, value, body)
	}
	issuer := `bearerguard_issuer="` + iss.URL + `"`
	has("bearerguard_authentication_requests_total", "2", `bearerguard_result="success"`, issuer)
	has("bearerguard_authentication_requests_total", "1", `bearerguard_result="failure"`, `error_type="token_expired"`)
	has("bearerguard_authentication_requests_total", "1", `bearerguard_result="failure"`, `error_type="no_token"`)
	has("bearerguard_authentication_duration_seconds_count", "2", `bearerguard_result="success"`)
	has("bearerguard_keys_fetches_total", "1", `bearerguard_result="success"`, issuer)
	has("bearerguard_keys_ready", "1", issuer)
	for _, secret := range []string{"subject-secret-42", valid, expired, "test-client"} {
		if strings.Contains(body, secret) {
			t.Errorf("the scrape holds token content %.20q", secret)
		}
	}
}
