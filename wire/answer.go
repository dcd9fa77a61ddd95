package wire

// A one-pass decoder for the SDK's hottest answer, get-dir. The general path
// (an Object per level: validate and split the data, split each element of a
// list again, then look each field up by name) reads every byte three times.
// This one reads the data once, in order, validating as it goes, for answers
// as the launcher writes them. Anything it is not sure of (an escaped or
// repeated field name, a field of the wrong type) makes it give up, having
// written nothing of its input, and the general path decodes the
// data and reports the error, exactly as before. So the fast path only
// changes how fast a valid answer is decoded, never what it decodes to nor
// which error an invalid one gives (FuzzGetDirAnswer compares the two).

// answerDecoder reads one JSON value in order. ok turns false at the first
// thing it does not handle; from then on every method is a no-op.
type answerDecoder struct {
	b  []byte
	i  int
	ok bool
	// arena holds the decoded base64 values (the input is never written).
	arena []byte
}

func (d *answerDecoder) fail() { d.ok = false }

func (d *answerDecoder) space() { d.i = skipSpace(d.b, d.i) }

// byte consumes c, after spaces.
func (d *answerDecoder) byte(c byte) bool {
	d.space()
	if !d.ok || d.i >= len(d.b) || d.b[d.i] != c {
		d.fail()
		return false
	}
	d.i++
	return true
}

// peek returns the next byte after spaces, or 0.
func (d *answerDecoder) peek() byte {
	d.space()
	if !d.ok || d.i >= len(d.b) {
		d.fail()
		return 0
	}
	return d.b[d.i]
}

// null consumes a null if one is next.
func (d *answerDecoder) null() bool {
	if d.peek() != 'n' {
		return false
	}
	end, err := literal(d.b, d.i, "null")
	if err != nil {
		d.fail()
		return false
	}
	d.i = end
	return true
}

// object reads an object, calling field for each member with its name (which
// is plain: printable ASCII, no escapes); field reads the value and returns
// the field's bit, or returns 0 without reading for a name it does not know
// (the value is then validated and skipped at nesting depth depth). A field
// met twice makes the decoder give up.
func (d *answerDecoder) object(depth int, field func(name []byte) uint32) {
	if !d.byte('{') {
		return
	}
	if d.peek() == '}' {
		d.i++
		return
	}
	var seen uint32
	for d.ok {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			d.fail()
			return
		}
		end, plain, err := scanStringPlain(d.b, d.i, true)
		if err != nil || !plain {
			d.fail()
			return
		}
		name := d.b[d.i+1 : end-1]
		d.i = end
		if !d.byte(':') {
			return
		}
		d.space()
		if bit := field(name); bit != 0 {
			if seen&bit != 0 {
				d.fail()
				return
			}
			seen |= bit
		} else if d.ok {
			end, err := validValue(d.b, d.i, depth, maxNesting)
			if err != nil {
				d.fail()
				return
			}
			d.i = end
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return
		default:
			d.fail()
		}
	}
}

// list reads an array of objects (null: nil), calling elem for each element.
func list[T any](d *answerDecoder, elem func(*T)) []T {
	if d.null() || !d.byte('[') {
		return nil
	}
	out := make([]T, 0, 8)
	if d.peek() == ']' {
		d.i++
		return out
	}
	for d.ok {
		out = append(out, *new(T))
		elem(&out[len(out)-1])
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return out
		default:
			d.fail()
		}
	}
	return nil
}

func (d *answerDecoder) str() string {
	if d.null() {
		return ""
	}
	if d.peek() != '"' {
		d.fail()
		return ""
	}
	end, err := scanString(d.b, d.i, true)
	if err != nil {
		d.fail()
		return ""
	}
	s, err := stringValue(d.b[d.i:end])
	if err != nil {
		d.fail()
		return ""
	}
	d.i = end
	return s
}

func (d *answerDecoder) int() int64 {
	if d.null() {
		return 0
	}
	// -?(0|[1-9][0-9]{0,17}) followed by no fraction or exponent: what
	// number accepts and smallInt converts; anything else gives up.
	b, i := d.b, d.i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	var n int64
	for i < len(b) && isDigit(b[i]) {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 18 || b[start] == '0' && digits > 1 ||
		i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		d.fail()
		return 0
	}
	d.i = i
	if neg {
		n = -n
	}
	return n
}

func (d *answerDecoder) bool() bool {
	if d.null() {
		return false
	}
	for _, lit := range [...]string{"true", "false"} {
		if end, err := literal(d.b, d.i, lit); err == nil {
			d.i = end
			return lit == "true"
		}
	}
	d.fail()
	return false
}

// bytes decodes a base64 value into the arena.
func (d *answerDecoder) bytes() Bytes {
	if d.null() {
		return nil
	}
	if d.peek() != '"' {
		d.fail()
		return nil
	}
	end, err := scanString(d.b, d.i, true)
	if err != nil {
		d.fail()
		return nil
	}
	s := d.b[d.i+1 : end-1]
	n := len(s) / 4 * 3 // base64.StdEncoding.DecodedLen
	if d.arena == nil || cap(d.arena)-len(d.arena) < n {
		d.arena = make([]byte, 0, max(n, 512))
	}
	at := len(d.arena)
	d.arena = d.arena[:at+n]
	got, err := decodeBase64(d.arena[at:at+n:at+n], s)
	if err != nil {
		d.fail()
		return nil
	}
	d.arena = d.arena[:at+got]
	d.i = end
	return d.arena[at : at+got : at+got]
}

// finish checks that nothing follows the value; it reports whether the value
// was decoded.
func (d *answerDecoder) finish() bool {
	d.space()
	return d.ok && d.i == len(d.b)
}

func (d *answerDecoder) times(t *Times, name []byte) uint32 {
	switch string(name) {
	case "creation_time_sec":
		t.CreationTimeSec = d.int()
		return 1 << 10
	case "creation_time_nsec":
		t.CreationTimeNsec = d.int()
		return 1 << 11
	case "modification_time_sec":
		t.ModificationTimeSec = d.int()
		return 1 << 12
	case "modification_time_nsec":
		t.ModificationTimeNsec = d.int()
		return 1 << 13
	}
	return 0
}

func (d *answerDecoder) dirInfo(x *DirInfo, depth int) {
	d.object(depth+1, func(name []byte) uint32 {
		switch string(name) {
		case "name":
			x.Name = d.str()
			return 1
		case "is_private":
			x.IsPrivate = d.bool()
			return 2
		case "is_versioned":
			x.IsVersioned = d.bool()
			return 4
		case "user_metadata":
			x.UserMetadata = d.bytes()
			return 8
		}
		return d.times(&x.Times, name)
	})
}

func (d *answerDecoder) fileInfo(x *FileInfo, depth int) {
	d.object(depth+1, func(name []byte) uint32 {
		switch string(name) {
		case "name":
			x.Name = d.str()
			return 1
		case "size":
			x.Size = d.int()
			return 2
		case "user_metadata":
			x.UserMetadata = d.bytes()
			return 8
		}
		return d.times(&x.Times, name)
	})
}

// decodeGetDir decodes raw into r in one pass, or reports false having
// written nothing of raw (r may be partly written).
func decodeGetDir(raw []byte, r *GetDirResponse) bool {
	d := answerDecoder{b: raw, ok: true}
	d.object(1, func(name []byte) uint32 {
		switch string(name) {
		case "info":
			if !d.null() {
				d.dirInfo(&r.Info, 1)
			}
			return 1
		case "sub_directories":
			r.SubDirectories = list(&d, func(x *DirInfo) { d.dirInfo(x, 2) })
			return 2
		case "files":
			r.Files = list(&d, func(x *FileInfo) { d.fileInfo(x, 2) })
			return 4
		}
		return 0
	})
	return d.finish()
}
