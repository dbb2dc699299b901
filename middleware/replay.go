package middleware

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// This file is the default DPoP.ReplayStore: proof identifiers remembered
// in memory, by one process, until they expire. It is bounded in entries
// and bytes; when it is full of unexpired entries it refuses to add (503),
// since forgetting an identifier early would let its proof be replayed.

// errReplayFull is the cause of ErrReplayStoreFailed when the in-memory
// store is full.
var errReplayFull = errors.New("in-memory DPoP replay store full")

// replayEntryOverhead is what an entry costs besides its key, in bytes: the
// map entry and the heap element, roughly.
const replayEntryOverhead = 96

// memoryReplay is the in-memory ReplayStore.
type memoryReplay struct {
	now                 func() time.Time
	maxEntries, maxSize int

	mu    sync.Mutex
	until map[string]time.Time
	queue replayQueue // by expiry, earliest first
	size  int
}

func newMemoryReplay(now func() time.Time, maxEntries, maxSize int) *memoryReplay {
	return &memoryReplay{now: now, maxEntries: maxEntries, maxSize: maxSize, until: map[string]time.Time{}}
}

// Add implements ReplayStore.
func (m *memoryReplay) Add(_ context.Context, key string, until time.Time) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	if t, ok := m.until[key]; ok && now.Before(t) {
		return false, nil
	}
	cost := len(key) + replayEntryOverhead
	if len(m.until) >= m.maxEntries || m.size+cost > m.maxSize {
		return false, errReplayFull
	}
	m.until[key] = until
	heap.Push(&m.queue, replayEntry{key, until})
	m.size += cost
	return true, nil
}

// expire removes the entries expired at now.
func (m *memoryReplay) expire(now time.Time) {
	for len(m.queue) > 0 && !now.Before(m.queue[0].until) {
		e := heap.Pop(&m.queue).(replayEntry)
		delete(m.until, e.key)
		m.size -= len(e.key) + replayEntryOverhead
	}
}

type replayEntry struct {
	key   string
	until time.Time
}

// replayQueue is a min-heap of entries by expiry (container/heap).
type replayQueue []replayEntry

func (q replayQueue) Len() int           { return len(q) }
func (q replayQueue) Less(i, j int) bool { return q[i].until.Before(q[j].until) }
func (q replayQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *replayQueue) Push(x any)        { *q = append(*q, x.(replayEntry)) }
func (q *replayQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
