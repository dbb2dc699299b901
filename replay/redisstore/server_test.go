package redisstore

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// readyTimeout bounds how long redisServer.Start waits for PONG and Stop for
// the process to exit.
const readyTimeout = 15 * time.Second

// redisServer is Debian's redis-server as a child process on a loopback port,
// with persistence off and its files in a temporary directory. Stop and Start
// reuse the port, as a Redis restart would.
type redisServer struct {
	t    testing.TB
	port int
	dir  string
	logs syncBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts redis-server on a free loopback port and stops it when
// the test ends. Without redis-server the test is skipped, or fails when
// CI=true.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		msg := "redisstore: redis-server not installed; run: sudo apt-get install -y --no-install-recommends redis-server (or bash .ci/install-interop.sh)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	r := &redisServer{t: t, port: reservePort(t), dir: t.TempDir()}
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("redis-server log:\n%s", r.logs.String())
		}
	})
	r.Start()
	return r
}

// Addr is host:port of the server.
func (r *redisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func reservePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("reserve port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs the server and waits until it answers PING. A running server is
// left as it is.
func (r *redisServer) Start() {
	r.t.Helper()
	r.mu.Lock()
	if r.cmd != nil {
		r.mu.Unlock()
		return
	}
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--dir", r.dir, "--daemonize", "no", "--logfile", "")
	cmd.Stdout, cmd.Stderr = &r.logs, &r.logs
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		r.t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(&r.logs, "--- redis-server (pid %d) exited: %v\n", cmd.Process.Pid, err)
		close(done)
	}()

	deadline := time.Now().Add(readyTimeout)
	for {
		err := r.ping()
		if err == nil {
			return
		}
		select {
		case <-done:
			r.t.Fatalf("redis-server exited before answering PING")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.Stop()
			r.t.Fatalf("redis-server not answering PING within %v: %v", readyTimeout, err)
		}
	}
}

// ping sends one PING in RESP over a fresh connection.
func (r *redisServer) ping() error {
	c, err := net.DialTimeout("tcp", r.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Stop kills the server by its PID, as in an outage, and waits (bounded)
// until it has exited. Stopping a stopped server is a no-op.
func (r *redisServer) Stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd, r.done = nil, nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(readyTimeout):
		r.t.Errorf("redis-server (pid %d) did not exit after kill", cmd.Process.Pid)
	}
}

// Version is the server's version, from redis-server --version.
func redisVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "unknown"
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return strings.TrimSpace(string(out))
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
