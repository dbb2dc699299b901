package middleware

import (
	"encoding/json"
	"testing"
)

// FuzzIntrospectionAnswer: an introspection answer (RFC 7662 §2.2) is read
// only when encoding/json reads it too, with the same "active", and the
// claims decoding of an answer never panics.
func FuzzIntrospectionAnswer(f *testing.F) {
	for _, s := range []string{
		`{"active":true,"scope":"read write","client_id":"c","exp":1900000000,"token_type":"Bearer"}`,
		`{"active":false}`, `{"active":"true"}`, `{"active":null}`, `{}`, `[]`, `null`, `true`,
		`{"active":true,"active":false}`, `{"active":true,"aud":["a",1]}`, `{"active":true,"cnf":{"jkt":"x"}}`,
		`{"active":true,"exp":"1"}`, `{"Active":true}`, `{"active":true,"token_type":7}`,
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
		}
		var p payload
		_ = p.decode(append([]byte(nil), b...))
	})
}
