package middleware

// Benchmarks of the validator alone. The comparison with other middlewares
// and the bare signature check is in the bench module (../bench).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

const benchAudience = "https://api.example.test"

func benchValidator(b *testing.B, iss *middlewaretest.Issuer, cacheSize int) *Validator {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	v, err := New(ctx, Config{Issuer: iss.URL, Audiences: []string{benchAudience}, TokenCacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	return v
}

func benchToken(iss *middlewaretest.Issuer, alg string) string {
	return iss.Token(middlewaretest.Spec{
		Alg:      alg,
		Machine:  true,
		ClientID: "billing-service",
		Scopes:   []string{"read:users", "write:users"},
		Audience: []string{benchAudience},
	})
}

// BenchmarkValidateToken is Validator.ValidateToken for a valid token,
// without the HTTP layer.
func BenchmarkValidateToken(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	for _, cache := range []struct {
		name string
		size int
	}{{"uncached", -1}, {"cached", 0}} {
		v := benchValidator(b, iss, cache.size)
		for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
			token := benchToken(iss, alg)
			b.Run("alg="+alg+"/impl="+cache.name, func(b *testing.B) {
				ctx := context.Background()
				if _, err := v.ValidateToken(ctx, token); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.ValidateToken(ctx, token); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRequireScope is one request through the net/http middleware,
// with a response recorder, as in the bench module.
func BenchmarkRequireScope(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		w.Write([]byte(c.Subject))
	})
	for _, cache := range []struct {
		name string
		size int
	}{{"uncached", -1}, {"cached", 0}} {
		h := benchValidator(b, iss, cache.size).RequireScope("read:users")(next)
		for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+benchToken(iss, alg))
			b.Run("alg="+alg+"/impl="+cache.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		}
	}
}

// BenchmarkTokenCacheMemory fills a validator's token cache with
// DefaultTokenCacheSize distinct tokens of about the given size (padded in
// a custom claim, or in "sub", which the claims hold a second copy of) and
// reports the heap retained per entry (B/entry, runtime.MemStats around the
// filling, the token string included), the bytes the cache accounts per
// entry against MaxTokenCacheBytes (accounted-B/entry), the entries held,
// and the heap the cache holds at its default limits with such tokens
// (ceiling-MiB): DefaultTokenCacheSize entries, or fewer when their
// accounted bytes reach MaxTokenCacheBytes first.
func BenchmarkTokenCacheMemory(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	for _, pad := range []string{"custom", "sub"} {
		for _, size := range []int{800, 2500, 8000} {
			tokens := make([]string, DefaultTokenCacheSize)
			for i := range tokens {
				tokens[i] = paddedToken(iss, i, size, pad)
			}
			b.Run(fmt.Sprintf("token=%dB/pad=%s", size, pad), func(b *testing.B) {
				var perEntry, accounted, entries float64
				for b.Loop() {
					v := benchValidator(b, iss, 0)
					ctx := context.Background()
					before := heapAfterGC()
					for _, tok := range tokens {
						// A fresh string, as read from a request.
						if _, err := v.ValidateToken(ctx, strings.Clone(tok)); err != nil {
							b.Fatal(err)
						}
					}
					after := heapAfterGC()
					st := v.cache.stats(b)
					entries = float64(st.entries)
					accounted = float64(st.bytes) / entries
					perEntry = float64(after-before) / entries
					runtime.KeepAlive(v)
				}
				b.ReportMetric(perEntry, "B/entry")
				b.ReportMetric(accounted, "accounted-B/entry")
				b.ReportMetric(entries, "entries")
				limit := min(float64(DefaultTokenCacheSize), float64(MaxTokenCacheBytes)/accounted)
				b.ReportMetric(limit*perEntry/(1<<20), "ceiling-MiB")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// paddedToken mints a distinct machine token of about size bytes, padded
// in a custom claim or in "sub".
func paddedToken(iss *middlewaretest.Issuer, i, size int, pad string) string {
	spec := middlewaretest.Spec{
		Alg:      "EdDSA",
		Machine:  true,
		ClientID: fmt.Sprintf("client-%d", i),
		Subject:  fmt.Sprintf("client-%d", i),
		Scopes:   []string{"read:users", "write:users"},
		Audience: []string{benchAudience},
		Claims:   map[string]any{},
	}
	base := len(iss.Token(spec))
	if n := (size - base) * 3 / 4; n > 0 {
		if pad == "sub" {
			spec.Subject += strings.Repeat("u", n)
		} else {
			spec.Claims["https://example.test/tenant"] = strings.Repeat("t", n)
		}
	}
	return iss.Token(spec)
}

func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// The fast decoding of jws.go must read exactly what encoding/json reads.
// These fuzz targets compare it with encoding/json, the decoding it
// replaced on the request path.

// FuzzJOSEHeaderDecoding compares parseHeader with golang-jwt's decoding
// of the header into a map[string]any.
func FuzzJOSEHeaderDecoding(f *testing.F) {
	for _, s := range []string{
		`{"alg":"RS256","kid":"k1","typ":"at+jwt"}`, `null`, `{}`, `[]`, `"x"`, `1`,
		`{"alg":"none","alg":"RS256","kid":null,"typ":null}`, `{"ALG":"RS256","Kid":"x","crit":null}`,
		`{"alg":"R\u0053256","kid":"\u00e9\ud800","enc":1,"typ":["a"]}`, `{"x":{"alg":"no"},"alg":"ES256"}`,
		` { "alg" : "EdDSA" , "kid" : [ "a" , { "b" : "}" } ] } `, `{"alg":"RS256"`, `{"a":"\"}"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		var m map[string]any
		refErr := json.Unmarshal(b, &m)
		if (err != nil) != (refErr != nil) {
			t.Fatalf("%q: error %v, encoding/json %v", b, err, refErr)
		}
		if err != nil {
			return
		}
		alg, algOK := m["alg"].(string)
		kidV, kidSet := m["kid"]
		kid, kidOK := kidV.(string)
		typV := m["typ"]
		typ, typOK := typV.(string)
		_, crit := m["crit"]
		_, enc := m["enc"]
		want := joseHeader{alg: alg, algOK: algOK, kid: kid, kidSet: kidSet, kidOK: kidOK,
			typ: typ, typSet: typV != nil, typOK: typOK, crit: crit, enc: enc}
		if h != want {
			t.Fatalf("%q: %+v, encoding/json %+v", b, h, want)
		}
	})
}

// FuzzPayloadDecoding compares payload.decode with encoding/json into the
// same struct (whose field types keep their own UnmarshalJSON): whatever
// encoding/json refuses is refused, and whatever is accepted reads the same.
// (decode refuses more: claim names that differ only in case, NumericDates
// that are not numbers of a representable time.)
func FuzzPayloadDecoding(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://i","sub":"s","aud":["a",null,"b"],"exp":1795470362.75,"iat":1,"nbf":null,"scope":"a b","scp":"c","client_id":"c","gty":"client-credentials"}`,
		`{"aud":"x","aud":null,"scope":"a","scope":null,"iss":"a","iss":null,"cnf":{"jkt":"x"},"cnf":{}}`,
		`{"nonce":null,"typ":"ID","token_use":"id","at_hash":1,"c_hash":{},"idtyp":"app","azp":"a","cid":"c","appid":"d"}`,
		`{"sub":"\u00e9\ud800x","iss":"caf\u00e9","aud":[1],"exp":"1"}`, `{"Scope":"x"}`, `{"ſcope":"x"}`,
		`{"exp":1e400}`, `{"exp":-62135596801}`, `{"scp":[["a"]]}`, `{"jti":{}}`, `{}`, `[]`, `null`, `{"x":[{"}":"]"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p payload
		err := p.decode(append([]byte(nil), b...))
		type plain payload
		var ref payload
		refErr := json.Unmarshal(b, (*plain)(&ref))
		if refErr != nil || len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] != '{' {
			if err == nil {
				t.Fatalf("%q: accepted; encoding/json: %v", b, refErr)
			}
			return
		}
		if err != nil {
			return // one of decode's own rules
		}
		if !reflect.DeepEqual(normalize(p), normalize(ref)) {
			t.Fatalf("%q:\n%+v\nencoding/json:\n%+v", b, p, ref)
		}
	})
}

// normalize makes payloads comparable: decode keeps raw members as slices
// of the payload, encoding/json as copies; unexported fields (the raw
// payload, decoding notes) are not claims.
func normalize(p payload) payload {
	for _, r := range []*json.RawMessage{&p.Typ, &p.TokenUse, &p.Nonce, &p.AtHash, &p.CHash} {
		if *r != nil {
			*r = append(json.RawMessage{}, *r...)
		}
	}
	v := reflect.ValueOf(&p).Elem()
	for i := range v.NumField() {
		if !v.Type().Field(i).IsExported() {
			f := v.Field(i)
			reflect.NewAt(f.Type(), f.Addr().UnsafePointer()).Elem().SetZero()
		}
	}
	return p
}

// BenchmarkDecode is the decoding of a token without its signature check:
// base64url, the JSON checks and the walk over header and payload.
func BenchmarkDecode(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	token := benchToken(iss, "RS256")
	i := strings.IndexByte(token, '.')
	j := i + 1 + strings.IndexByte(token[i+1:], '.')
	hb, _ := decodeSegment(token[:i])
	pb, _ := decodeSegment(token[i+1 : j])
	b.Run("part=base64", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeSegment(token[i+1 : j]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("part=header", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseHeader(hb); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("part=payload-valid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !json.Valid(pb) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("part=payload", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p payload
			if err := p.decode(pb); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("part=compactJWS", func(b *testing.B) {
		for b.Loop() {
			if !compactJWS(token) {
				b.Fatal("not compact")
			}
		}
	})
}

// FuzzTokenScans compares the table scans of compactJWS and isToken68 with
// the byte-by-byte definitions they replaced.
func FuzzTokenScans(f *testing.F) {
	for _, s := range []string{"a.b.c", "a..c", ".b.c", "a.b.", "a.b.c.d", "abc", "", "a.b.c=", "a+b/c~d==", "==", "a=b",
		"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJlX3NpZ25hdHVyZQ", "a.b.c\x00", "a.b.c\xff", "é.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := compactJWS(s), compactJWSReference(s); got != want {
			t.Fatalf("compactJWS(%q) = %v, want %v", s, got, want)
		}
		if got, want := isToken68(s), isToken68Reference(s); got != want {
			t.Fatalf("isToken68(%q) = %v, want %v", s, got, want)
		}
	})
}

func compactJWSReference(token string) bool {
	dots, last := 0, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			if i == last+1 {
				return false
			}
			dots++
			last = i
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return dots == 2 && last < len(token)-1
}

func isToken68Reference(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
