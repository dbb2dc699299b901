package mcpguard

import (
	"context"
	"errors"
	"net/http"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/modelcontextprotocol/go-sdk/auth"
)

// claimsKey is the key of the claims in auth.TokenInfo.Extra.
const claimsKey = "claims"

// TokenInfo returns the SDK's view of verified claims: their scopes,
// expiry, the subject as UserID (the SDK binds sessions to it; with several
// trusted issuers, subjects should not collide across them), and the
// claims themselves in Extra["claims"], read back with [Claims].
func TokenInfo(c *claims.Claims) *auth.TokenInfo {
	return &auth.TokenInfo{
		Scopes:     c.Scopes,
		Expiration: c.ExpiresAt,
		UserID:     c.Subject,
		Extra:      map[string]any{claimsKey: c},
	}
}

// Claims returns the bearerguard claims behind info, as put there by a
// [Guard] or a [Verifier]; false if info is nil or was made by another
// verifier. In a tool handler:
//
//	c, ok := mcpguard.Claims(req.Extra.TokenInfo)
func Claims(info *auth.TokenInfo) (*claims.Claims, bool) {
	if info == nil {
		return nil, false
	}
	c, ok := info.Extra[claimsKey].(*claims.Claims)
	return c, ok && c != nil
}

// Verifier returns v as the SDK's auth.TokenVerifier, for servers that use
// auth.RequireBearerToken:
//
//	auth.RequireBearerToken(mcpguard.Verifier(v), &auth.RequireBearerTokenOptions{
//		ResourceMetadataURL: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
//		ClockSkew:           middleware.DefaultLeeway, // as the validator's Config.Leeway
//	})
//
// A refused token's error matches auth.ErrInvalidToken, so the SDK answers
// 401 with resource_metadata; a malformed request's matches auth.ErrOAuth
// (400). Both also match bearerguard's sentinels, and their text, which the
// SDK writes into the body, is bearerguard's fixed description.
//
// The SDK's middleware has no answer for an issuer outage: it answers any
// other error 500, without Retry-After, where a [Guard] answers 503 with
// Retry-After. Its challenges carry no RFC 6750 error code, it reads the
// token with its own, laxer parser, and it checks expiry again without
// leeway unless ClockSkew is set. Prefer a Guard; use Verifier where the
// SDK's middleware is a given.
func Verifier(v *middleware.Validator) auth.TokenVerifier {
	return func(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		c, err := v.ValidateToken(ctx, token)
		if err != nil {
			return nil, refused(err)
		}
		return TokenInfo(c), nil
	}
}

// refusal is a bearerguard refusal as the SDK's middleware understands it.
type refusal struct {
	sdk error // auth.ErrInvalidToken, auth.ErrOAuth or nil
	e   *middleware.Error
}

func refused(err error) error {
	var e *middleware.Error
	if !errors.As(err, &e) {
		return err
	}
	r := &refusal{e: e}
	switch {
	case errors.Is(e, middleware.ErrInvalidToken), errors.Is(e, middleware.ErrNoToken):
		r.sdk = auth.ErrInvalidToken
	case errors.Is(e, middleware.ErrInvalidRequest):
		r.sdk = auth.ErrOAuth
	}
	return r
}

// Error returns the fixed description: the SDK sends it to the client.
func (r *refusal) Error() string { return r.e.Description }

func (r *refusal) Unwrap() []error {
	if r.sdk == nil {
		return []error{r.e}
	}
	return []error{r.sdk, r.e}
}
