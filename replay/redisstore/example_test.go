package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bearerguard/bearerguard/replay/redisstore"
	"github.com/redis/go-redis/v9"
)

// Every replica of an API opens its own client to the same Redis and makes a
// Store with the same prefix; a key one replica records is refused by all.
// With bearerguard, the Store is the DPoP replay store of each replica's
// validator (middleware.Config DPoP.ReplayStore), which makes the keys from
// the proof's key thumbprint and jti and answers 503 when Add fails.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	store := redisstore.New(client, redisstore.Options{
		Prefix:  "orders-api:dpop:",     // optional; default "bearerguard:dpop:"
		Timeout: 200 * time.Millisecond, // optional; default 500ms per Add
	})

	ctx := context.Background()
	until := time.Now().Add(2 * time.Minute) // the proof window: 1 min lifetime, 30 s leeway either side
	added, err := store.Add(ctx, "thumbprint.jti-hash", until)
	switch {
	case err != nil:
		fmt.Println("refuse the request with 503:", err)
	case !added:
		fmt.Println("replay: refuse the proof")
	default:
		fmt.Println("first use: go on")
	}
}
