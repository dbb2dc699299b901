package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the namespace put before every key when Options.Prefix is
// empty.
const DefaultPrefix = "bearerguard:dpop:"

// DefaultTimeout bounds each Add when Options.Timeout is zero.
const DefaultTimeout = 500 * time.Millisecond

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
}

// Store records keys in Redis until a given time. It is safe for concurrent
// use; several Store values, in one process or in many, that use the same
// Redis and Prefix share their records.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
}

// New returns a Store that keeps its records through client. The caller
// keeps ownership of client: the Store never closes it. New panics if client
// is nil, a programming error.
func New(client redis.UniversalClient, opts Options) *Store {
	if client == nil {
		panic("redisstore: New with a nil client")
	}
	s := &Store{client: client, prefix: opts.Prefix, timeout: opts.Timeout}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	return s
}

// Add records key until the time until, unless it is recorded already. It
// reports true if key was new and is now recorded, false if it was recorded
// before (a replay). It makes one round trip to Redis, a SET with NX and
// PXAT; Redis forgets the key at until. An until that has already passed
// records nothing that outlives the call, so such a key is never refused
// later.
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
	// One command, sent as written: SET key 1 NX PXAT <ms>. (go-redis's
	// SetNX would send PX with a duration, measured from when Redis receives
	// it; its SetArgs sends EXAT when until has no milliseconds.) Redis
	// refuses a PXAT that is not positive, so a time before 1970 becomes 1.
	ms := max(until.UnixMilli(), 1)
	// go-redis dials and greets a new connection (HELLO) on its own
	// timeouts, not the caller's context, so a Redis that accepts but does
	// not answer could hold the request for DialTimeout plus ReadTimeout.
	// The command runs in its own goroutine, and Add returns when ctx ends;
	// that goroutine ends with the client's own timeouts.
	done := make(chan error, 1)
	go func() {
		done <- s.client.Do(ctx, "set", s.prefix+key, "1", "nx", "pxat", ms).Err()
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	switch err {
	case nil:
		return true, nil
	case redis.Nil: // NX: the key exists
		return false, nil
	default:
		return false, err
	}
}
