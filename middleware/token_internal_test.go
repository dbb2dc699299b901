package middleware

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/internal/jsonscan"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/golang-jwt/jwt/v5"
)

// rawToken assembles a compact JWS of raw header and payload JSON with a
// signature that is never checked here.
func rawToken(header, payload string) string {
	e := base64.RawURLEncoding.EncodeToString
	return e([]byte(header)) + "." + e([]byte(payload)) + "." + e([]byte("signature"))
}

// TestParseTokenDuplicateNames: a JOSE header or claims set with two
// members of the same decoded name is malformed (RFC 7515 §4, RFC 7519 §4),
// whatever the name and whichever value comes last: encoding/json (and so
// claims.Lookup, Map and Decode) keeps the last value, other readers the
// first.
func TestParseTokenDuplicateNames(t *testing.T) {
	const hdr = `{"alg":"RS256","kid":"k1","typ":"at+jwt"}`
	const claims = `"iss":"https://issuer.example","sub":"user","aud":"https://api.example","exp":4102444800`
	for name, c := range map[string]struct{ header, payload string }{
		"scp":                  {hdr, `{` + claims + `,"scp":"admin","scp":null}`},
		"aud":                  {hdr, `{` + claims + `,"aud":null}`},
		"iss":                  {hdr, `{` + claims + `,"iss":null}`},
		"client_id":            {hdr, `{` + claims + `,"client_id":"c","client_id":null}`},
		"sub":                  {hdr, `{` + claims + `,"sub":null}`},
		"azp":                  {hdr, `{` + claims + `,"azp":"c","azp":null}`},
		"gty":                  {hdr, `{` + claims + `,"gty":"client-credentials","gty":null}`},
		"custom claim":         {hdr, `{` + claims + `,"roles":["admin"],"roles":null}`},
		"escaped claim name":   {hdr, `{` + claims + `,"scope":"admin","\u0073cope":null}`},
		"same value twice":     {hdr, `{` + claims + `,"scope":"a","scope":"a"}`},
		"header alg":           {`{"alg":"RS256","kid":"k1","alg":"none"}`, `{` + claims + `}`},
		"header kid":           {`{"alg":"RS256","kid":"k1","kid":"k2"}`, `{` + claims + `}`},
		"header typ":           {`{"alg":"RS256","typ":"at+jwt","typ":"dpop+jwt"}`, `{` + claims + `}`},
		"header crit":          {`{"alg":"RS256","crit":["x"],"crit":null}`, `{` + claims + `}`},
		"header escaped alg":   {`{"alg":"RS256","\u0061lg":"RS256"}`, `{` + claims + `}`},
		"header custom member": {`{"alg":"RS256","x5t":"a","x5t":"b"}`, `{` + claims + `}`},
	} {
		t.Run(name, func(t *testing.T) {
			err := parseToken(rawToken(c.header, c.payload), new(jwsToken))
			if !errors.Is(err, ErrMalformedToken) || !errors.Is(err, jsonscan.ErrDuplicateName) {
				t.Fatalf("error %v, want %v", err, ErrMalformedToken)
			}
		})
	}
	// Names that differ in case are different names; a registered claim
	// name in another case is refused for that reason (errClaimNameCase).
	if err := parseToken(rawToken(hdr, `{`+claims+`,"Roles":1,"roles":2}`), new(jwsToken)); err != nil {
		t.Errorf("custom names in two cases: %v", err)
	}
	if err := parseToken(rawToken(`{"alg":"RS256","ALG":"none","Kid":1}`, `{`+claims+`}`), new(jwsToken)); err != nil {
		t.Errorf("header names in two cases: %v", err)
	}
}

// TestParseTokenOrder: with several faults, the first in the order shape,
// header, payload, algorithm, signature is reported.
func TestParseTokenOrder(t *testing.T) {
	e := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	good := e(`{"alg":"RS256"}`) + "." + e(`{"iss":"x"}`) + "."
	for _, c := range []struct {
		name, token string
		want        error
	}{
		{"valid", good + e("sig"), nil},
		{"payload null", e(`{"alg":"RS256"}`) + "." + e(`null`) + "." + e("sig"), nil},
		{"two segments", e(`{"alg":"RS256"}`) + "." + e(`{}`), ErrMalformedToken},
		{"header not base64url", "e30=." + e(`{}`) + ".c2ln", ErrMalformedToken},
		{"header not JSON, alg none", e(`{"alg":"none"`) + "." + e(`{}`) + "." + e("sig"), ErrMalformedToken},
		{"header null", e(`null`) + "." + e(`{}`) + "." + e("sig"), ErrUnsupportedAlgorithm},
		{"header not an object", e(`["alg"]`) + "." + e(`{}`) + "." + e("sig"), ErrMalformedToken},
		{"payload not base64url, alg none", e(`{"alg":"none"}`) + ".e30x." + e("sig"), ErrMalformedToken},
		{"payload not an object, alg none", e(`{"alg":"none"}`) + "." + e(`[]`) + "." + e("sig"), ErrMalformedToken},
		{"unknown alg, signature not base64url", e(`{"alg":"XS256"}`) + "." + e(`{}`) + ".c2lnx", ErrUnsupportedAlgorithm},
		{"alg not a string", e(`{"alg":["RS256"]}`) + "." + e(`{}`) + "." + e("sig"), ErrUnsupportedAlgorithm},
		{"signature not base64url", good + "c2lnx", ErrMalformedToken},
	} {
		tok := new(jwsToken)
		err := parseToken(c.token, tok)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			} else if tok.method == nil || tok.signingInput != c.token[:strings.LastIndexByte(c.token, '.')] || string(tok.signature) != "sig" {
				t.Errorf("%s: %+v", c.name, tok)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
}

// The decoding must read exactly what encoding/json reads, and refuse
// duplicate names. These fuzz targets compare it with encoding/json, the
// decoding it replaced on the request path.

// refObject decodes the JSON document b with encoding/json into a map
// (nil for null), and reports false for what encoding/json refuses and for
// an object with a duplicate member name, found by a json.Decoder walk.
func refObject(b []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil, false
	}
	if m == nil {
		return nil, true
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.Token() // '{'
	seen := map[string]bool{}
	for d.More() {
		name, _ := d.Token()
		if seen[name.(string)] {
			return nil, false
		}
		seen[name.(string)] = true
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			panic(err)
		}
	}
	if _, err := d.Token(); err != nil {
		panic(err)
	}
	if _, err := d.Token(); err != io.EOF {
		panic("data after the object")
	}
	return m, true
}

// FuzzJOSEHeaderDecoding compares joseHeader.decode with golang-jwt's
// decoding of the header into a map[string]any, which keeps the last of
// duplicate names: decode refuses them.
func FuzzJOSEHeaderDecoding(f *testing.F) {
	for _, s := range []string{
		`{"alg":"RS256","kid":"k1","typ":"at+jwt"}`, `null`, `{}`, `[]`, `"x"`, `1`,
		`{"alg":"none","alg":"RS256","kid":null,"typ":null}`, `{"ALG":"RS256","Kid":"x","crit":null}`,
		`{"alg":"R\u0053256","kid":"\u00e9\ud800","enc":1,"typ":["a"]}`, `{"x":{"alg":"no"},"alg":"ES256"}`,
		` { "alg" : "EdDSA" , "kid" : [ "a" , { "b" : "}" } ] } `, `{"alg":"RS256"`, `{"a":"\"}"}`,
		`{"alg":"RS256","\u0061lg":"none"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var h joseHeader
		err := h.decode(b)
		_, refOK := refObject(b)
		var m map[string]any
		if (err == nil) != refOK {
			t.Fatalf("%q: error %v, encoding/json accepts: %v", b, err, refOK)
		}
		if err != nil {
			return
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
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

// refPayload is the reference decoding of a claims set: encoding/json into
// fields of the names and types of payload's, each claim named by its tag.
type refPayload struct {
	Iss      string           `json:"iss"`
	Sub      string           `json:"sub"`
	Aud      refList          `json:"aud"`
	Exp      *jwt.NumericDate `json:"exp"`
	Nbf      *jwt.NumericDate `json:"nbf"`
	Iat      *jwt.NumericDate `json:"iat"`
	Jti      string           `json:"jti"`
	Acr      string           `json:"acr"`
	AuthTime *jwt.NumericDate `json:"auth_time"`
	Scope    *string          `json:"scope"`
	Scp      refList          `json:"scp"`
	ClientID string           `json:"client_id"`
	Azp      string           `json:"azp"`
	Cid      string           `json:"cid"`
	Appid    string           `json:"appid"`
	Gty      refList          `json:"gty"`
	Idtyp    string           `json:"idtyp"`
	Typ      json.RawMessage  `json:"typ"`
	TokenUse json.RawMessage  `json:"token_use"`
	Nonce    json.RawMessage  `json:"nonce"`
	AtHash   json.RawMessage  `json:"at_hash"`
	CHash    json.RawMessage  `json:"c_hash"`
	Cnf      json.RawMessage  `json:"cnf"` // read as refConfirmation says
}

// refConfirmation is the reading of a "cnf" value (RFC 7800 §3.1) that
// readConfirmation must give, through encoding/json into a map, whose
// names are exact: nil for an absent member, else an object whose "jkt"
// and "x5t#S256" are kept and any other member noted.
func refConfirmation(raw json.RawMessage) (*confirmation, bool) {
	if raw == nil {
		return nil, true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return nil, false
	}
	c := &confirmation{JKT: m["jkt"], X5TS256: m["x5t#S256"]}
	for name := range m {
		if name != "jkt" && name != "x5t#S256" {
			c.unchecked = true
		}
	}
	return c, true
}

// refList is encoding/json's reading of a string or an array of strings.
type refList []string

func (l *refList) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case '"':
		var s string
		err := json.Unmarshal(b, &s)
		*l = refList{s}
		return err
	case '[':
		return json.Unmarshal(b, (*[]string)(l))
	case 'n':
		return nil
	}
	return errNotStringOrArray
}

// FuzzPayloadDecoding compares payload.decode with encoding/json into
// refPayload: whatever encoding/json refuses is refused, and whatever is
// accepted reads the same. (decode refuses more: duplicate names, claim
// names that differ only in case, NumericDates that are not numbers of a
// representable time.)
func FuzzPayloadDecoding(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://i","sub":"s","aud":["a",null,"b"],"exp":1795470362.75,"iat":1,"nbf":null,"scope":"a b","scp":"c","client_id":"c","gty":"client-credentials"}`,
		`{"aud":"x","aud":null,"scope":"a","scope":null,"iss":"a","iss":null,"cnf":{"jkt":"x"},"cnf":{}}`,
		`{"nonce":null,"typ":"ID","token_use":"id","at_hash":1,"c_hash":{},"idtyp":"app","azp":"a","cid":"c","appid":"d"}`,
		`{"sub":"\u00e9\ud800x","iss":"caf\u00e9","aud":[1],"exp":"1"}`, `{"Scope":"x"}`, `{"ſcope":"x"}`,
		`{"exp":1e400}`, `{"exp":-62135596801}`, `{"scp":[["a"]]}`, `{"jti":{}}`, `{}`, `[]`, `null`, `{"x":[{"}":"]"}]}`,
		`{"scp":"admin","scp":null}`, `{"cnf":{"jkt":"x","JKT":null}}`, `{"cnf":null}`, `{"cnf":{}}`, `{"cnf":{"kid":"k"}}`, `{"cnf":[{"jkt":"x"}]}`,
		`{"acr":"urn:mfa","auth_time":1795470000}`, `{"acr":1}`, `{"auth_time":"1"}`, `{"ACR":"x"}`, `{"acr":null,"auth_time":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p payload
		err := p.decode(append([]byte(nil), b...))
		m, refOK := refObject(b)
		var ref refPayload
		if !refOK || m == nil || json.Unmarshal(b, &ref) != nil {
			if err == nil {
				t.Fatalf("%q: accepted; encoding/json refuses", b)
			}
			return
		}
		if err != nil {
			return // one of decode's own rules
		}
		want := reflect.ValueOf(ref)
		got := reflect.ValueOf(p)
		for i := range got.NumField() {
			field := got.Type().Field(i)
			if !field.IsExported() {
				continue
			}
			w := want.FieldByName(field.Name)
			if !w.IsValid() {
				t.Fatalf("refPayload has no field %s", field.Name)
			}
			g := got.Field(i).Interface()
			switch g := g.(type) {
			case *confirmation:
				ref, ok := refConfirmation(w.Interface().(json.RawMessage))
				if !ok {
					t.Fatalf("%q: cnf %+v read; not a JSON object", b, g)
				}
				if (ref == nil) != (g == nil) || ref != nil && (!bytes.Equal(ref.JKT, g.JKT) || !bytes.Equal(ref.X5TS256, g.X5TS256) || ref.unchecked != g.unchecked) {
					t.Fatalf("%q: cnf %+v, want %+v", b, g, ref)
				}
				continue
			case json.RawMessage:
				if !bytes.Equal(g, w.Interface().(json.RawMessage)) {
					t.Fatalf("%q: %s %q, encoding/json %q", b, field.Name, g, w.Interface())
				}
				continue
			case numericDate:
				ref := w.Interface().(*jwt.NumericDate)
				if (ref == nil) != !g.set() || ref != nil && !ref.Time.Equal(g.Time) {
					t.Fatalf("%q: %s %v, encoding/json %v", b, field.Name, g, ref)
				}
				continue
			case optionalString:
				ref := w.Interface().(*string)
				if (ref == nil) != !g.set || ref != nil && *ref != g.s {
					t.Fatalf("%q: %s %+v, encoding/json %v", b, field.Name, g, ref)
				}
				continue
			}
			if w.Type().ConvertibleTo(field.Type) {
				w = w.Convert(field.Type)
			}
			if !reflect.DeepEqual(g, w.Interface()) {
				t.Fatalf("%q: %s %#v, encoding/json %#v", b, field.Name, g, w.Interface())
			}
		}
	})
}

// BenchmarkDecode is the decoding of a token without its signature check:
// base64url, the JSON checks and the walk over header and payload.
func BenchmarkDecode(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	token := benchToken(iss, "RS256")
	i := strings.IndexByte(token, '.')
	j := i + 1 + strings.IndexByte(token[i+1:], '.')
	hb, _ := base64.RawURLEncoding.DecodeString(token[:i])
	pb, _ := base64.RawURLEncoding.DecodeString(token[i+1 : j])
	b.Run("part=token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := parseToken(token, new(jwsToken)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("part=base64", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeSegment(make([]byte, b64.DecodedLen(j-i-1)), token[i+1:j]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("part=header", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var h joseHeader
			if err := h.decode(hb); err != nil {
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
