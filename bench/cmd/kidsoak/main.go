// Command kidsoak runs the chaos soak of issue 16 against bearerguard and
// the hand-written golang-jwt v5 + keyfunc v3 middleware, one after the
// other in the same process, and prints what each answered.
//
// Each run lasts -duration. -workers closed-loop workers call the
// middleware's http.Handler directly (no network), each sending a token
// drawn at random: 80 % valid, 5 % with a forged (random, never repeated)
// kid, 10 % expired, 5 % with a bad signature. During the run the issuer
// publishes a new ES256 key and signs with it at once, four times; its
// JWKS answers 503 for a tenth of the run, and later hangs for a tenth of
// the run. The figures: requests per second, answers to valid tokens (a
// 401 is a valid token refused), latency percentiles outside the outages
// (a request that overlaps an outage, or ends within KeyWait after it, is
// left out), JWKS requests, and how long after its first token each new
// key was first accepted.
//
// Then -seq tokens with distinct unknown kids are sent one after another
// to a fresh instance of each: the time taken and the JWKS requests made.
//
//	go run ./cmd/kidsoak -duration 40s -workers 16
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/keyfunc/v3"

	"github.com/bearerguard/bearerguard/bench"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

func main() {
	duration := flag.Duration("duration", 20*time.Second, "length of each soak run")
	workers := flag.Int("workers", 16, "closed-loop workers")
	seq := flag.Int("seq", 1000, "sequential tokens with distinct unknown kids")
	impls := flag.String("impl", "bearerguard,bearerguard-nocache,handwritten", "implementations, comma-separated")
	rounds := flag.Int("rounds", 1, "rounds: each implementation runs once a round, for duration/rounds, in turn, so that a change in the machine's load hits all alike")
	flag.Parse()

	names := strings.Split(*impls, ",")
	reqs := map[string]int{}
	took := map[string]time.Duration{}
	for round := range *rounds {
		if *rounds > 1 {
			fmt.Printf("#### round %d of %d\n", round+1, *rounds)
		}
		for _, name := range names {
			n, d := soak(name, *duration/time.Duration(*rounds), *workers)
			reqs[name] += n
			took[name] += d
		}
	}
	rps := func(name string) float64 { return float64(reqs[name]) / took[name].Seconds() }
	if took["handwritten"] > 0 {
		for _, name := range names {
			if name != "handwritten" {
				fmt.Printf("throughput over all rounds %s / handwritten: %.0f / %.0f = %.2f\n", name, rps(name), rps("handwritten"), rps(name)/rps("handwritten"))
			}
		}
	}
	fmt.Println()
	for _, name := range strings.Split(*impls, ",") {
		sequential(name, *seq)
	}
}

// build returns the middleware of impl for kit's keys served at jwksURL.
func build(ctx context.Context, impl string, kit *middlewaretest.Issuer, jwksURL string) (http.Handler, error) {
	switch impl {
	case "bearerguard", "bearerguard-nocache":
		size := 0
		if impl == "bearerguard-nocache" {
			size = -1
		}
		v, err := middleware.New(ctx, middleware.Config{
			Issuer:         kit.URL,
			JWKSURL:        jwksURL,
			Audiences:      []string{bench.Audience},
			TokenCacheSize: size,
		})
		if err != nil {
			return nil, err
		}
		if err := v.WaitReady(ctx); err != nil {
			return nil, err
		}
		return v.RequireScope(bench.Scope)(bench.Hello), nil
	case "handwritten":
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{jwksURL})
		if err != nil {
			return nil, err
		}
		return bench.HandWritten(kf.Keyfunc, kit.URL, []string{"ES256"}, bench.Scope)(bench.HandWrittenHello), nil
	}
	return nil, fmt.Errorf("unknown implementation %q", impl)
}

// proxy serves kit's JWKS, counts requests, and can answer 503 or hang.
// A hang holds every request until gate is closed, at the end of the
// outage. kit.SetDelay cannot stand in for it: a request waits the delay
// in force when it arrived, and nothing but kit.Close ends that wait
// early, so a fetch that began late in the outage would still hang after
// it, and the figures outside outages would take in the outage.
type proxy struct {
	*httptest.Server
	n    atomic.Int64
	mode atomic.Int32 // 0 normal, 1 503, 2 hang
	gate chan struct{}
}

func newProxy(kit *middlewaretest.Issuer) *proxy {
	p := &proxy{gate: make(chan struct{})}
	client := kit.Client()
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.n.Add(1)
		switch p.mode.Load() {
		case 1:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		case 2:
			select {
			case <-p.gate:
			case <-r.Context().Done():
				return
			}
		}
		resp, err := client.Get(kit.JWKSURL())
		if err != nil {
			http.Error(w, "upstream", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, resp.Body)
	}))
	return p
}

// pool is the tokens of the current signing key.
type pool struct {
	gen     int
	since   time.Time // first use
	valid   []string
	expired []string
	badSig  []string
}

func newPool(kit *middlewaretest.Issuer, gen int) *pool {
	p := &pool{gen: gen}
	for i := range 64 {
		spec := middlewaretest.Spec{Alg: "ES256", Machine: true, ClientID: "svc", Scopes: []string{bench.Scope}, Audience: []string{bench.Audience}, Subject: fmt.Sprintf("svc-%d", i)}
		p.valid = append(p.valid, kit.Token(spec))
		spec.IssuedAt, spec.Lifetime = time.Now().Add(-2*time.Hour), time.Hour
		p.expired = append(p.expired, kit.Token(spec))
	}
	for _, t := range p.valid[:16] {
		i := strings.LastIndexByte(t, '.')
		sig := []byte(t[i+1:])
		if sig[0] == 'A' {
			sig[0] = 'B'
		} else {
			sig[0] = 'A'
		}
		p.badSig = append(p.badSig, t[:i+1]+string(sig))
	}
	p.since = time.Now()
	return p
}

// forged returns a token naming a random kid, with valid claims and a
// filler signature.
func forged(valid string) string {
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","typ":"at+jwt","kid":"forged-` + rand.Text() + `"}`))
	_, rest, _ := strings.Cut(valid, ".")
	return hdr + "." + rest
}

// recorder is a reusable http.ResponseWriter that keeps the status only.
type recorder struct {
	h    http.Header
	code int
}

func (r *recorder) Header() http.Header { return r.h }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return len(b), nil
}

type result struct {
	kind       byte // 'v' valid, 'f' forged, 'e' expired, 's' bad signature
	gen        int
	status     int
	start, end time.Time
}

type window struct{ from, to time.Time }

func soak(impl string, d time.Duration, workers int) (requests int, took time.Duration) {
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	px := newProxy(kit)
	defer px.Close()
	defer func() {
		select {
		case <-px.gate:
		default:
			close(px.gate)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cur atomic.Pointer[pool]
	cur.Store(newPool(kit, 0))
	h, err := build(ctx, impl, kit, px.URL)
	if err != nil {
		fmt.Fprintln(os.Stderr, impl, err)
		os.Exit(1)
	}
	fetchesBefore := px.n.Load()
	keyWait := middleware.DefaultKeyWait

	stop := make(chan struct{})
	var wg sync.WaitGroup
	results := make([][]result, workers)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := &recorder{h: http.Header{}}
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := cur.Load()
				r := result{gen: p.gen}
				var tok string
				switch n := mrand.IntN(100); {
				case n < 5:
					r.kind, tok = 'f', forged(p.valid[0])
				case n < 15:
					r.kind, tok = 'e', p.expired[mrand.IntN(len(p.expired))]
				case n < 20:
					r.kind, tok = 's', p.badSig[mrand.IntN(len(p.badSig))]
				default:
					r.kind, tok = 'v', p.valid[mrand.IntN(len(p.valid))]
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				rec.code = 0
				clear(rec.h)
				r.start = time.Now()
				h.ServeHTTP(rec, req)
				r.end = time.Now()
				r.status = rec.code
				results[w] = append(results[w], r)
			}
		}()
	}

	// The schedule, as fractions of d.
	var outages []window
	at := func(f float64) { time.Sleep(time.Until(start.Add(time.Duration(f * float64(d))))) }
	rotate := func(gen int) {
		kit.RotateKey("ES256")
		cur.Store(newPool(kit, gen))
	}
	pools := map[int]time.Time{0: cur.Load().since}
	at(0.15)
	rotate(1)
	pools[1] = cur.Load().since
	at(0.30)
	px.mode.Store(1)
	outages = append(outages, window{from: time.Now()})
	at(0.40)
	px.mode.Store(0)
	outages[0].to = time.Now()
	at(0.50)
	rotate(2)
	pools[2] = cur.Load().since
	at(0.60)
	px.mode.Store(2)
	outages = append(outages, window{from: time.Now()})
	at(0.70)
	px.mode.Store(0)
	close(px.gate)
	outages[1].to = time.Now()
	at(0.80)
	rotate(3)
	pools[3] = cur.Load().since
	at(0.90)
	rotate(4)
	pools[4] = cur.Load().since
	at(1)
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	fetches := px.n.Load() - fetchesBefore

	near := func(r result) bool {
		for _, w := range outages {
			if !r.end.Before(w.from) && !r.start.After(w.to.Add(keyWait)) {
				return true
			}
		}
		return false
	}
	var total int
	counts := map[string]int{}
	var calm []time.Duration
	firstOK := map[int]time.Time{}
	type span struct {
		n           int
		first, last time.Time
	}
	unavailable := map[int]*span{} // valid tokens answered 503 outside outages, per key
	for _, rs := range results {
		for _, r := range rs {
			total++
			n := near(r)
			if !n {
				calm = append(calm, r.end.Sub(r.start))
			}
			key := fmt.Sprintf("%c%d", r.kind, r.status)
			if n {
				key += " (outage)"
			}
			counts[key]++
			if r.kind == 'v' && r.status == http.StatusServiceUnavailable && !n {
				sp := unavailable[r.gen]
				if sp == nil {
					sp = &span{first: r.start}
					unavailable[r.gen] = sp
				}
				sp.n++
				sp.last = r.end
			}
			if r.kind == 'v' && r.status == http.StatusOK {
				if f, ok := firstOK[r.gen]; !ok || r.end.Before(f) {
					firstOK[r.gen] = r.end
				}
			}
		}
	}
	slices.Sort(calm)
	pct := func(p float64) time.Duration {
		if len(calm) == 0 {
			return 0
		}
		return calm[min(len(calm)-1, int(float64(len(calm))*p))]
	}
	rps := float64(total) / elapsed.Seconds()
	fmt.Printf("== %s: %v, %d workers\n", impl, elapsed.Round(time.Millisecond), workers)
	fmt.Printf("requests %d (%.0f/s); JWKS requests %d\n", total, rps, fetches)
	fmt.Printf("latency outside outages: p50 %v, p99 %v, p99.9 %v, max %v\n", pct(0.5), pct(0.99), pct(0.999), pct(1))
	validTotal, valid401, valid503, valid503Calm := 0, 0, 0, 0
	for k, n := range counts {
		if k[0] != 'v' {
			continue
		}
		validTotal += n
		switch {
		case strings.HasPrefix(k, "v401"):
			valid401 += n
		case strings.HasPrefix(k, "v503"):
			valid503 += n
			if !strings.Contains(k, "outage") {
				valid503Calm += n
			}
		}
	}
	fmt.Printf("valid tokens %d: answered 401 %d (%.1f %%), 503 %d (%d outside outages)\n", validTotal, valid401, 100*float64(valid401)/float64(max(validTotal, 1)), valid503, valid503Calm)
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var line []string
	for _, k := range keys {
		line = append(line, fmt.Sprintf("%s:%d", k, counts[k]))
	}
	fmt.Printf("answers (kind v/f/e/s + status): %s\n", strings.Join(line, " "))
	var lags []string
	for gen := 1; gen <= 4; gen++ {
		if f, ok := firstOK[gen]; ok {
			lags = append(lags, fmt.Sprintf("key %d: %v", gen, f.Sub(pools[gen]).Round(time.Millisecond)))
		} else {
			lags = append(lags, fmt.Sprintf("key %d: never", gen))
		}
	}
	fmt.Printf("new key first accepted after its first token: %s\n", strings.Join(lags, ", "))
	for gen := 0; gen <= 4; gen++ {
		if sp := unavailable[gen]; sp != nil {
			fmt.Printf("key %d: %d valid tokens answered 503 outside outages, from %v to %v after its first token\n",
				gen, sp.n, sp.first.Sub(pools[gen]).Round(time.Millisecond), sp.last.Sub(pools[gen]).Round(time.Millisecond))
		}
	}
	fmt.Println()
	return total, elapsed
}

// sequential sends n tokens with distinct unknown kids, one after
// another, to a fresh instance of impl.
func sequential(impl string, n int) {
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	px := newProxy(kit)
	defer px.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, err := build(ctx, impl, kit, px.URL)
	if err != nil {
		fmt.Fprintln(os.Stderr, impl, err)
		os.Exit(1)
	}
	valid := kit.Token(middlewaretest.Spec{Alg: "ES256", Scopes: []string{bench.Scope}, Audience: []string{bench.Audience}})
	before := px.n.Load()
	statuses := map[int]int{}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	start := time.Now()
	for range n {
		rec := httptest.NewRecorder()
		req.Header.Set("Authorization", "Bearer "+forged(valid))
		h.ServeHTTP(rec, req)
		statuses[rec.Code]++
	}
	fmt.Printf("== %s: %d sequential distinct unknown kids in %v, %d JWKS requests, answers %v\n",
		impl, n, time.Since(start).Round(time.Millisecond), px.n.Load()-before, statuses)
}
