package interop

// Config.LookupToken with a real store: opaque tokens in an SQLite database
// (modernc.org/sqlite, pure Go), looked up by the SHA-256 of the token, as
// an Authlib resource server does with SQLAlchemy in
// BearerTokenValidator.authenticate_token. The same validator verifies the
// Authlib server's JWTs (hybrid).

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
)

const tokensSchema = `CREATE TABLE tokens (
	token_hash TEXT PRIMARY KEY, -- hex SHA-256 of the access token; never the token
	client_id  TEXT NOT NULL,
	scope      TEXT NOT NULL,
	expires_at INTEGER NOT NULL, -- Unix seconds
	revoked    INTEGER NOT NULL DEFAULT 0
)`

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// tokenStore is the application's own token table.
type tokenStore struct {
	db *sql.DB
	// audience is the API the stored tokens are for: the store is this
	// API's own, so every token in it is meant for it.
	audience string
}

func openTokenStore(t *testing.T, audience string) *tokenStore {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(tokensSchema); err != nil {
		t.Fatal(err)
	}
	return &tokenStore{db: db, audience: audience}
}

// issue stores a new random token and returns it.
func (s *tokenStore) issue(t *testing.T, clientID string, scopes []string, expiresAt time.Time) string {
	t.Helper()
	token := randomString() + randomString()
	_, err := s.db.Exec(`INSERT INTO tokens (token_hash, client_id, scope, expires_at) VALUES (?, ?, ?, ?)`,
		tokenHash(token), clientID, strings.Join(scopes, " "), expiresAt.Unix())
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func (s *tokenStore) revoke(t *testing.T, token string) {
	t.Helper()
	if _, err := s.db.Exec(`UPDATE tokens SET revoked = 1 WHERE token_hash = ?`, tokenHash(token)); err != nil {
		t.Fatal(err)
	}
}

// lookup is the Config.LookupToken: nil claims for a token it does not
// know, an error matching ErrInvalidToken for a revoked one, and the
// row's expiry for bearerguard to check.
func (s *tokenStore) lookup(ctx context.Context, token string) (*claims.Claims, error) {
	var (
		clientID, scope string
		expiresAt       int64
		revoked         bool
	)
	err := s.db.QueryRowContext(ctx, `SELECT client_id, scope, expires_at, revoked FROM tokens WHERE token_hash = ?`,
		tokenHash(token)).Scan(&clientID, &scope, &expiresAt, &revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("token store: %w", err)
	case revoked:
		return nil, fmt.Errorf("token store: token revoked: %w", middleware.ErrInvalidToken)
	}
	return &claims.Claims{
		Subject:   clientID,
		ClientID:  clientID,
		Audience:  []string{s.audience},
		Scopes:    strings.Fields(scope),
		ExpiresAt: time.Unix(expiresAt, 0),
		Machine:   true,
	}, nil
}

func TestBearerguardLookupTokenSQLite(t *testing.T) {
	t.Parallel()
	s := StartAuthlib(t)
	store := openTokenStore(t, ResourceOpaque)
	targets := newTargets(t, middleware.Config{
		Issuer:      s.Issuer,
		Audiences:   []string{ResourceOpaque},
		LookupToken: store.lookup,
	})
	waitReady(t, targets)

	const client = "stored-client"
	hour := time.Now().Add(time.Hour)
	read := store.issue(t, client, []string{ScopeRead}, hour)
	all := store.issue(t, client, allScopes, hour)
	revoked := store.issue(t, client, allScopes, hour)
	store.revoke(t, revoked)
	expired := store.issue(t, client, allScopes, time.Now().Add(-time.Hour))
	jwt := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeWrite}, resource(ResourceOpaque))

	stored := func(scopes ...string) claimsView {
		return claimsView{Subject: client, ClientID: client, Machine: true, Scopes: scopes}
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			wantAccepted(t, tg, read, stored(ScopeRead))
			wantAccepted(t, tg, all, stored(allScopes...))
			wantRefused(t, tg, revoked, middleware.ErrInvalidToken)
			wantRefused(t, tg, expired, middleware.ErrTokenExpired)
			wantRefused(t, tg, "not-a-token-"+randomString(), middleware.ErrTokenInactive)
			// The issuer's JWTs still go the JWT way.
			wantAccepted(t, tg, jwt, machineView(s.BasicClient, ScopeWrite))
		})
	}

	// The store's answer is not cached: a token revoked after use is
	// refused on the next request.
	t.Run("revoked after use", func(t *testing.T) {
		token := store.issue(t, client, []string{ScopeRead}, hour)
		for _, tg := range targets {
			wantAccepted(t, tg, token, stored(ScopeRead))
		}
		store.revoke(t, token)
		for _, tg := range targets {
			wantRefused(t, tg, token, middleware.ErrInvalidToken)
		}
	})

	// The store is down: the token cannot be checked now, 503.
	t.Run("store down", func(t *testing.T) {
		if err := store.db.Close(); err != nil {
			t.Fatal(err)
		}
		for _, tg := range targets {
			wantUnavailableEverywhere(t, tg, read, middleware.ErrLookupFailed)
		}
	})
}
