package jsonscan

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
)

// The walker must read exactly what encoding/json reads. These fuzz
// targets compare it with encoding/json, never with itself.

var objectSeeds = []string{
	`{"alg":"RS256","kid":"k1","typ":"at+jwt"}`, `{}`, ` { } `, `null`, `[]`, `"x"`, `1`, ``,
	`{"iss":"https://i","aud":["a",null,"b"],"exp":1795470362.75,"cnf":{"jkt":"x"},"scp":"a b"}`,
	`{"scp":"admin","scp":null}`, `{"a":1,"\u0061":2}`, `{"a":1,"A":2}`, `{"\ud800":1,"\udc00":2}`,
	"{\"\xff\":1,\"\xfe\":2}", `{"é":1,"\u00e9":2}`, `{"x":{"a":1,"a":2}}`, `{"a":"\"}","b":"\\"}`,
	` { "alg" : "EdDSA" , "kid" : [ "a" , { "b" : "}" } ] } `, `{"alg":"RS256"`, `{"a":1}x`,
	`{"m0":0,"m1":1,"m2":2,"m3":3,"m4":4,"m5":5,"m6":6,"m7":7,"m8":8,"m9":9,"m10":10,"m11":11,"m12":12,"m13":13,"m14":14,"m15":15,"m16":16,"m3":null}`,
}

// referenceObject decodes b with encoding/json into a map, and walks it
// with a json.Decoder for the members in order and for duplicate names.
func referenceObject(b []byte) (members []member, ok bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m == nil { // nil: the document null
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		panic("encoding/json: object without '{'")
	}
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			panic(err)
		}
		name := tok.(string)
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			panic(err)
		}
		if seen[name] {
			return nil, false
		}
		seen[name] = true
		members = append(members, member{name, string(v)})
	}
	if tok, err := d.Token(); err != nil || tok != json.Delim('}') {
		panic("encoding/json: object without '}'")
	}
	if _, err := d.Token(); err != io.EOF {
		panic("encoding/json: data after the object")
	}
	return members, true
}

// FuzzObject: Object accepts what encoding/json decodes into a
// map[string]json.RawMessage without duplicate names, and hands out the
// same names and values in the same order; String and Array read each
// value as encoding/json does.
func FuzzObject(f *testing.F) {
	for _, s := range objectSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := slices.Clone(b)
		got, err := members(b)
		want, ok := referenceObject(orig)
		if (err == nil) != ok {
			t.Fatalf("%q: error %v; encoding/json accepts: %v", b, err, ok)
		}
		if !bytes.Equal(b, orig) {
			t.Fatalf("%q: input changed", orig)
		}
		if !ok {
			return
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q:\n%q\nencoding/json:\n%q", b, got, want)
		}
		for _, m := range got {
			checkString(t, []byte(m.value))
			checkArray(t, []byte(m.value))
		}
	})
}

// FuzzValue: String and Array on arbitrary input never panic and agree
// with encoding/json.
func FuzzValue(f *testing.F) {
	for _, s := range []string{`""`, `"abc"`, `"a\/b\u00e9\n"`, `"\ud800"`, "\"\xff\"", "\"a\tb\"", `"a"b"`,
		`"a\"`, ` "a"`, `"`, ``, `null`, ` null `, `1`, `[]`, ` [ "a" , null , [1] ] `, `[1,]`, `["]"]`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		checkString(t, v)
		checkArray(t, v)
		var x any
		refNull := json.Unmarshal(v, &x) == nil && x == nil
		if IsNull(v) != refNull {
			t.Fatalf("IsNull(%q) = %v", v, !refNull)
		}
	})
}

func checkString(t *testing.T, v []byte) {
	t.Helper()
	s, err := String(v)
	var ref string
	refOK := len(v) > 0 && v[0] == '"' && v[len(v)-1] == '"' && json.Unmarshal(v, &ref) == nil
	if (err == nil) != refOK || s != ref {
		t.Fatalf("String(%q) = %q, %v; encoding/json %q, %v", v, s, err, ref, refOK)
	}
}

func checkArray(t *testing.T, v []byte) {
	t.Helper()
	var got []string
	err := Array(v, func(e []byte) error { got = append(got, string(e)); return nil })
	var ref []json.RawMessage
	refOK := json.Unmarshal(v, &ref) == nil && strings.HasPrefix(strings.TrimLeft(string(v), " \t\r\n"), "[")
	if (err == nil) != refOK {
		t.Fatalf("Array(%q): %v; encoding/json accepts: %v", v, err, refOK)
	}
	if !refOK {
		return
	}
	want := make([]string, len(ref))
	for i, e := range ref {
		want[i] = string(e)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Array(%q) = %q; encoding/json %q", v, got, want)
	}
}

// FuzzValid: valid, the one-pass syntax check behind Object and Array,
// accepts exactly what json.Valid accepts.
func FuzzValid(f *testing.F) {
	for _, s := range objectSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{`0`, `-0`, `01`, `-`, `1.`, `1.5e`, `1E+5`, `1e-0`, `.5`, `+1`, `[1,2,]`, `[,]`, `{"a"}`,
		`{"a":}`, `{,}`, `{"a":1,}`, `tru`, `true`, `truex`, `nul`, `"\u12G4"`, `"\x"`, "\"\x1f\"", "\"\x7f\"",
		`[[[[]]]]`, `[{"a":[{"b":[]}]}]`, ` [ 1 , "x" , null ] `, "\ufeff{}", `{"a":1}` + "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m spans
		if got, want := valid(b, &m), json.Valid(b); got != want {
			t.Fatalf("valid(%q) = %v, json.Valid %v", b, got, want)
		}
	})
}
