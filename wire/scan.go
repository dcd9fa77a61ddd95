package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// A JSON scanner for the request and answer envelopes. encoding/json decoding
// into map[string]json.RawMessage scans a value byte by byte through a state
// machine, once to validate and again to split, and copies every raw value;
// at every level of nesting. For a file's content (megabytes of base64 in one
// string) that cost several times the crypto. This scanner validates a value
// once, accepts exactly the JSON texts encoding/json accepts, and splits
// objects into members that point into the input. Strings, where the bytes are, are
// checked eight bytes at a time.

// errSyntax is the scanner's only error: the text is not valid JSON.
var errSyntax = errors.New("wire: invalid JSON")

// maxNesting is encoding/json's limit on nesting.
const maxNesting = 10000

// member is one name/value pair of an object; value is the raw JSON text.
type member struct {
	name  []byte // unescaped; usually a slice of the input
	value []byte
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
		i++
	}
	return i
}

// noValidate is the nesting limit that tells parseObject its input is already
// known to be valid JSON.
const noValidate = -1

// parseObject splits the object at the start of b (after spaces) into its
// members and returns them with the index just past the object. It validates
// the object, with arrays and objects in member values nested at most limit
// levels below it (validValue's depth); with limit noValidate, b must already
// be known to be valid JSON. The members are appended to ms[:0] (nil: a new
// slice).
func parseObject(b []byte, limit int, ms []member) ([]member, int, error) {
	validate := limit != noValidate
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, 0, errSyntax
	}
	i = skipSpace(b, i+1)
	if ms == nil {
		ms = make([]member, 0, 4) // requests have two to four members
	}
	ms = ms[:0]
	if i < len(b) && b[i] == '}' {
		return ms, i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, 0, errSyntax
		}
		end, plain, err := scanStringPlain(b, i, validate)
		if err != nil {
			return nil, 0, err
		}
		name := b[i+1 : end-1]
		if !plain && (bytes.IndexByte(name, '\\') >= 0 || !utf8.Valid(name)) {
			s, err := stringValue(b[i:end])
			if err != nil {
				return nil, 0, err
			}
			name = []byte(s)
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, 0, errSyntax
		}
		i = skipSpace(b, i+1)
		start := i
		if validate {
			i, err = validValue(b, i, 1, limit)
		} else {
			i, err = skipValue(b, i)
		}
		if err != nil {
			return nil, 0, err
		}
		ms = append(ms, member{name: name, value: b[start:i]})
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, 0, errSyntax
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return ms, i + 1, nil
		default:
			return nil, 0, errSyntax
		}
	}
}

// stringValue returns the Go string of the JSON string s (quotes included),
// as encoding/json would decode it.
func stringValue(s []byte) (string, error) {
	in := s[1 : len(s)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return string(in), nil
	}
	var out string
	if err := json.Unmarshal(s, &out); err != nil {
		return "", errSyntax
	}
	return out, nil
}

// plainByte tells the bytes a JSON string holds as they are: not below 0x20,
// not a quote, not a backslash. It is never written after initialisation.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainASCII tells the bytes of a plain string: ASCII from 0x20, not a quote
// nor a backslash. It is never written after initialisation.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// longRun is the string length left from which scanString looks for the
// end of a run with bytes.IndexByte.
const longRun = 64

// anyControl reports whether any byte of s is below 0x20.
func anyControl(s []byte) bool {
	i := 0
	for ; i+32 <= len(s); i += 32 {
		w0 := binary.LittleEndian.Uint64(s[i:])
		w1 := binary.LittleEndian.Uint64(s[i+8:])
		w2 := binary.LittleEndian.Uint64(s[i+16:])
		w3 := binary.LittleEndian.Uint64(s[i+24:])
		if (controlMask(w0)|controlMask(w1)|controlMask(w2)|controlMask(w3))&msb != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if s[i] < 0x20 {
			return true
		}
	}
	return false
}

// controlMask has the high bit of each byte of w set if that byte may be
// below 0x20 (any such byte sets at least its own; see specialMask).
func controlMask(w uint64) uint64 { return (w - 0x20*lsb) &^ w }

// special reports whether any byte of w is below 0x20, a quote or a backslash.
func special(w uint64) bool { return specialMask(w)&msb != 0 }

// special4 is special over 32 bytes, with one branch.
func special4(b []byte) bool {
	_ = b[31]
	w0 := binary.LittleEndian.Uint64(b)
	w1 := binary.LittleEndian.Uint64(b[8:])
	w2 := binary.LittleEndian.Uint64(b[16:])
	w3 := binary.LittleEndian.Uint64(b[24:])
	return (specialMask(w0)|specialMask(w1)|specialMask(w2)|specialMask(w3))&msb != 0
}

// specialMask has the high bit of each byte of w set if that byte may be
// special (below 0x20, a quote or a backslash); see special.
func specialMask(w uint64) uint64 {
	lt := controlMask(w)
	q := w ^ ('"' * lsb)
	q = (q - lsb) &^ q
	bs := w ^ ('\\' * lsb)
	bs = (bs - lsb) &^ bs
	return lt | q | bs
}

// scanStringPlain is scanString that also reports, for short strings, that
// the string is plain: printable ASCII with no escapes (its bytes are its
// value). false means unknown.
func scanStringPlain(b []byte, i int, validate bool) (end int, plain bool, err error) {
	// Names and short values end within a few bytes: one pass of a table.
	j, lim := i+1, min(len(b), i+33)
	for j < lim && plainASCII[b[j]] {
		j++
	}
	if j < len(b) && b[j] == '"' {
		return j + 1, true, nil
	}
	end, err = scanString(b, i, validate)
	return end, false, err
}

// scanString returns the index just past the string starting at b[i] (a
// quote). With validate false it only looks for the closing quote.
func scanString(b []byte, i int, validate bool) (int, error) {
	i++
	if !validate {
		// Short strings: a plain loop beats the call to IndexByte.
		for k := 0; k < 24 && i < len(b); k++ {
			switch b[i] {
			case '"':
				return i + 1, nil
			case '\\':
				i += 2
				if i > len(b) {
					return 0, errSyntax
				}
				continue
			}
			i++
		}
		for {
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				return 0, errSyntax
			}
			q := i + j
			// The quote closes the string unless an odd run of backslashes precedes it.
			k := q
			for k > i && b[k-1] == '\\' {
				k--
			}
			if (q-k)%2 == 0 {
				return q + 1, nil
			}
			i = q + 1
		}
	}
	q := -1    // the first quote at or after i, once looked for
	slow := -1 // below this index the runs were short: no IndexByte
	for {
		// Short strings (names) end within a few bytes: a table lookup per
		// byte; long ones (content) go eight bytes at a time.
		for k := 0; k < 16 && i < len(b) && plainByte[b[i]]; k++ {
			i++
		}
		if len(b)-i >= longRun && i >= slow {
			// The next quote and backslash by IndexByte (vector
			// instructions); the run before them need only be checked for
			// control bytes. q is kept, so that escapes do not make the
			// search quadratic; after a short run (dense escapes) the
			// word-at-a-time scan goes on alone for a while.
			if q < i {
				if q = bytes.IndexByte(b[i:], '"'); q < 0 {
					return 0, errSyntax
				}
				q += i
			}
			end := q
			if j := bytes.IndexByte(b[i:q], '\\'); j >= 0 {
				end = i + j
			}
			if end-i < longRun {
				slow = i + 4*longRun
			}
			if !anyControl(b[i:end]) {
				i = end
			}
		}
		for i+32 <= len(b) && !special4(b[i:i+32]) {
			i += 32
		}
		for i+8 <= len(b) && !special(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			return 0, errSyntax
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return 0, errSyntax
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, errSyntax
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return 0, errSyntax
					}
				}
				i += 6
			default:
				return 0, errSyntax
			}
		case c < 0x20:
			return 0, errSyntax
		default:
			i++
		}
	}
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validValue checks the value starting at b[i], at nesting depth depth, and
// returns the index past it. An array or object at a depth over limit is an
// error (limit is at most maxNesting, encoding/json's limit).
func validValue(b []byte, i, depth, limit int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i, true)
	case c == '{', c == '[':
		if depth > limit {
			return 0, errSyntax
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, nil
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return 0, errSyntax
				}
				end, err := scanString(b, i, true)
				if err != nil {
					return 0, err
				}
				i = skipSpace(b, end)
				if i >= len(b) || b[i] != ':' {
					return 0, errSyntax
				}
				i = skipSpace(b, i+1)
			}
			var err error
			if i, err = validValue(b, i, depth+1, limit); err != nil {
				return 0, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, errSyntax
			}
			if b[i] == closer {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, errSyntax
			}
			i = skipSpace(b, i+1)
		}
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	case c == '-' || isDigit(c):
		return number(b, i)
	}
	return 0, errSyntax
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errSyntax
	}
	return i + len(lit), nil
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i].
func number(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, errSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, errSyntax
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, errSyntax
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

// skipStop classes the bytes skipValue stops at inside an array or object.
// It is never written.
var skipStop = [256]uint8{'"': stopQuote, '{': stopOpen, '[': stopOpen, '}': stopClose, ']': stopClose}

const (
	stopQuote = 1 + iota
	stopOpen
	stopClose
)

// skipValue returns the index past the (already validated) value at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch b[i] {
	case '"':
		return scanString(b, i, false)
	case '{', '[':
		depth := 0
		for i < len(b) {
			// Numbers, literals, commas and colons: one table lookup a byte.
			for i < len(b) && skipStop[b[i]] == 0 {
				i++
			}
			if i >= len(b) {
				break
			}
			switch skipStop[b[i]] {
			case stopQuote:
				end, err := scanString(b, i, false)
				if err != nil {
					return 0, err
				}
				i = end
				continue
			case stopOpen:
				depth++
			case stopClose:
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errSyntax
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i, nil
		}
		i++
	}
	return i, nil
}
