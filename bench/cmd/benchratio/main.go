// Command benchratio reads `go test -bench` output of this module's
// BenchmarkVerify and BenchmarkPaired (any -count) and prints, per
// algorithm, each implementation's cost as a multiple of the bare signature
// check, its allocations, and the target of issue 20 where there is one.
//
//	go test -run '^$' -bench . -count 6 | tee out.txt
//	go run ./cmd/benchratio out.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Targets of issue 20, as multiples of bare verify of the same algorithm;
// cached hits are measured against bare RS256. The allocation target is
// for bearerguard's own allocations: the request's, less the harness's
// (handler and recorder) and the bare check's.
var uncachedTarget = map[string]float64{"RS256": 1.15, "ES256": 1.10, "EdDSA": 1.10}

const (
	cachedTarget = 0.05
	allocsTarget = 20
)

type key struct{ family, alg, impl string }

type samples map[string][]float64 // unit → values

func main() {
	var in io.Reader = os.Stdin
	if len(os.Args) > 1 {
		var readers []io.Reader
		for _, name := range os.Args[1:] {
			f, err := os.Open(name)
			if err != nil {
				log.Fatal(err)
			}
			defer f.Close()
			readers = append(readers, f)
		}
		in = io.MultiReader(readers...)
	}
	data := map[key]samples{}
	var algs, impls []string
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		family, name, ok := strings.Cut(fields[0], "/")
		if !ok || (family != "BenchmarkVerify" && family != "BenchmarkPaired") {
			continue
		}
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // GOMAXPROCS suffix
		}
		k := key{family: family}
		for _, part := range strings.Split(name, "/") {
			if v, ok := strings.CutPrefix(part, "alg="); ok {
				k.alg = v
			} else if v, ok := strings.CutPrefix(part, "impl="); ok {
				k.impl = v
			}
		}
		if k.alg == "" || k.impl == "" {
			continue
		}
		if !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
		if !slices.Contains(impls, k.impl) {
			impls = append(impls, k.impl)
		}
		if data[k] == nil {
			data[k] = samples{}
		}
		for i := 2; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				data[k][fields[i+1]] = append(data[k][fields[i+1]], v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	if len(algs) == 0 {
		log.Fatal("no BenchmarkVerify or BenchmarkPaired results in the input")
	}
	// The bare RS256 check of BenchmarkVerify, for a cached row without a
	// paired ratio.
	bareRS256 := data[key{"BenchmarkVerify", "RS256", "bare"}]["ns/op"]

	fmt.Println("ns/op, allocs/op, B/op: BenchmarkVerify, median of the runs (the harness rows: handler and recorder alone).")
	fmt.Println("× bare: BenchmarkPaired, the request's time over the bare check's, both timed in the same iterations,")
	fmt.Println("as the ratio of the medians of the per-iteration times (x-bare-med) where reported, else of the sums;")
	fmt.Println("median of the runs [lowest–highest]. × bare (apart): the same from the BenchmarkVerify medians.")
	fmt.Println("own allocs: allocs/op less the harness row's and the bare check's.")
	fmt.Println("Targets (issue 20): uncached ≤ 1.15× RS256, 1.10× ES256 and EdDSA, ≤ 20 own allocs; cached ≤ 0.05× bare RS256.")
	fmt.Println()
	fmt.Println("| alg | impl | ns/op | × bare | × bare (apart) | allocs/op | own allocs | B/op | target | met |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
	for _, alg := range algs {
		bare := data[key{"BenchmarkVerify", alg, "bare"}]["ns/op"]
		bareAllocs := data[key{"BenchmarkVerify", alg, "bare"}]["allocs/op"]
		for _, impl := range impls {
			v := data[key{"BenchmarkVerify", alg, impl}]
			p := data[key{"BenchmarkPaired", alg, impl}]
			if v == nil && p == nil {
				continue
			}
			ns := median(v["ns/op"])
			allocs, bytes := median(v["allocs/op"]), median(v["B/op"])
			// Allocations come from BenchmarkVerify only: without it
			// (BENCH=Paired) they are not judged.
			measured := len(v["allocs/op"]) > 0
			// A cache hit checks no signature: its own allocations are
			// the request's less the harness's.
			own := allocs - median(data[key{"BenchmarkVerify", alg, harnessOf(impl)}]["allocs/op"])
			if !strings.HasSuffix(impl, "-cached") {
				own -= median(bareAllocs)
			}
			apart := ns / median(bare)
			paired, rangeText := apart, "–"
			x := p["x-bare-med"]
			if len(x) == 0 {
				x = p["x-bare"]
			}
			if len(x) > 0 {
				paired = median(x)
				rangeText = fmt.Sprintf("%.3f [%.3f–%.3f]", paired, slices.Min(x), slices.Max(x))
			}
			if impl == "bare" {
				rangeText = "1"
			}
			target, met := "", ""
			switch {
			case strings.HasSuffix(impl, "bearerguard-uncached"):
				t := uncachedTarget[alg]
				target = fmt.Sprintf("≤ %.2f×, ≤ %d own allocs", t, allocsTarget)
				met = yesNo(paired <= t && (!measured || own <= allocsTarget))
				if !measured {
					met += " (allocs not measured)"
				}
			case strings.HasSuffix(impl, "bearerguard-cached") && alg == "RS256":
				// The paired ratio, else the medians of the runs. (A hit
				// costs the same whatever the algorithm: the other rows
				// are not judged.)
				x := paired
				if len(p["x-bare-med"])+len(p["x-bare"]) == 0 {
					x = ns / median(bareRS256)
				}
				target = fmt.Sprintf("≤ %.2f× bare RS256: %.3f×", cachedTarget, x)
				met = yesNo(x <= cachedTarget)
			}
			ownText := "–"
			if measured && strings.Contains(impl, "bearerguard") {
				ownText = fmt.Sprintf("%.0f", own)
			}
			nsText, apartText, allocsText, bytesText := "–", "–", "–", "–"
			if len(v["ns/op"]) > 0 { // BenchmarkVerify ran
				nsText, apartText = fmt.Sprintf("%.0f", ns), fmt.Sprintf("%.3f", apart)
			}
			if measured {
				allocsText, bytesText = fmt.Sprintf("%.0f", allocs), fmt.Sprintf("%.0f", bytes)
			}
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				alg, impl, nsText, rangeText, apartText, allocsText, ownText, bytesText, target, met)
		}
	}
}

// harnessOf names the harness row of impl: the same framework without
// authentication.
func harnessOf(impl string) string {
	if fw, _, ok := strings.Cut(impl, "-bearerguard"); ok && fw != "" {
		return fw + "-harness"
	}
	return "harness"
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
