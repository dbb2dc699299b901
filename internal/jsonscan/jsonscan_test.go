package jsonscan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

type member struct{ name, value string }

func members(b []byte) ([]member, error) {
	var got []member
	err := Object(b, func(name string, value []byte) error {
		got = append(got, member{strings.Clone(name), string(value)})
		return nil
	})
	return got, err
}

func TestObject(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []member
		err  error
	}{
		{`{}`, nil, nil},
		{" \t\n{ } \r\n", nil, nil},
		{`{"a":1}`, []member{{"a", "1"}}, nil},
		{` { "a" : "x" , "b":[1, {"}":"]"}] ,"c":null,"d":true,"e":{"f":"\""}} `,
			[]member{{"a", `"x"`}, {"b", `[1, {"}":"]"}]`}, {"c", "null"}, {"d", "true"}, {"e", `{"f":"\""}`}}, nil},
		{`{"\u0061":1,"\"":2,"é":3,"\ud800":4}`, []member{{"a", "1"}, {`"`, "2"}, {"é", "3"}, {"\ufffd", "4"}}, nil},
		{`{"a":1,"A":2}`, []member{{"a", "1"}, {"A", "2"}}, nil},
		{`{"a":1,"a":2}`, nil, ErrDuplicateName},
		{`{"a":1,"\u0061":2}`, nil, ErrDuplicateName},
		{`{"scp":"admin","scp":null}`, nil, ErrDuplicateName},
		{`{"\ud800":1,"\udc00":2}`, nil, ErrDuplicateName},             // both read as U+FFFD
		{`{"a":{"x":1,"x":2}}`, []member{{"a", `{"x":1,"x":2}`}}, nil}, // nested objects are the caller's
		{``, nil, ErrSyntax},
		{`{"a":1`, nil, ErrSyntax},
		{`{"a":1}x`, nil, ErrSyntax},
		{`{"a":1}{}`, nil, ErrSyntax},
		{`{'a':1}`, nil, ErrSyntax},
		{`null`, nil, ErrNotObject},
		{`[]`, nil, ErrNotObject},
		{`"{}"`, nil, ErrNotObject},
		{`1`, nil, ErrNotObject},
	} {
		got, err := members([]byte(tc.in))
		if !errors.Is(err, tc.err) {
			t.Errorf("%q: error %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestObjectDuplicateLarge: duplicates are found past the names compared
// one by one, and thousands of members stay linear.
func TestObjectDuplicateLarge(t *testing.T) {
	for _, n := range []int{smallObject - 1, smallObject, smallObject + 1, 5000} {
		var sb strings.Builder
		sb.WriteByte('{')
		for i := range n {
			fmt.Fprintf(&sb, `"m%d":%d,`, i, i)
		}
		unique := sb.String()[:sb.Len()-1] + "}"
		if got, err := members([]byte(unique)); err != nil || len(got) != n {
			t.Errorf("%d unique members: %d, %v", n, len(got), err)
		}
		for _, dup := range []int{0, n / 2, n - 1} {
			in := sb.String() + fmt.Sprintf(`"m%d":null}`, dup)
			if _, err := members([]byte(in)); !errors.Is(err, ErrDuplicateName) {
				t.Errorf("%d members, m%d again: %v", n, dup, err)
			}
			in = sb.String() + fmt.Sprintf(`"\u006d%d":null}`, dup)
			if _, err := members([]byte(in)); !errors.Is(err, ErrDuplicateName) {
				t.Errorf("%d members, escaped m%d again: %v", n, dup, err)
			}
		}
	}
}

func TestObjectCallbackError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := Object([]byte(`{"a":1,"b":2}`), func(string, []byte) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("error %v after %d calls", err, calls)
	}
	calls = 0
	err = Array([]byte(`[1,2]`), func([]byte) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("array: error %v after %d calls", err, calls)
	}
}

func TestArray(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  error
	}{
		{`[]`, nil, nil},
		{` [ ] `, nil, nil},
		{`["a",null, 1 ,{"]":[]},["x"]]`, []string{`"a"`, "null", "1", `{"]":[]}`, `["x"]`}, nil},
		{`[`, nil, ErrSyntax},
		{`[1,]`, nil, ErrSyntax},
		{`{}`, nil, ErrNotArray},
		{`null`, nil, ErrNotArray},
	} {
		var got []string
		err := Array([]byte(tc.in), func(e []byte) error { got = append(got, string(e)); return nil })
		if !errors.Is(err, tc.err) {
			t.Errorf("%q: error %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{`""`, "", nil},
		{`"abc"`, "abc", nil},
		{`"a\/b\u00e9\n"`, "a/bé\n", nil},
		{`"\ud800"`, "\ufffd", nil},
		{"\"\xff\"", "\ufffd", nil},
		{"\"a\tb\"", "", ErrNotString}, // a control character must be escaped
		{`"a"b"`, "", ErrNotString},
		{`"a\"`, "", ErrNotString},
		{` "a"`, "", ErrNotString},
		{`"`, "", ErrNotString},
		{``, "", ErrNotString},
		{`null`, "", ErrNotString},
		{`1`, "", ErrNotString},
	} {
		got, err := String([]byte(tc.in))
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("%q: %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestIsNull(t *testing.T) {
	for in, want := range map[string]bool{
		"null": true, " null\n": true, "nul": false, "nulll": false, `"null"`: false, "": false, "null x": false,
	} {
		if got := IsNull([]byte(in)); got != want {
			t.Errorf("IsNull(%q) = %v", in, got)
		}
	}
}

// TestObjectAllocs: walking an object of plain names allocates nothing,
// up to smallObject members.
func TestObjectAllocs(t *testing.T) {
	var sb strings.Builder
	sb.WriteByte('{')
	for i := range smallObject {
		fmt.Fprintf(&sb, `"claim_%d":"v",`, i)
	}
	b := []byte(sb.String()[:sb.Len()-1] + "}")
	n := 0
	fn := func(string, []byte) error { n++; return nil }
	if a := testing.AllocsPerRun(100, func() {
		if err := Object(b, fn); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("%v allocations", a)
	}
}

func BenchmarkObject(b *testing.B) {
	for _, n := range []int{4, 20, 2000} {
		var sb strings.Builder
		sb.WriteByte('{')
		for i := range n {
			fmt.Fprintf(&sb, `"claim_%d":"value",`, i)
		}
		doc := []byte(sb.String()[:sb.Len()-1] + "}")
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Object(doc, func(string, []byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestValidDepth: nesting is refused past encoding/json's limit, and
// allowed up to it, as json.Valid does.
func TestValidDepth(t *testing.T) {
	for _, depth := range []int{255, 256, 257, maxDepth - 1, maxDepth, maxDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			close := "]"
			if open != "[" {
				close = "}"
			}
			doc := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(close, depth))
			var m spans
			if got, want := valid(doc, &m), json.Valid(doc); got != want || want != (depth <= maxDepth) {
				t.Errorf("depth %d of %q: valid %v, json.Valid %v", depth, open, got, want)
			}
		}
	}
}

// TestObjectManyMembers: members past those valid notes are handed out
// in order, as the first ones are.
func TestObjectManyMembers(t *testing.T) {
	for _, n := range []int{maxSpans - 1, maxSpans, maxSpans + 1, 3 * maxSpans} {
		var sb strings.Builder
		sb.WriteString("{ ")
		var want []member
		for i := range n {
			fmt.Fprintf(&sb, ` "m%d" : [%d] ,`, i, i)
			want = append(want, member{fmt.Sprintf("m%d", i), fmt.Sprintf("[%d]", i)})
		}
		doc := sb.String()[:sb.Len()-1] + "}"
		got, err := members([]byte(doc))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%d members: %q, %v", n, got, err)
		}
		arr := strings.ReplaceAll(strings.ReplaceAll(doc, "{", "["), "}", "]")
		arr = strings.NewReplacer(`"m`, `"x`, `" :`, `",`).Replace(arr)
		var elems []string
		if err := Array([]byte(arr), func(e []byte) error { elems = append(elems, string(e)); return nil }); err != nil || len(elems) != 2*n {
			t.Errorf("%d elements: %d, %v", 2*n, len(elems), err)
		}
	}
}

// TestSpecial8: the eight-byte test agrees with the byte-by-byte one for
// every byte value at every position, alone and beside others.
func TestSpecial8(t *testing.T) {
	special := func(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }
	for _, fill := range []byte{'a', 0x7f, 0xff, 0x20, 0x80} {
		for pos := range 8 {
			for c := range 256 {
				w := []byte(strings.Repeat(string([]byte{fill}), 8))
				w[pos] = byte(c)
				want := false
				for _, b := range w {
					want = want || special(b)
				}
				x := uint64(0)
				for k := 7; k >= 0; k-- {
					x = x<<8 | uint64(w[k])
				}
				if got := special8(x); got != want {
					t.Fatalf("special8(%q) = %v", w, got)
				}
				if got, want := plain(w), !want && c < 0x80 && fill < 0x80; got != want {
					t.Fatalf("plain(%q) = %v", w, got)
				}
			}
		}
	}
}
