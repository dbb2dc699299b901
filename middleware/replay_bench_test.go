package middleware

import (
	"container/heap"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkReplayAdd measures one Add of a fresh proof to the in-memory
// replay store, from 4096 DPoP keys, in steady state: the clock moves on
// 100 µs per Add (10 000 proofs per second), each proof is remembered for
// the default window, so entries keep expiring. "sharded" is the store,
// "heap+lock" the one it replaced (one map, one heap, one global lock),
// unbounded here so that it does not fill. "serial" runs one goroutine,
// "parallel" GOMAXPROCS of them (run with -cpu 1,2,4... to see scaling).
func BenchmarkReplayAdd(b *testing.B) {
	window := replayWindow(&Config{})
	const tick = int64(time.Second / DefaultReplayRate)
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	stores := []struct {
		name string
		make func(now func() time.Time) ReplayStore
	}{
		{"sharded", func(now func() time.Time) ReplayStore {
			return newMemoryReplay(now, window, DefaultReplayRate, DefaultReplayBytes)
		}},
		{"heap+lock", func(now func() time.Time) ReplayStore {
			return &heapReplay{now: now, until: map[string]time.Time{}}
		}},
	}
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "thumbprint-" + strconv.Itoa(i%4096) + ".jti-hash-" + strconv.Itoa(i)
	}
	for _, st := range stores {
		b.Run("store="+st.name+"/serial", func(b *testing.B) {
			nanos := start
			now := func() time.Time { return time.Unix(0, nanos) }
			s := st.make(now)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				// Each round of keys is a new generation of jti.
				key := keys[i&(len(keys)-1)] + "." + strconv.Itoa(i>>16)
				if ok, err := s.Add(ctx, key, now().Add(window)); !ok || err != nil {
					b.Fatalf("add %d: %v %v", i, ok, err)
				}
				nanos += tick
			}
		})
		b.Run("store="+st.name+"/parallel", func(b *testing.B) {
			var nanos atomic.Int64
			nanos.Store(start)
			now := func() time.Time { return time.Unix(0, nanos.Load()) }
			s := st.make(now)
			ctx := context.Background()
			var worker atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := strconv.Itoa(int(worker.Add(1)))
				for i := 0; pb.Next(); i++ {
					key := keys[i&(len(keys)-1)] + "." + w + "." + strconv.Itoa(i>>16)
					if ok, err := s.Add(ctx, key, now().Add(window)); !ok || err != nil {
						b.Fatalf("add %d: %v %v", i, ok, err)
					}
					if i%64 == 0 { // the clock's own contention kept out of the way
						nanos.Add(64 * tick)
					}
				}
			})
		})
	}
}

// heapReplay is the in-memory store before this one, for comparison only:
// the jti strings in one map, their expiries in a heap, one lock.
type heapReplay struct {
	now   func() time.Time
	mu    sync.Mutex
	until map[string]time.Time
	queue heapReplayQueue
}

func (m *heapReplay) Add(_ context.Context, key string, until time.Time) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.queue) > 0 && !now.Before(m.queue[0].until) {
		e := heap.Pop(&m.queue).(heapReplayEntry)
		delete(m.until, e.key)
	}
	if t, ok := m.until[key]; ok && now.Before(t) {
		return false, nil
	}
	m.until[key] = until
	heap.Push(&m.queue, heapReplayEntry{key, until})
	return true, nil
}

type heapReplayEntry struct {
	key   string
	until time.Time
}

type heapReplayQueue []heapReplayEntry

func (q heapReplayQueue) Len() int           { return len(q) }
func (q heapReplayQueue) Less(i, j int) bool { return q[i].until.Before(q[j].until) }
func (q heapReplayQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *heapReplayQueue) Push(x any)        { *q = append(*q, x.(heapReplayEntry)) }
func (q *heapReplayQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
