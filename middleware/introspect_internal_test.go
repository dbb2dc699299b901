package middleware

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzIntrospectionAnswer: an introspection answer (RFC 7662 §2.2) is read
// only when encoding/json reads it too, with the same "active", and never
// when it has a member that encoding/json would read as "active" or
// "token_type" without being it; the claims decoding of an answer never
// panics.
func FuzzIntrospectionAnswer(f *testing.F) {
	for _, s := range []string{
		`{"active":true,"scope":"read write","client_id":"c","exp":1900000000,"token_type":"Bearer"}`,
		`{"active":false}`, `{"active":"true"}`, `{"active":null}`, `{}`, `[]`, `null`, `true`,
		`{"active":true,"active":false}`, `{"active":true,"aud":["a",1]}`, `{"active":true,"cnf":{"jkt":"x"}}`,
		`{"active":true,"exp":"1"}`, `{"Active":true}`, `{"active":true,"token_type":7}`,
		`{"active":true,"ACTIVE":false}`, `{"active":true,"Token_Type":"refresh_token"}`, `{"active":true,"to\u212aen_type":"x"}`,
		`{"active":true,"iss":""}`, `{"active":true,"token_type":"DPoP","cnf":{"jkt":"x"}}`, `{"active":true,"cnf":{"kid":"k"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		active, tokenType, err := decodeAnswer(b)
		if err == nil {
			var m map[string]json.RawMessage
			if json.Unmarshal(b, &m) != nil {
				t.Fatalf("%q: read as an answer; encoding/json refuses it", b)
			}
			var want bool
			if json.Unmarshal(m["active"], &want) != nil || want != active {
				t.Fatalf("%q: active %v; encoding/json reads %s", b, active, m["active"])
			}
			if tokenType != nil && m["token_type"] == nil {
				t.Fatalf("%q: token_type %q that encoding/json does not see", b, tokenType)
			}
			for name := range m {
				for _, want := range []string{"active", "token_type"} {
					if name != want && strings.EqualFold(name, want) {
						t.Fatalf("%q: read as an answer with member %q beside %q", b, name, want)
					}
				}
			}
		}
		var p payload
		_ = p.decode(append([]byte(nil), b...))
	})
}
