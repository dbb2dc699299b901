package redisstore_test

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/replay/redisstore"
	"github.com/redis/go-redis/v9"
)

// readmeReplayStore is the README's "```go redisstore" block (section "DPoP
// and mTLS"), verbatim: TestReadme checks it is, and runs it.
func readmeReplayStore() (*redisstore.Store, *redis.Client) {
	client := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")}) // github.com/redis/go-redis/v9
	replayStore := redisstore.New(client, redisstore.Options{
		Prefix:  "payments-api:dpop:",   // optional; default "bearerguard:dpop:"
		Timeout: 200 * time.Millisecond, // optional; default 500ms per proof
	})
	return replayStore, client
}

// TestReadme keeps the README's Redis snippet true: it is fenced
// "```go redisstore" (the root module's README test, which compiles "```go"
// blocks, skips it: the root module does not import go-redis), appears line
// for line in this file, and the store it builds records a proof once
// against a real Redis.
func TestReadme(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	hay := strings.Join(normalize(string(src)), "\n")
	var blocks [][]string
	var cur []string
	in := false
	for _, l := range strings.Split(string(md), "\n") {
		switch {
		case !in && strings.TrimSpace(l) == "```go redisstore":
			in, cur = true, nil
		case in && strings.TrimSpace(l) == "```":
			in = false
			blocks = append(blocks, normalize(strings.Join(cur, "\n")))
		case in:
			cur = append(cur, l)
		}
	}
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go redisstore block")
	}
	for i, b := range blocks {
		if !strings.Contains(hay, strings.Join(b, "\n")) {
			t.Errorf("README Redis block %d is not in readme_test.go:\n%s", i+1, strings.Join(b, "\n"))
		}
	}

	r := redisstore.StartRedis(t)
	t.Setenv("REDIS_ADDR", r.Addr())
	store, client := readmeReplayStore()
	defer client.Close()
	until := time.Now().Add(time.Minute)
	for i, want := range []bool{true, false} {
		added, err := store.Add(context.Background(), "thumbprint.jti-hash", until)
		if err != nil || added != want {
			t.Fatalf("Add #%d: %t, %v; want %t, nil", i+1, added, err, want)
		}
	}
}

// normalize drops indentation and blank lines.
func normalize(text string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
