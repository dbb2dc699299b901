// An application with DPoP replay protection across replicas in Redis. No
// Redis listens at the address: Add fails, and the validator would answer
// 503.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/bearerguard/bearerguard/replay/redisstore"
	"github.com/redis/go-redis/v9"
)

func main() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer client.Close()
	store := redisstore.New(client, redisstore.Options{Timeout: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := middleware.New(ctx, middleware.Config{
		Issuer:    iss.URL,
		Audiences: []string{"https://api.example.test"},
		DPoP:      middleware.DPoP{ReplayStore: store},
	})
	fmt.Println("validator:", err == nil)
	_, err = store.Add(ctx, "thumbprint:jti", time.Now().Add(time.Minute))
	fmt.Println("add without Redis fails:", err != nil)
}
