// An application of the gRPC adapter: a call's context with and without a
// token in its authorization metadata, checked by the guard.
package main

import (
	"context"
	"fmt"

	"github.com/bearerguard/bearerguard/adapters/grpcguard"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func main() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		panic(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		panic(err)
	}
	g, err := grpcguard.New(v, grpcguard.Config{})
	if err != nil {
		panic(err)
	}
	tok := iss.Token(middlewaretest.Spec{Subject: "alice"})
	call := metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+tok))
	_, err = g.Check(call, "/notes.v1.Notes/List")
	fmt.Println("token:", err == nil)
	_, err = g.Check(metadata.NewIncomingContext(ctx, metadata.MD{}), "/notes.v1.Notes/List")
	fmt.Println("no token:", status.Code(err))
}
