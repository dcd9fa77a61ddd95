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

// object reads an object whose known members are keys, each written as the
// launcher writes it: quoted, then a colon (`"name":`), in the launcher's
// order. The member expected next is matched as those bytes, with no scan of
// its name; any other name is scanned (it must be plain: printable ASCII, no
// escapes) and looked up. field reads the value of keys[k]; the value of a
// name not in keys is validated and skipped at nesting depth depth. A member
// met twice makes the decoder give up.
func (d *answerDecoder) object(depth int, keys []string, field func(k int)) {
	if !d.byte('{') {
		return
	}
	if d.peek() == '}' {
		d.i++
		return
	}
	var seen uint32
	next := 0
	for d.ok {
		d.space()
		k := -1
		if next < len(keys) && len(d.b)-d.i >= len(keys[next]) && string(d.b[d.i:d.i+len(keys[next])]) == keys[next] {
			k = next
			d.i += len(keys[next])
		} else {
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
			for j, key := range keys {
				if len(key) == len(name)+3 && key[1:len(key)-2] == string(name) {
					k = j
					break
				}
			}
		}
		d.space()
		if k >= 0 {
			if seen&(1<<k) != 0 {
				d.fail()
				return
			}
			seen |= 1 << k
			next = k + 1
			field(k)
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

// times reads member k of Times' four, in the launcher's order.
func (d *answerDecoder) times(t *Times, k int) {
	switch k {
	case 0:
		t.CreationTimeSec = d.int()
	case 1:
		t.CreationTimeNsec = d.int()
	case 2:
		t.ModificationTimeSec = d.int()
	case 3:
		t.ModificationTimeNsec = d.int()
	}
}

func (d *answerDecoder) dirInfo(x *DirInfo, depth int) {
	keys := [...]string{`"name":`, `"creation_time_sec":`, `"creation_time_nsec":`, `"modification_time_sec":`,
		`"modification_time_nsec":`, `"is_private":`, `"is_versioned":`, `"user_metadata":`}
	d.object(depth+1, keys[:], func(k int) {
		switch k {
		case 0:
			x.Name = d.str()
		case 5:
			x.IsPrivate = d.bool()
		case 6:
			x.IsVersioned = d.bool()
		case 7:
			x.UserMetadata = d.bytes()
		default:
			d.times(&x.Times, k-1)
		}
	})
}

func (d *answerDecoder) fileInfo(x *FileInfo, depth int) {
	keys := [...]string{`"name":`, `"size":`, `"creation_time_sec":`, `"creation_time_nsec":`, `"modification_time_sec":`,
		`"modification_time_nsec":`, `"user_metadata":`}
	d.object(depth+1, keys[:], func(k int) {
		switch k {
		case 0:
			x.Name = d.str()
		case 1:
			x.Size = d.int()
		case 6:
			x.UserMetadata = d.bytes()
		default:
			d.times(&x.Times, k-2)
		}
	})
}

// decodeGetDir decodes raw into r in one pass, or reports false having
// written nothing of raw (r may be partly written).
func decodeGetDir(raw []byte, r *GetDirResponse) bool {
	d := answerDecoder{b: raw, ok: true}
	keys := [...]string{`"info":`, `"sub_directories":`, `"files":`}
	d.object(1, keys[:], func(k int) {
		switch k {
		case 0:
			if !d.null() {
				d.dirInfo(&r.Info, 1)
			}
		case 1:
			r.SubDirectories = list(&d, func(x *DirInfo) { d.dirInfo(x, 2) })
		case 2:
			r.Files = list(&d, func(x *FileInfo) { d.fileInfo(x, 2) })
		}
	})
	return d.finish()
}
