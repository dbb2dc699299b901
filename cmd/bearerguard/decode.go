package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
)

// decode prints a token's header and claims, unverified.
func decode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil || fs.NArg() > 1 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	token, err := readToken(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "bearerguard decode: %v\n", err)
		return exitUsage
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		fmt.Fprintf(stderr, "bearerguard decode: not a compact JWS: %d parts, want 3\n", len(parts))
		return exitRefused
	}
	fmt.Fprintln(stdout, "UNVERIFIED: decoded without checking signature, issuer, audience or times;")
	fmt.Fprintln(stdout, "use \"bearerguard explain\" to check the token.")
	for i, name := range []string{"header", "claims"} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			fmt.Fprintf(stderr, "bearerguard decode: %s: not base64url without padding\n", name)
			return exitRefused
		}
		var out bytes.Buffer
		if err := json.Indent(&out, raw, "", "  "); err != nil {
			fmt.Fprintf(stderr, "bearerguard decode: %s: not JSON: %v\n", name, err)
			return exitRefused
		}
		fmt.Fprintf(stdout, "%s (UNVERIFIED):\n%s\n", name, out.String())
	}
	return exitOK
}
