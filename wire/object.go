package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

var (
	errWrongKind = errors.New("wrong JSON type")
	errBadBase64 = errors.New("invalid base64")
)

// Object decodes one JSON object field by field, remembering the first error.
// Every error is an *Error whose description names the field by its full path
// (e.g. "data.new_values.name"). Unknown fields are ignored, so that newer apps
// can talk to older launchers. Field names match exactly, case included (as
// the original launcher's serde did; encoding/json would also match
// "IS_PATH_SHARED" to is_path_shared); of duplicate names the last wins.
type Object struct {
	path   string  // the name of a top-level object
	parent *Object // for a nested object: its parent and the field it is in
	field  string
	index  int // >= 0: the object is element index of that field (an array)
	m      []member
	err    error
	owned  bool      // base64 fields may be decoded in place (DecodeOwned)
	small  [4]member // m's first home: most objects have two to four members
}

// NewObject decodes raw as a JSON object; path names it in errors ("data").
// A raw that is absent, null or not an object gives an Object whose Err says so.
func NewObject(path string, raw []byte) *Object {
	o := &Object{path: path, index: -1}
	o.parse(raw, maxNesting)
	return o
}

// nested returns the object in field of o (element index of it if index >=
// 0); raw is known to be valid JSON, as part of o. Its path in errors is
// only built if there is an error.
func (o *Object) nested(field string, index int, raw []byte) *Object {
	sub := &Object{parent: o, field: field, index: index, owned: o.owned}
	sub.parse(raw, noValidate)
	return sub
}

// where returns the object's path for error messages.
func (o *Object) where() string {
	p := o.path
	if o.parent != nil {
		p = o.parent.name(o.field)
	}
	if o.index >= 0 {
		p += "[" + strconv.Itoa(o.index) + "]"
	}
	return p
}

// parse splits raw into o's members, validating it with nesting limit limit
// (see parseObject); with limit noValidate raw must be known to be valid JSON.
func (o *Object) parse(raw []byte, limit int) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		o.err = Errorf(CodeMissingField, "missing field %q", o.where())
		return
	}
	if raw[0] != '{' {
		o.err = Errorf(CodeWrongType, "field %q: want a JSON object", o.where())
		return
	}
	m, end, err := parseObject(raw, limit, o.small[:0])
	if err == nil && skipSpace(raw, end) != len(raw) {
		err = errSyntax // trailing data after the object
	}
	if err != nil {
		o.err = Errorf(CodeInvalidJSON, "field %q: invalid JSON", o.where())
		return
	}
	o.m = m
}

// get returns the value of the last member called name (encoding/json keeps
// the last of duplicate names).
func (o *Object) get(name string) ([]byte, bool) {
	for i := len(o.m) - 1; i >= 0; i-- {
		if string(o.m[i].name) == name {
			return o.m[i].value, true
		}
	}
	return nil, false
}

// Err returns the first error met, or nil.
func (o *Object) Err() error { return o.err }

// Has reports whether the field is present (even as null).
func (o *Object) Has(name string) bool {
	_, ok := o.get(name)
	return ok
}

func (o *Object) name(field string) string {
	w := o.where()
	if w == "" {
		return field
	}
	return w + "." + field
}

// raw returns a field's raw value; a missing required field sets the error.
func (o *Object) raw(field string, required bool) (json.RawMessage, bool) {
	if o.err != nil {
		return nil, false
	}
	v, ok := o.get(field)
	if !ok {
		if required {
			o.err = Errorf(CodeMissingField, "missing field %q", o.name(field))
		}
		return nil, false
	}
	return v, true
}

func (o *Object) wrongType(field, want string) {
	o.err = Errorf(CodeWrongType, "field %q: want %s", o.name(field), want)
}

// String returns a mandatory string field.
func (o *Object) String(field string) string {
	s, _ := o.str(field, true)
	return s
}

// OptString returns an optional string field, nil when absent.
func (o *Object) OptString(field string) *string {
	s, ok := o.str(field, false)
	if !ok {
		return nil
	}
	return &s
}

func (o *Object) str(field string, required bool) (string, bool) {
	v, ok := o.raw(field, required)
	if !ok {
		return "", false
	}
	return o.strValue(field, v)
}

// strValue decodes v, the raw value of field, as a string.
func (o *Object) strValue(field string, v []byte) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		o.wrongType(field, "a string")
		return "", false
	}
	s, err := stringValue(v)
	if err != nil {
		o.wrongType(field, "a string")
		return "", false
	}
	return s, true
}

// Bool returns a mandatory boolean field.
func (o *Object) Bool(field string) bool {
	v, ok := o.raw(field, true)
	if !ok {
		return false
	}
	switch string(v) {
	case "true":
		return true
	case "false":
		return false
	}
	o.wrongType(field, "true or false")
	return false
}

// OptBool returns an optional boolean field, def when absent.
func (o *Object) OptBool(field string, def bool) bool {
	if !o.Has(field) {
		return def
	}
	return o.Bool(field)
}

// Int64 returns a mandatory integer field.
func (o *Object) Int64(field string) int64 {
	n, _ := o.int(field, true)
	return n
}

// OptInt64 returns an optional integer field, nil when absent.
func (o *Object) OptInt64(field string) *int64 {
	n, ok := o.int(field, false)
	if !ok {
		return nil
	}
	return &n
}

func (o *Object) int(field string, required bool) (int64, bool) {
	v, ok := o.raw(field, required)
	if !ok {
		return 0, false
	}
	return o.intValue(field, v)
}

// intValue decodes v, the raw value of field, as a 64-bit integer.
func (o *Object) intValue(field string, v []byte) (int64, bool) {
	if n, ok := smallInt(v); ok {
		return n, true
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		o.wrongType(field, "a 64-bit integer")
		return 0, false
	}
	return n, true
}

// smallInt parses -?[0-9]{1,18} (no overflow possible), the common case,
// without strconv; anything else reports false.
func smallInt(v []byte) (int64, bool) {
	neg := len(v) > 0 && v[0] == '-'
	d := v
	if neg {
		d = v[1:]
	}
	if len(d) == 0 || len(d) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// Bytes returns a mandatory base64 field.
func (o *Object) Bytes(field string) Bytes {
	b, _ := o.bytes(field, true)
	return b
}

// OptBytes returns an optional base64 field, nil when absent.
func (o *Object) OptBytes(field string) *Bytes {
	b, ok := o.bytes(field, false)
	if !ok {
		return nil
	}
	return &b
}

func (o *Object) bytes(field string, required bool) (Bytes, bool) {
	v, ok := o.raw(field, required)
	if !ok {
		return nil, false
	}
	return o.bytesValue(field, v)
}

// bytesValue decodes v, the raw value of field, as base64.
func (o *Object) bytesValue(field string, v []byte) (Bytes, bool) {
	var b []byte
	var err error
	if o.owned {
		b, err = decodeBase64InPlace(v)
	} else {
		b, err = decodeBase64Value(v)
	}
	switch {
	case errors.Is(err, errWrongKind):
		o.wrongType(field, "a base64 string")
		return nil, false
	case err != nil:
		o.err = Errorf(CodeBadBase64, "field %q: not standard padded base64", o.name(field))
		return nil, false
	}
	return b, true
}

// Object returns a mandatory nested object field.
func (o *Object) Object(field string) *Object {
	v, ok := o.raw(field, true)
	if !ok {
		return &Object{parent: o, field: field, index: -1, err: o.err}
	}
	sub := o.nested(field, -1, v)
	if sub.err != nil {
		o.err = sub.err
	}
	return sub
}

// OptObject returns an optional nested object field, nil when absent.
func (o *Object) OptObject(field string) *Object {
	if o.err != nil || !o.Has(field) {
		return nil
	}
	return o.Object(field)
}

// Check records err (if o has none yet) and returns o's error; decoders use it
// to fold a nested object's error into the parent.
func (o *Object) Check(sub *Object) {
	if o.err == nil && sub != nil && sub.err != nil {
		o.err = sub.err
	}
}

// CheckDepth reports an *Error with CodeLimit if the JSON text b nests arrays or
// objects deeper than max. It does not validate the JSON otherwise.
func CheckDepth(b []byte, max int) error {
	depth := 0
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			// Skip ahead to the next quote or backslash (two vectorised
			// searches are much faster than IndexAny on long strings).
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				j = len(b) - i
			}
			if k := bytes.IndexByte(b[i:i+j], '\\'); k >= 0 {
				j = k
			} else if i+j == len(b) {
				return nil
			}
			i += j
			if b[i] == '\\' {
				i++
			} else {
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > max {
				return Errorf(CodeLimit, "JSON nests deeper than %d levels", max)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
