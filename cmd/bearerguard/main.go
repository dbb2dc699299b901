package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Exit codes, see the package documentation.
const (
	exitOK          = 0
	exitRefused     = 1
	exitUsage       = 2
	exitUnavailable = 3
)

// env is what tests replace: the clock and the HTTP client of the
// validator, and the environment variables. The zero env is the real one.
type env struct {
	now    func() time.Time
	client *http.Client
	vars   map[string]string // nil: os.Getenv
}

// getenv returns the environment variable key.
func (e env) getenv(key string) string {
	if e.vars != nil {
		return e.vars[key]
	}
	return os.Getenv(key)
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, env{}))
}

const usage = `usage:
  bearerguard explain -issuer URL... -audience AUD... [-client-id ID]... [-jwks-url URL]
      [-scope S]... [-scope-claim C]... [-claim CLAIM=VALUES]...
      [-acr-values ACR]... [-max-age D] [-acr-claim C]
      [-method M] [-url URL] [-dpop-proof FILE] [-dpop allowed|required] [-public-base-url URL] [-client-cert FILE]
      [-introspect] [-introspection-endpoint URL] [-introspection-auth-method M]
      [TOKEN]
  bearerguard decode [TOKEN]
The token is read from standard input when not given (or given as -).
With -introspect, the client id and secret are read from
BEARERGUARD_INTROSPECTION_CLIENT_ID and BEARERGUARD_INTROSPECTION_CLIENT_SECRET.
Run "bearerguard explain -h" for every flag.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, e env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "explain":
		return explain(ctx, args[1:], stdin, stdout, stderr, e)
	case "decode":
		return decode(args[1:], stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "bearerguard: unknown command %q\n%s", args[0], usage)
	return exitUsage
}

// readToken returns the token of arg, or of stdin when arg is "" or "-".
func readToken(arg string, stdin io.Reader) (string, error) {
	if arg != "" && arg != "-" {
		return arg, nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
	if err != nil {
		return "", err
	}
	tok := string(trimSpace(b))
	if tok == "" {
		return "", fmt.Errorf("no token on standard input")
	}
	return tok, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
