// Package jsonscan walks the top-level members of a JSON object (RFC 8259)
// without building a map: each member's decoded name and raw value are
// handed to a callback, and duplicate names are refused.
//
// A JWS header (RFC 7515 §4) and a JWT Claims Set (RFC 7519 §4) are JSON
// objects whose member names must be unique; bearerguard refuses the
// tokens that break that rule rather than picking one of the values, as
// encoding/json (the last) and other readers (the first) would. Syntax and
// nesting are checked in the same pass that finds the members, exactly as
// encoding/json's [json.Valid] checks them (FuzzValid compares the two);
// strings are decoded as encoding/json decodes them.
package jsonscan

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"unsafe"
)

var (
	// ErrSyntax: the input is not a JSON document.
	ErrSyntax = errors.New("jsonscan: not a JSON document")
	// ErrNotObject: the document is valid JSON but not an object.
	ErrNotObject = errors.New("jsonscan: not a JSON object")
	// ErrNotArray: the value is not a JSON array.
	ErrNotArray = errors.New("jsonscan: not a JSON array")
	// ErrNotString: the value is not a JSON string.
	ErrNotString = errors.New("jsonscan: not a JSON string")
	// ErrDuplicateName: two members of an object have the same decoded
	// name ("a" and "\u0061" are the same name; "a" and "A" are not).
	ErrDuplicateName = errors.New("jsonscan: duplicate member name")
)

// Object checks that b is one JSON object (whitespace around it allowed)
// and calls fn for each of its members in order, with the member's decoded
// name and raw value: the value's bytes in b, without surrounding
// whitespace, never empty. Its first byte tells its kind: '"' a string,
// '{' an object, '[' an array, 'n' null, 't' or 'f' a boolean, anything
// else a number.
//
// A name without escapes or non-ASCII bytes shares memory with b: keep b
// unchanged while the name is in use, or copy it.
//
// Object returns [ErrSyntax] or [ErrNotObject] before calling fn, and
// [ErrDuplicateName] when it meets a name it has already handed to fn. An
// error of fn ends the walk and is returned as is.
//
// The syntax is checked in the same pass that finds the members (see
// [valid]), as strictly as [json.Valid] checks it.
func Object(b []byte, fn func(name string, value []byte) error) error {
	var m spans
	if !valid(b, &m) {
		return ErrSyntax
	}
	if b[skipSpace(b, 0)] != '{' {
		return ErrNotObject
	}
	var names nameSet
	for k := range m.n {
		sp := &m.s[k]
		name, err := decodeName(b[sp.name:sp.nameEnd])
		if err != nil {
			return err
		}
		if !names.add(name) {
			return ErrDuplicateName
		}
		if err := fn(name, b[sp.value:sp.end]); err != nil {
			return err
		}
	}
	if !m.more {
		return nil
	}
	// More members than spans holds: walk on from the last one, over a
	// document now known to be valid.
	i := skipSpace(b, int(m.s[m.n-1].end)) // at ','
	for {
		i = skipSpace(b, i+1) // past ','
		end := skipString(b, i)
		name, err := decodeName(b[i:end])
		if err != nil {
			return err
		}
		if !names.add(name) {
			return ErrDuplicateName
		}
		i = skipSpace(b, skipSpace(b, end)+1) // past ':'
		end = skipValue(b, i)
		if err := fn(name, b[i:end]); err != nil {
			return err
		}
		i = skipSpace(b, end) // at ',' or '}'
		if b[i] == '}' {
			return nil
		}
	}
}

// Array checks that v is one JSON array (whitespace around it allowed)
// and calls fn for each of its elements in order, with the raw element as
// Object hands out values. An error of fn ends the walk and is returned.
func Array(v []byte, fn func(elem []byte) error) error {
	var m spans
	if !valid(v, &m) {
		return ErrSyntax
	}
	if v[skipSpace(v, 0)] != '[' {
		return ErrNotArray
	}
	for k := range m.n {
		if err := fn(v[m.s[k].value:m.s[k].end]); err != nil {
			return err
		}
	}
	if !m.more {
		return nil
	}
	i := skipSpace(v, int(m.s[m.n-1].end)) // at ','
	for {
		i = skipSpace(v, i+1) // past ','
		end := skipValue(v, i)
		if err := fn(v[i:end]); err != nil {
			return err
		}
		i = skipSpace(v, end) // at ',' or ']'
		if v[i] == ']' {
			return nil
		}
	}
}

// String decodes the JSON string v, as encoding/json does: escapes
// resolved, invalid UTF-8 and lone surrogates replaced by U+FFFD. It
// returns [ErrNotString] for any other value. Plain ASCII without escapes
// is copied without a detour through encoding/json.
func String(v []byte) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", ErrNotString
	}
	if plain(v[1 : len(v)-1]) {
		return string(v[1 : len(v)-1]), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", ErrNotString
	}
	return s, nil
}

// SharedString is [String], except that a plain string (printable ASCII
// without escapes) shares memory with v instead of being copied: keep v
// unchanged for as long as the string is in use.
func SharedString(v []byte) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && plain(v[1:len(v)-1]) {
		s := v[1 : len(v)-1]
		return unsafe.String(unsafe.SliceData(s), len(s)), nil
	}
	return String(v)
}

// IsNull reports whether v is the JSON literal null, whitespace around it
// allowed.
func IsNull(v []byte) bool {
	i := skipSpace(v, 0)
	return len(v) >= i+4 && string(v[i:i+4]) == "null" && skipSpace(v, i+4) == len(v)
}

// plain reports whether s, the inside of a string literal, reads as
// itself: printable ASCII without quote or backslash.
func plain(s []byte) bool {
	for ; len(s) >= 8; s = s[8:] {
		x := binary.LittleEndian.Uint64(s)
		if special8(x) || x&0x8080808080808080 != 0 {
			return false
		}
	}
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// decodeName decodes a member name of a valid document. A plain name is
// not copied: it is a string over b's bytes.
func decodeName(lit []byte) (string, error) {
	s := lit[1 : len(lit)-1]
	if plain(s) {
		return unsafe.String(unsafe.SliceData(s), len(s)), nil
	}
	var name string
	if err := json.Unmarshal(lit, &name); err != nil {
		return "", ErrSyntax // not reached: json.Valid accepted lit
	}
	return name, nil
}

// smallObject is the number of names nameSet compares one by one before
// it builds a map: a JOSE header has a handful of members, a typical
// claims set 10 to 30, a hostile one thousands.
const smallObject = 16

// nameSet holds the names of an object's members seen so far.
type nameSet struct {
	n     int
	small [smallObject]string
	large map[string]struct{}
}

// add adds name and reports whether it was new.
func (s *nameSet) add(name string) bool {
	if s.large != nil {
		if _, ok := s.large[name]; ok {
			return false
		}
		s.large[name] = struct{}{}
		return true
	}
	for _, seen := range s.small[:s.n] {
		if seen == name {
			return false
		}
	}
	if s.n < smallObject {
		s.small[s.n] = name
		s.n++
		return true
	}
	s.large = make(map[string]struct{}, 2*smallObject)
	for _, seen := range s.small {
		s.large[seen] = struct{}{}
	}
	s.large[name] = struct{}{}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string literal at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the JSON value at b[i] of a valid
// document.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	// A number, true, false or null.
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
