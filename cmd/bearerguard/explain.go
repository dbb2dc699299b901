package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/bearerguard/bearerguard/internal/checks"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/scopes"
)

// list is a flag that may be given more than once.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

// explain runs a token through a real Validator and Check and prints
// what each check made of it, from the middleware's own refusal record.
func explain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, e env) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	issuer := fs.String("issuer", "", "the issuer identifier, exactly as in the token's iss (required)")
	jwksURL := fs.String("jwks-url", "", "the JWK Set URL (default: discovered from the issuer)")
	wait := fs.Duration("wait", 5*time.Second, "how long to wait for the issuer's keys (Config.KeyWait)")
	var audiences, scopeAlts, scopeClaims list
	fs.Var(&audiences, "audience", "an accepted audience (Config.Audiences; required, repeatable)")
	fs.Var(&scopeAlts, "scope", "the route's scope requirement, as RequireScope: space-separated scopes all required; repeat for alternatives")
	fs.Var(&scopeClaims, "scope-claim", "a claim scopes are read from (Config.ScopeClaims; repeatable; default scope and scp)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *issuer == "" || len(audiences) == 0 || fs.NArg() > 1 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	policy := middleware.Policy{}
	var scopeReq scopes.Requirement
	if len(scopeAlts) > 0 {
		req, err := scopes.NewRequirement(scopeAlts...)
		if err != nil {
			fmt.Fprintf(stderr, "bearerguard explain: -scope: %v\n", err)
			return exitUsage
		}
		policy.Scopes, scopeReq = scopeAlts, req
	}
	token, err := readToken(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "bearerguard explain: %v\n", err)
		return exitUsage
	}

	rec := &recorder{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:         *issuer,
		JWKSURL:        *jwksURL,
		Audiences:      audiences,
		ScopeClaims:    scopeClaims,
		KeyWait:        *wait,
		TokenCacheSize: -1,
		Logger:         slog.New(rec),
		HTTPClient:     e.client,
		Now:            e.now,
	})
	if err != nil {
		fmt.Fprintf(stderr, "bearerguard explain: %v\n", err)
		return exitUsage
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if err != nil {
		fmt.Fprintf(stderr, "bearerguard explain: %v\n", err)
		return exitUsage
	}
	r.Header.Set("Authorization", "Bearer "+token)
	c, checkErr := v.Check(r, policy)

	fmt.Fprintf(stdout, "bearerguard explain: issuer %s, audience %s", *issuer, strings.Join(audiences, " "))
	if len(policy.Scopes) > 0 {
		fmt.Fprintf(stdout, ", scope %s", scopeReq.String())
	}
	fmt.Fprintln(stdout)

	refusal := rec.refusal()
	var failed string
	if checkErr != nil {
		failed = "?"
		if refusal != nil {
			failed = refusal.get("check")
		}
	}
	if refusal != nil && len(refusal.token) > 0 {
		fmt.Fprintln(stdout, "\ntoken, as the middleware read it (non-secret parts):")
		fmt.Fprintf(stdout, "  %s\n", joinAttrs(refusal.token))
		fmt.Fprintf(stdout, "  now=%s leeway=%s\n", refusal.get("now"), refusal.get("leeway"))
	}
	if c != nil {
		fmt.Fprintln(stdout, "\nclaims, verified:")
		fmt.Fprintf(stdout, "  iss=%s aud=%v exp=%s scopes=%v\n", c.Issuer, c.Audience, c.ExpiresAt.UTC().Format(time.RFC3339), c.Scopes)
	}

	fmt.Fprintln(stdout, "\nchecks, in order:")
	reached := true
	for _, name := range checks.Order {
		status, detail := "PASS", ""
		switch {
		case name == failed:
			status, detail = "FAIL", refusal.get("error")
			reached = false
		case !reached:
			status, detail = "----", "not reached"
		case name == checks.Validate || name == checks.User || name == checks.Policy ||
			(name == checks.Scope && len(policy.Scopes) == 0):
			status, detail = "skip", "not asked for by this route"
		}
		if detail == "" {
			detail = checks.Does[name]
		}
		fmt.Fprintf(stdout, "  %s  %-19s  %s\n", status, name, detail)
		if status == "FAIL" && refusal != nil && len(refusal.want) > 0 {
			fmt.Fprintf(stdout, "  %s  %-19s  want %s\n", "    ", "", joinAttrs(refusal.want))
		}
	}

	if failed == checks.Key {
		if err := v.Ready(); err != nil {
			fmt.Fprintln(stdout, "\nissuer keys:")
			for _, ke := range keysErrors(err) {
				fmt.Fprintf(stdout, "  %s\n", ke.Error())
			}
		}
	}

	fmt.Fprintln(stdout, "\nHTTP answer of the middleware:")
	w := httptest.NewRecorder()
	if checkErr != nil {
		var me *middleware.Error
		if !errors.As(checkErr, &me) {
			fmt.Fprintf(stderr, "bearerguard explain: %v\n", checkErr)
			return exitUsage
		}
		v.WriteError(w, me)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	fmt.Fprintf(stdout, "  %d %s\n", w.Code, http.StatusText(w.Code))
	for _, h := range []string{"WWW-Authenticate", "Retry-After"} {
		if val := w.Header().Get(h); val != "" {
			fmt.Fprintf(stdout, "  %s: %s\n", h, val)
		}
	}
	if body := strings.TrimSpace(w.Body.String()); body != "" {
		fmt.Fprintf(stdout, "  %s\n", body)
	}
	if checkErr == nil {
		fmt.Fprintln(stdout, "  (the request reaches the handler)")
	}
	if lines := rec.text(); lines != "" {
		fmt.Fprintln(stdout, "\nlog (Config.Logger):")
		for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
			fmt.Fprintf(stdout, "  %s\n", l)
		}
	}

	switch {
	case checkErr == nil:
		return exitOK
	case errors.Is(checkErr, middleware.ErrKeysUnavailable):
		return exitUnavailable
	}
	return exitRefused
}

// keysErrors returns the per-issuer causes in the error of Ready.
func keysErrors(err error) []*middleware.KeysError {
	var out []*middleware.KeysError
	var walk func(error)
	walk = func(err error) {
		if ke, ok := err.(*middleware.KeysError); ok {
			out = append(out, ke)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// attr is a flattened attribute of a log record.
type attr struct{ key, val string }

func joinAttrs(as []attr) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.key + "=" + a.val
	}
	return strings.Join(parts, " ")
}

// record is the refusal record of the middleware, flattened.
type record struct {
	top, token, want []attr
}

func (r *record) get(key string) string {
	if r == nil {
		return ""
	}
	for _, a := range r.top {
		if a.key == key {
			return a.val
		}
	}
	return ""
}

// recorder is the validator's slog.Handler: it keeps the refusal record
// and writes every record as the text handler would, without the time.
type recorder struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	recs []*record
}

const refusedMsg = "bearerguard: request refused"

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recorder) WithGroup(string) slog.Handler            { return h }

func (h *recorder) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Message == refusedMsg {
		rec := &record{}
		r.Attrs(func(a slog.Attr) bool {
			switch {
			case a.Value.Kind() == slog.KindGroup && a.Key == "token":
				rec.token = flatten(a.Value.Group())
			case a.Value.Kind() == slog.KindGroup && a.Key == "want":
				rec.want = flatten(a.Value.Group())
			default:
				rec.top = append(rec.top, attr{a.Key, format(a.Value)})
			}
			return true
		})
		h.recs = append(h.recs, rec)
	}
	text := slog.NewTextHandler(&h.buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return text.Handle(ctx, r)
}

func (h *recorder) refusal() *record {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.recs) == 0 {
		return nil
	}
	return h.recs[len(h.recs)-1]
}

func (h *recorder) text() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.buf.String()
}

func flatten(as []slog.Attr) []attr {
	out := make([]attr, 0, len(as))
	for _, a := range as {
		out = append(out, attr{a.Key, format(a.Value)})
	}
	return out
}

func format(v slog.Value) string {
	switch v.Kind() {
	case slog.KindTime:
		return v.Time().UTC().Format(time.RFC3339)
	case slog.KindDuration:
		return v.Duration().String()
	}
	return fmt.Sprint(v.Any())
}
