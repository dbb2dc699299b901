package middleware

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestReplayLongProofLifetime holds SECURITY.md's figures for
// DPoP.ProofLifetime 5 min, no nonces, DefaultReplayRate proofs a second
// into the default in-memory store: from 4096 keys they all fit, within
// DefaultReplayBytes (about 60.5 MiB); with half of them each from a key
// of its own, the store is full, and refuses, after about three quarters
// of the window (ProofLifetime and twice the leeway: 6 min).
func TestReplayLongProofLifetime(t *testing.T) {
	if testing.Short() {
		t.Skip("millions of proofs")
	}
	t.Parallel()
	window := replayWindow(&Config{DPoP: DPoP{ProofLifetime: 5 * time.Minute}})
	run := func(t *testing.T, key func(i int) string) (refusedAt float64, peak int64) {
		start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		clock := &replayClock{start}
		m := newMemoryReplay(clock.now, window, DefaultReplayRate, DefaultReplayBytes)
		tick := time.Second / DefaultReplayRate
		total := int((window + 2*time.Duration(m.span)) / tick)
		for i := range total {
			ok, err := m.Add(context.Background(), key(i), clock.t.Add(window))
			if err != nil || !ok {
				return float64(clock.t.Sub(start)) / float64(window), peak
			}
			peak = max(peak, m.bytes.Load())
			clock.t = clock.t.Add(tick)
		}
		return 0, peak
	}
	t.Run("4096 keys", func(t *testing.T) {
		at, peak := run(t, func(i int) string { return strconv.Itoa(i%4096) + "." + strconv.Itoa(i) })
		if at != 0 {
			t.Fatalf("refused after %.2f of the window", at)
		}
		if peak > DefaultReplayBytes || peak < DefaultReplayBytes*85/100 {
			t.Fatalf("peak %d bytes, want just within %d", peak, DefaultReplayBytes)
		}
		t.Logf("peak %.1f MiB", float64(peak)/(1<<20))
	})
	t.Run("half from keys of their own", func(t *testing.T) {
		at, _ := run(t, func(i int) string {
			if i%2 == 0 {
				return strconv.Itoa(i%4096) + "." + strconv.Itoa(i)
			}
			return strconv.Itoa(i)
		})
		if at < 0.7 || at > 0.85 {
			t.Fatalf("first refusal after %.2f of the window, want about three quarters", at)
		}
		t.Logf("full after %.2f of the window", at)
	})
}
