package middleware

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/bearerguard/bearerguard/claims"
)

// TestCopyClaimsSizes: a request's copy of cached claims shares nothing a
// handler may change, whatever the payload's size: none (nil), empty (-1),
// at each edge of the buffers allocated with the struct, and beyond them.
func TestCopyClaimsSizes(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 255, 256, 257, 512, 513, 1024, 1025, 2048, 2049, 10000} {
		for _, lists := range []int{0, 1, 6, 7, 20} {
			t.Run(fmt.Sprintf("payload=%d/lists=%d", n, lists), func(t *testing.T) {
				src := &claims.Claims{Subject: "s", Payload: bytes.Repeat([]byte{'p'}, max(n, 0))}
				switch n {
				case -1:
					src.Payload = []byte{} // empty, not nil: the copy keeps the difference
				case 0:
					src.Payload = nil
				}
				for i := range lists {
					src.Audience = append(src.Audience, fmt.Sprint("aud", i))
					src.Scopes = append(src.Scopes, fmt.Sprint("scope", i))
				}
				a, b := copyClaims(src), copyClaims(src)
				if !bytes.Equal(a.Payload, src.Payload) || (a.Payload == nil) != (src.Payload == nil) ||
					!slices.Equal(a.Audience, src.Audience) || !slices.Equal(a.Scopes, src.Scopes) || a.Subject != "s" {
					t.Fatalf("copy differs: %d payload bytes, %q %q", len(a.Payload), a.Audience, a.Scopes)
				}
				if cap(a.Payload) != len(a.Payload) || cap(a.Audience) != len(a.Audience) || cap(a.Scopes) != len(a.Scopes) {
					t.Fatal("a copy's slices have room to append into")
				}
				for i := range a.Payload {
					a.Payload[i] = 'x'
				}
				for i := range a.Audience {
					a.Audience[i], a.Scopes[i] = "x", "x"
				}
				a.Payload = append(a.Payload, 'y')
				a.Audience = append(a.Audience, "y")
				a.Scopes = append(a.Scopes, "y")
				for _, c := range []*claims.Claims{src, b} {
					if bytes.ContainsAny(c.Payload, "xy") || slices.Contains(c.Audience, "x") ||
						slices.Contains(c.Scopes, "x") || len(c.Payload) != len(src.Payload) || len(c.Audience) != lists {
						t.Fatal("a change to one copy reached the cached claims or another copy")
					}
				}
			})
		}
	}
}

// TestCopyClaimsAllocs holds copyClaims' promise: one allocation for a
// payload of up to 2 KiB and up to six audience and scope entries, a second
// one beyond either.
func TestCopyClaimsAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation changes allocation counts")
	}
	for _, tc := range []struct {
		payload, lists int
		want           float64
	}{
		{0, 3, 1}, {1, 3, 1}, {256, 3, 1}, {257, 3, 1}, {512, 0, 1}, {513, 3, 1},
		{1024, 3, 1}, {1025, 3, 1}, {2048, 3, 1}, {2049, 3, 2}, {100, 4, 2},
	} {
		src := &claims.Claims{Subject: "s", Payload: bytes.Repeat([]byte{'p'}, tc.payload)}
		for i := range tc.lists {
			src.Audience = append(src.Audience, fmt.Sprint("aud", i))
			src.Scopes = append(src.Scopes, fmt.Sprint("scope", i))
		}
		var sink *claims.Claims
		if got := testing.AllocsPerRun(100, func() { sink = copyClaims(src) }); got != tc.want {
			t.Errorf("payload %d bytes, %d audiences and %d scopes: %v allocations, want %v", tc.payload, tc.lists, tc.lists, got, tc.want)
		}
		_ = sink
	}
}
