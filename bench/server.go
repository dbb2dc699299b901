package bench

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

// RunServer is the body of the load-test servers in cmd/: it starts a test
// issuer, builds the handler, listens on a loopback port and prints one
// line, "URL TOKEN", with a valid token for the -alg flag, then serves
// until SIGINT or SIGTERM. run.sh points wrk at the URL with that token.
func RunServer(build func(ctx context.Context, f *Fixture, alg string) (http.Handler, error)) {
	alg := flag.String("alg", "RS256", "algorithm of the token: RS256, ES256 or EdDSA")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		out, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	f := NewFixture()
	defer f.Close()
	token, ok := f.Tokens[*alg]
	if !ok {
		log.Fatalf("unknown -alg %q", *alg)
	}
	h, err := build(ctx, f, *alg)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	url := "http://" + ln.Addr().String() + "/"
	// One warm-up request: keys fetched, cache filled, the answer checked.
	go func() {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			log.Fatalf("warm-up request: status %d", resp.StatusCode)
		}
		fmt.Fprintln(os.Stdout, url, token)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
