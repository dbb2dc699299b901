package jsonscan

import (
	"encoding/binary"
	"math"
)

// This file checks the syntax of a JSON document (RFC 8259) in one pass,
// with the same outcome as encoding/json's [json.Valid], and notes where
// the members of the top-level object (or the elements of the top-level
// array) lie, so that Object and Array need not scan the bytes again.
// FuzzObject and FuzzValid hold it to json.Valid.

// maxDepth is encoding/json's limit on nesting: a document nested deeper
// is not valid (json.Valid refuses it).
const maxDepth = 10000

// maxSpans is the number of top-level members whose place valid notes: a
// JOSE header has a handful, a typical claims set 10 to 30. The members
// past it are found by walking on from the last one noted.
const maxSpans = 32

// span is where one top-level member lies in the document: its name's
// literal, quotes included, and its value. For an array element only the
// value is set.
type span struct {
	name, nameEnd int32
	value, end    int32
}

// spans are the members (or elements) of the top-level container, in
// order: the first n of them, and whether there are more.
type spans struct {
	n    int
	more bool
	s    [maxSpans]span
}

// open returns the index of the span of the next top-level member, for
// the caller to fill in, or -1 once maxSpans are noted.
func (m *spans) open() int {
	if m.n == maxSpans {
		m.more = true
		return -1
	}
	m.n++
	return m.n - 1
}

// containers is a stack of the kinds of the open containers, one bit
// each: 1 an object, 0 an array. The first 256 levels need no allocation.
type containers struct {
	depth int
	small [4]uint64
	large []uint64
}

func (c *containers) push(object bool) bool {
	if c.depth == maxDepth {
		return false
	}
	w, bit := c.depth/64, uint64(1)<<(c.depth%64)
	words := c.small[:]
	if w >= len(words) {
		w -= len(c.small)
		for w >= len(c.large) {
			c.large = append(c.large, 0)
		}
		words = c.large
	}
	if object {
		words[w] |= bit
	} else {
		words[w] &^= bit
	}
	c.depth++
	return true
}

// object reports whether the innermost open container is an object.
func (c *containers) object() bool {
	d := c.depth - 1
	w, bit := d/64, uint64(1)<<(d%64)
	if w < len(c.small) {
		return c.small[w]&bit != 0
	}
	return c.large[w-len(c.small)]&bit != 0
}

// valid reports whether b is one JSON value, whitespace around it
// allowed, exactly as json.Valid does: the grammar of RFC 8259, strings
// of any bytes but control characters (invalid UTF-8 included, as
// encoding/json then replaces it), and nesting at most maxDepth deep. It
// notes in m where the members of a top-level object, or the elements of
// a top-level array, lie.
func valid(b []byte, m *spans) bool {
	if len(b) > math.MaxInt32 {
		return false // spans hold int32 offsets; no token comes near
	}
	var stack containers
	sp := -1 // the span of the top-level member being read, if noted
	i := skipSpace(b, 0)
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return false
		}
		if stack.depth == 1 {
			if !stack.object() {
				sp = m.open()
			}
			if sp >= 0 {
				m.s[sp].value = int32(i)
			}
		}
		switch c := b[i]; c {
		case '{', '[':
			if !stack.push(c == '{') {
				return false
			}
			i = skipSpace(b, i+1)
			if i < len(b) && (b[i] == '}' && c == '{' || b[i] == ']' && c == '[') {
				stack.depth--
				i++
				break // an empty container: a whole value
			}
			if c == '[' {
				continue // its first element
			}
			if i, sp = readName(b, i, &stack, m, sp); i < 0 {
				return false
			}
			continue // the member's value
		case '"':
			if i = endOfString(b, i); i < 0 {
				return false
			}
		case 't':
			if i = literal(b, i, "true"); i < 0 {
				return false
			}
		case 'f':
			if i = literal(b, i, "false"); i < 0 {
				return false
			}
		case 'n':
			if i = literal(b, i, "null"); i < 0 {
				return false
			}
		default:
			if i = endOfNumber(b, i); i < 0 {
				return false
			}
		}
		// A value ends at b[i]: close the containers it completes, and
		// move to the next value.
		for {
			if stack.depth == 1 && sp >= 0 {
				m.s[sp].end = int32(i)
			}
			i = skipSpace(b, i)
			if stack.depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			object := stack.object()
			if b[i] == ',' {
				i = skipSpace(b, i+1)
				if object {
					if i, sp = readName(b, i, &stack, m, sp); i < 0 {
						return false
					}
				}
				break
			}
			if object && b[i] == '}' || !object && b[i] == ']' {
				stack.depth--
				i++
				continue
			}
			return false
		}
	}
}

// readName reads a member's name and colon at b[i] in the innermost open
// object and returns where its value starts (after whitespace), or -1.
// For a member of the top-level object it notes the name in a new span
// and returns its index; otherwise it returns sp, the current one.
func readName(b []byte, i int, stack *containers, m *spans, sp int) (int, int) {
	if i >= len(b) || b[i] != '"' {
		return -1, sp
	}
	end := endOfString(b, i)
	if end < 0 {
		return -1, sp
	}
	if stack.depth == 1 {
		if sp = m.open(); sp >= 0 {
			m.s[sp].name, m.s[sp].nameEnd = int32(i), int32(end)
		}
	}
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return -1, sp
	}
	return skipSpace(b, i+1), sp
}

// endOfString returns the index after the string literal at b[i], or -1
// if it is not one: unterminated, with a control character, or with an
// escape other than those of RFC 8259 §7.
func endOfString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		// Eight bytes a step while none of them needs a look.
		for i+8 <= len(b) && !special8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return -1
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// special8 reports whether any of the eight bytes of x is a quote, a
// backslash or a control character (below 0x20): the bytes a string
// literal's scan must stop at. (SWAR: a byte's high bit is set in
// lessThan when it is below the bound; borrows only run upwards from a
// byte that is, so the answer is exact.)
func special8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	control := (x - 0x20*ones) &^ x
	quote := x ^ '"'*ones
	backslash := x ^ '\\'*ones
	return ((control | (quote-ones)&^quote | (backslash-ones)&^backslash) & highs) != 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// literal returns the index after the literal lit at b[i], or -1. What
// follows it is checked by the caller.
func literal(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// endOfNumber returns the index after the number at b[i] (RFC 8259 §6:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?), or -1.
func endOfNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}
