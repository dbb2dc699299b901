package redisstore_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/internal/snippets"
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
	snippets.Check(t, "../../README.md", "readme_test.go", "redisstore")

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
