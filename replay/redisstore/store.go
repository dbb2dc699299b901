package redisstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bearerguard/bearerguard/middleware"
)

// DefaultPrefix is the namespace put before every key when Options.Prefix is
// empty.
const DefaultPrefix = "bearerguard:dpop:"

// DefaultTimeout bounds each Add when Options.Timeout is zero.
const DefaultTimeout = 500 * time.Millisecond

// DefaultMaxProofsPerKey bounds the unexpired proofs of one DPoP key when
// Options.MaxProofsPerKey is zero: about 830 proofs a second sustained for
// one key across all replicas with the default two-minute window, and about
// 14 MB of Redis memory for a key at its bound, 135 bytes a proof
// (TestMemoryPerProof).
const DefaultMaxProofsPerKey = 100_000

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Prefix is put before every key, so that the store can share a Redis
	// database with other data, or several APIs can share one Redis without
	// seeing each other's proofs. Optional; default DefaultPrefix.
	Prefix string

	// Timeout bounds each Add, on top of any deadline the caller's context
	// already has: with Redis unreachable or hanging, Add returns an error
	// after at most this long, even while the client is still dialing a
	// new connection (which go-redis bounds only by its DialTimeout and
	// ReadTimeout). Optional; default DefaultTimeout. A negative value sets
	// no bound of the store's own: then only ctx and the client's own
	// timeouts apply.
	Timeout time.Duration

	// MaxProofsPerKey is the most unexpired proofs of one DPoP key (the
	// part of the key before its first ".", the key's thumbprint) that
	// the store holds, across every replica sharing it. A proof beyond it
	// is refused with an error matching middleware.ErrReplayKeyLimit,
	// which bearerguard answers with 503 and a Retry-After until that
	// key's oldest proof expires: one client flooding with fresh proofs
	// is held to its share of Redis while other clients are served. A
	// replayed proof is refused as a replay all the same. Optional;
	// default DefaultMaxProofsPerKey.
	//
	// A negative value sets no bound, and each proof is then one key of
	// its own, recorded by SET NX PXAT, which costs Redis about a tenth of
	// the bound's script (BenchmarkAdd). The two layouts do not see each
	// other's records: every replica sharing a Prefix must use the same
	// choice.
	MaxProofsPerKey int
}

var _ middleware.ReplayStore = (*Store)(nil)

// Store records keys in Redis until a given time. It is safe for concurrent
// use; several Store values, in one process or in many, that use the same
// Redis and Prefix share their records.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	limit   int64 // -1: no bound
}

// New returns a Store that keeps its records through client. The caller
// keeps ownership of client: the Store never closes it. New panics if client
// is nil, a programming error.
func New(client redis.UniversalClient, opts Options) *Store {
	if client == nil {
		panic("redisstore: New with a nil client")
	}
	s := &Store{client: client, prefix: opts.Prefix, timeout: opts.Timeout, limit: int64(opts.MaxProofsPerKey)}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	switch {
	case s.limit == 0:
		s.limit = DefaultMaxProofsPerKey
	case s.limit < 0:
		s.limit = -1 // no bound: Add uses set
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	return s
}

// addScript records a proof in the sorted set of its DPoP key, KEYS[1]:
// member ARGV[1] (the jti hash) scored by ARGV[2], when it expires (Unix
// milliseconds), for at most ARGV[3] unexpired members. It reads Redis's
// clock, drops the members expired by it, and answers 0 for a member
// still there (a replay), 1 when the member is new (and recorded, unless
// it has already expired), or {-1, milliseconds until the oldest member
// expires} when the set is full. The set itself expires with its last
// member. The common case, a new proof under the bound, takes six calls.
var addScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[3]) or untilMs <= now then
	if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
		return 0
	end
	if untilMs <= now then
		return 1
	end
	local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
	return {-1, tonumber(first[2]) - now}
end
if redis.call('ZADD', KEYS[1], 'NX', untilMs, ARGV[1]) == 0 then
	return 0
end
local ttl = redis.call('PTTL', KEYS[1])
if now + ttl < untilMs then
	redis.call('PEXPIREAT', KEYS[1], untilMs)
end
return 1
`)

// Add records key until the time until, unless it is recorded already. It
// reports true if key was new and is now recorded, false if it was recorded
// before (a replay). A key is "thumbprint.jti-hash", as bearerguard makes
// them: each thumbprint has one sorted set in Redis, named by the prefix
// and the thumbprint, whose members are the jti hashes, scored by when
// they expire (a key without "." is a thumbprint of its own, with an
// empty member). Add is one round trip, a script run atomically by Redis
// (EVALSHA; the first Add after Redis starts also loads it), which drops
// the set's expired members by Redis's clock and then checks and records
// the key. An until that has already passed records nothing, so such a
// key is never refused later (unless it is recorded with a later until).
//
// A key whose thumbprint already holds Options.MaxProofsPerKey unexpired
// keys is refused with an error that matches middleware.ErrReplayKeyLimit
// and has a method RetryAfter() time.Duration: the time until the oldest
// of them expires. With no bound (a negative MaxProofsPerKey), Add is one
// SET <prefix><key> 1 NX PXAT <until in Unix milliseconds>, and Redis
// drops the key at until.
//
// Any error from Redis, or the end of the Store's timeout or of ctx, is
// returned as it is, with added false; the caller must then refuse the
// request, not accept it.
func (s *Store) Add(ctx context.Context, key string, until time.Time) (added bool, err error) {
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	// go-redis dials and greets a new connection (HELLO) on its own
	// timeouts, not the caller's context, so a Redis that accepts but does
	// not answer could hold the request for DialTimeout plus ReadTimeout.
	// The command runs in its own goroutine, and Add returns when ctx ends;
	// that goroutine ends with the client's own timeouts.
	type result struct {
		added bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		if s.limit < 0 {
			r.added, r.err = s.set(ctx, key, until)
		} else {
			r.added, r.err = s.run(ctx, key, until)
		}
		done <- r
	}()
	select {
	case r := <-done:
		return r.added, r.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// run records key with addScript, in the sorted set of its thumbprint.
func (s *Store) run(ctx context.Context, key string, until time.Time) (bool, error) {
	thumb, member, _ := strings.Cut(key, ".")
	v, err := addScript.Run(ctx, s.client, []string{s.prefix + thumb}, member, until.UnixMilli(), s.limit).Result()
	if err != nil {
		return false, err
	}
	return answer(v)
}

// set records key without a bound per DPoP key: SET <prefix><key> 1 NX
// PXAT <until>, sent as written. (go-redis's SetNX would send PX with a
// duration, measured from when Redis receives it; its SetArgs sends EXAT
// when until has no milliseconds.) Redis refuses a PXAT that is not
// positive, so a time before 1970 becomes 1.
func (s *Store) set(ctx context.Context, key string, until time.Time) (bool, error) {
	ms := max(until.UnixMilli(), 1)
	switch err := s.client.Do(ctx, "set", s.prefix+key, "1", "nx", "pxat", ms).Err(); err {
	case nil:
		return true, nil
	case redis.Nil: // NX: the key exists
		return false, nil
	default:
		return false, err
	}
}

// answer reads the reply of addScript.
func answer(v any) (bool, error) {
	switch v := v.(type) {
	case int64:
		switch v {
		case 1:
			return true, nil
		case 0:
			return false, nil
		}
	case []any:
		if len(v) == 2 {
			if code, ok := v[0].(int64); ok && code == -1 {
				if ms, ok := v[1].(int64); ok {
					return false, &keyLimitError{retry: time.Duration(ms) * time.Millisecond}
				}
			}
		}
	}
	return false, fmt.Errorf("redisstore: unexpected reply %v from the script", v)
}

// keyLimitError refuses a proof whose DPoP key holds
// Options.MaxProofsPerKey unexpired proofs.
type keyLimitError struct {
	retry time.Duration // until the key's oldest proof expires
}

func (e *keyLimitError) Error() string {
	return "redisstore: DPoP key holds its most unexpired proofs (Options.MaxProofsPerKey)"
}

// Unwrap makes the error match middleware.ErrReplayKeyLimit.
func (e *keyLimitError) Unwrap() error { return middleware.ErrReplayKeyLimit }

// RetryAfter is how long until the key's oldest proof expires, and a new
// one may be recorded; bearerguard sends it as Retry-After.
func (e *keyLimitError) RetryAfter() time.Duration { return e.retry }
