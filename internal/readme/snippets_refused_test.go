package readme

// The ```go block of README.md's "When a token is refused", verbatim.

import (
	"context"
	"log/slog"

	"github.com/bearerguard/bearerguard/middleware"
)

func refusalLogSnippet(ctx context.Context) (*middleware.Validator, error) {
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:          "https://login.example.com",
		Audiences:       []string{"https://api.example.com"},
		Logger:          slog.Default(),
		RefusalLogLevel: slog.LevelInfo, // default slog.LevelDebug
	})
	return v, err
}
