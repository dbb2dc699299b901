package redisstore

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func mustAdd(t *testing.T, s *Store, key string, until time.Time, want bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := s.Add(ctx, key, until)
	if err != nil {
		t.Fatalf("Add(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("Add(%q) = %v, want %v", key, got, want)
	}
}

func TestAddRecordsOnce(t *testing.T) {
	r := startRedis(t)
	t.Logf("redis-server %s on %s", redisVersion(), r.Addr())
	c := newClient(t, r.Addr())
	s := New(c, Options{})
	until := time.Now().Add(time.Minute)

	mustAdd(t, s, "thumb.jti-1", until, true)
	mustAdd(t, s, "thumb.jti-1", until, false)
	mustAdd(t, s, "thumb.jti-1", until.Add(time.Hour), false) // a later until does not reopen it
	mustAdd(t, s, "thumb.jti-2", until.Add(time.Second), true)
	mustAdd(t, s, "other.jti-1", until, true) // another DPoP key

	// One sorted set per thumbprint, namespaced: its members are the jti
	// hashes scored by their until, to the millisecond, and the set
	// expires with its last member.
	ctx := context.Background()
	set := DefaultPrefix + "thumb"
	if got, err := c.ZRangeWithScores(ctx, set, 0, -1).Result(); err != nil || len(got) != 2 ||
		got[0].Member != "jti-1" || int64(got[0].Score) != until.UnixMilli() ||
		got[1].Member != "jti-2" || int64(got[1].Score) != until.Add(time.Second).UnixMilli() {
		t.Fatalf("ZRANGE %s WITHSCORES = %v, %v; want jti-1 at until and jti-2 a second later", set, got, err)
	}
	at, err := c.PExpireTime(ctx, set).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(until.Add(time.Second).UnixMilli()) * time.Millisecond; at != want {
		t.Fatalf("PEXPIRETIME = %v, want %v (the last until)", at, want)
	}
	if n, _ := c.Exists(ctx, "thumb", DefaultPrefix+"thumb.jti-1").Result(); n != 0 {
		t.Fatal("a key without the prefix, or one per proof, exists")
	}
}

func TestPrefixSeparatesStores(t *testing.T) {
	r := startRedis(t)
	c := newClient(t, r.Addr())
	a := New(c, Options{Prefix: "api-a:"})
	b := New(c, Options{Prefix: "api-b:"})
	until := time.Now().Add(time.Minute)
	mustAdd(t, a, "thumb.k", until, true)
	mustAdd(t, b, "thumb.k", until, true)
	mustAdd(t, a, "thumb.k", until, false)
	if n, _ := c.Exists(context.Background(), "api-a:thumb", "api-b:thumb").Result(); n != 2 {
		t.Fatalf("EXISTS api-a:thumb api-b:thumb = %d, want 2", n)
	}
}

// TestUnboundedLayout: with no bound per DPoP key, each proof is a key of
// its own, namespaced, set by one SET NX PXAT and dropped by Redis at until.
func TestUnboundedLayout(t *testing.T) {
	r := startRedis(t)
	c := newClient(t, r.Addr())
	var sent int
	c.AddHook(countHook{&sent})
	s := New(c, Options{MaxProofsPerKey: -1})
	until := time.Now().Add(time.Minute)
	mustAdd(t, s, "thumb.jti-1", until, true)
	admin := newClient(t, r.Addr())
	before := commandCalls(t, admin)
	sent = 0
	mustAdd(t, s, "thumb.jti-1", until, false)
	mustAdd(t, s, "thumb.jti-2", until, true)
	if got := commandsSince(t, admin, before); sent != 2 || len(got) != 1 || got["set"] != 2 {
		t.Fatalf("2 Adds sent %d commands and ran %v, want 2 set", sent, got)
	}
	ctx := context.Background()
	if v, err := admin.Get(ctx, DefaultPrefix+"thumb.jti-1").Result(); err != nil || v != "1" {
		t.Fatalf("GET %sthumb.jti-1 = %q, %v; want \"1\"", DefaultPrefix, v, err)
	}
	at, err := admin.PExpireTime(ctx, DefaultPrefix+"thumb.jti-1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(until.UnixMilli()) * time.Millisecond; at != want {
		t.Fatalf("PEXPIRETIME = %v, want %v (until)", at, want)
	}
	if n, _ := admin.Exists(ctx, DefaultPrefix+"thumb").Result(); n != 0 {
		t.Fatal("a sorted set exists without a bound")
	}
	past := time.Now().Add(-time.Second)
	mustAdd(t, s, "thumb.past", past, true)
	mustAdd(t, s, "thumb.past", past, true)
	mustAdd(t, s, "thumb.ancient", time.Unix(-10, 0), true)
}

func TestAddHonoursUntil(t *testing.T) {
	r := startRedis(t)
	s := New(newClient(t, r.Addr()), Options{})

	// Already expired: recorded for no time at all, so never a replay.
	past := time.Now().Add(-time.Second)
	mustAdd(t, s, "past", past, true)
	mustAdd(t, s, "past", past, true)
	// Before 1970 (PXAT must be positive).
	mustAdd(t, s, "ancient", time.Unix(-10, 0), true)

	// A short life: refused while it lasts, new again after.
	until := time.Now().Add(300 * time.Millisecond)
	mustAdd(t, s, "short", until, true)
	mustAdd(t, s, "short", until, false)
	time.Sleep(time.Until(until) + 100*time.Millisecond)
	mustAdd(t, s, "short", time.Now().Add(time.Minute), true)
}

// TestTwoReplicas plays two API replicas, each with its own client and Store,
// sharing one Redis: a key one has recorded is refused by the other.
func TestTwoReplicas(t *testing.T) {
	r := startRedis(t)
	one := New(newClient(t, r.Addr()), Options{})
	two := New(newClient(t, r.Addr()), Options{})
	until := time.Now().Add(time.Minute)

	mustAdd(t, one, "proof-a", until, true)
	mustAdd(t, two, "proof-a", until, false)
	mustAdd(t, two, "proof-b", until, true)
	mustAdd(t, one, "proof-b", until, false)

	// Racing replicas: exactly one of them records a key.
	for i := range 50 {
		key := "race-" + strconv.Itoa(i)
		res := make(chan bool, 2)
		for _, s := range []*Store{one, two} {
			go func() {
				ok, err := s.Add(context.Background(), key, until)
				if err != nil {
					t.Error(err)
				}
				res <- ok
			}()
		}
		if a, b := <-res, <-res; a == b {
			t.Fatalf("%s: both replicas answered %v", key, a)
		}
	}
}

// TestRedisDown stops Redis mid-run: Add fails promptly with an error (the
// caller answers 503), and works again once Redis is back on its port.
func TestRedisDown(t *testing.T) {
	r := startRedis(t)
	const timeout = 300 * time.Millisecond
	s := New(newClient(t, r.Addr()), Options{Timeout: timeout})
	until := time.Now().Add(time.Minute)
	mustAdd(t, s, "before", until, true)

	r.Stop()
	for _, key := range []string{"during-1", "during-2"} {
		start := time.Now()
		added, err := s.Add(context.Background(), key, until)
		took := time.Since(start)
		if err == nil || added {
			t.Fatalf("Add with Redis down = %v, %v; want false and an error", added, err)
		}
		if took > timeout+200*time.Millisecond {
			t.Fatalf("Add with Redis down took %v, want at most about %v", took, timeout)
		}
		t.Logf("Redis down: Add failed after %v: %v", took.Round(time.Millisecond), err)
	}

	r.Start()
	// Persistence is off: the restart forgot "before". The pool redials.
	mustAdd(t, s, "after", until, true)
	mustAdd(t, s, "after", until, false)
}

// TestTimeoutBoundsAdd points the store at a server that accepts connections
// and never answers: Add gives up after Options.Timeout with an error that is
// (or wraps) the context deadline or a network timeout.
func TestTimeoutBoundsAdd(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // hold it open, say nothing
		}
	}()
	const timeout = 200 * time.Millisecond
	s := New(newClient(t, l.Addr().String()), Options{Timeout: timeout})
	start := time.Now()
	added, err := s.Add(context.Background(), "k", time.Now().Add(time.Minute))
	took := time.Since(start)
	if err == nil || added {
		t.Fatalf("Add = %v, %v; want false and an error", added, err)
	}
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
		t.Errorf("error %v is neither a deadline nor a network timeout", err)
	}
	if took < timeout/2 || took > timeout+300*time.Millisecond {
		t.Fatalf("Add took %v, want about %v", took, timeout)
	}

	// The caller's own deadline, if sooner, wins.
	s = New(newClient(t, l.Addr().String()), Options{Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start = time.Now()
	if _, err := s.Add(ctx, "k", time.Now().Add(time.Minute)); err == nil {
		t.Fatal("Add past the caller's deadline succeeded")
	}
	if took := time.Since(start); took > timeout+300*time.Millisecond {
		t.Fatalf("Add took %v past a %v caller deadline", took, timeout)
	}
}

// commandCalls reads INFO commandstats: calls per command, without INFO's own.
func commandCalls(t testing.TB, c *redis.Client) map[string]int {
	t.Helper()
	calls, _ := commandStats(t, c)
	return calls
}

// commandStats reads INFO commandstats: calls and microseconds of server
// time per command, without INFO's own.
func commandStats(t testing.TB, c *redis.Client) (calls, usec map[string]int) {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls, usec = map[string]int{}, map[string]int{}
	for line := range strings.SplitSeq(info, "\r\n") {
		name, rest, ok := strings.Cut(line, ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd || name == "info" {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(field, "=")
			if k != "calls" && k != "usec" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("commandstats line %q: %v", line, err)
			}
			if k == "calls" {
				calls[name] = n
			} else {
				usec[name] = n
			}
		}
	}
	return calls, usec
}

// commandsSince is what the server ran since before, by command.
func commandsSince(t testing.TB, c *redis.Client, before map[string]int) map[string]int {
	t.Helper()
	diff := map[string]int{}
	for name, n := range commandCalls(t, c) {
		if d := n - before[name]; d != 0 {
			diff[name] = d
		}
	}
	return diff
}

// TestAddIsOneCommand proves from the client's and the server's own
// counters that every Add, new key or replay, is one round trip: one
// EVALSHA of the store's script, which the server runs with the commands
// it makes (once loaded: the first Add after Redis starts sends EVALSHA,
// then EVAL on NOSCRIPT).
func TestAddIsOneCommand(t *testing.T) {
	r := startRedis(t)
	c := newClient(t, r.Addr())
	var sent int
	c.AddHook(countHook{&sent})
	s := New(c, Options{})
	mustAdd(t, s, "warm.up", time.Now().Add(time.Minute), true) // the connection's HELLO, the script's load
	admin := newClient(t, r.Addr())
	before := commandCalls(t, admin)
	sent = 0
	const n = 100
	until := time.Now().Add(time.Minute)
	for i := range n {
		mustAdd(t, s, "thumb."+strconv.Itoa(i/2), until, i%2 == 0)
	}
	if sent != n {
		t.Fatalf("%d Adds sent %d commands, want %d", n, sent, n)
	}
	got := commandsSince(t, admin, before)
	if got["evalsha"] != n || got["eval"] != 0 || got["set"] != 0 {
		t.Fatalf("%d Adds ran %v on the server, want %d evalsha and no eval", n, got, n)
	}
}

// BenchmarkAdd reports ns/op for an Add against a real loopback Redis, with
// from a go-redis hook the commands the client sent (round trips) per Add,
// and from the server's INFO commandstats the server time each Add took:
// with the default bound per DPoP key (one script) and with none (one SET).
// The keys are spread over 64 DPoP keys, each proof valid for a minute from
// when it is added.
func BenchmarkAdd(b *testing.B) {
	r := startRedis(b)
	for _, bc := range []struct {
		name  string
		limit int
		cmd   string
	}{{"bound=default", 0, "evalsha"}, {"bound=none", -1, "set"}} {
		b.Run(bc.name, func(b *testing.B) {
			c := newClient(b, r.Addr())
			var sent int
			c.AddHook(countHook{&sent})
			s := New(c, Options{MaxProofsPerKey: bc.limit, Prefix: bc.name + ":"})
			ctx := context.Background()
			if _, err := s.Add(ctx, "warm.up", time.Now().Add(time.Minute)); err != nil {
				b.Fatal(err)
			}
			admin := newClient(b, r.Addr())
			before, usec := commandStats(b, admin)
			sent = 0
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := s.Add(ctx, strconv.Itoa(i%64)+"."+strconv.Itoa(i), time.Now().Add(time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			after, usecAfter := commandStats(b, admin)
			if n := after[bc.cmd] - before[bc.cmd]; n != sent || n != b.N {
				b.Fatalf("%d Adds: client sent %d commands, server ran %d %s", b.N, sent, n, bc.cmd)
			}
			b.ReportMetric(float64(sent)/float64(b.N), "round-trips/op")
			b.ReportMetric(float64(usecAfter[bc.cmd]-usec[bc.cmd])/float64(b.N), "redis-µs/op")
		})
	}
}

// countHook counts the commands the client sends, one per round trip for a
// client that does not pipeline.
type countHook struct{ n *int }

func (countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		*h.n++
		return next(ctx, cmd)
	}
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		*h.n += len(cmds)
		return next(ctx, cmds)
	}
}
