package wire

import (
	"encoding/json"
	"unicode/utf8"
)

// DecodeOwned is Decode for a caller that owns raw and gives it up: base64
// fields are decoded in place, over raw, instead of into new buffers, so a
// large content costs no second copy. raw must not be used afterwards, nor
// any value decoded from it before (they may share its storage).
func DecodeOwned(raw []byte, v Decoder) error {
	o := NewObject("data", raw)
	if o.Err() != nil {
		return o.Err()
	}
	o.owned = true
	v.DecodeFrom(o)
	return o.Err()
}

// ParseResponse decodes an answer envelope, as json.Unmarshal into a Response
// would, without copying data: Data points into b. The data value is only
// delimited here, not validated: decoding it (Decode, DecodeOwned or
// json.Unmarshal) does that, so that an answer is validated once.
func ParseResponse(b []byte) (Response, error) {
	var r Response
	o := &Object{index: -1}
	o.parse(b, noValidate)
	for _, m := range o.m {
		if o.err == nil && string(m.name) != "data" {
			if end, err := validValue(m.value, 0, 1, maxNesting); err != nil || end != len(m.value) {
				o.err = Errorf(CodeInvalidJSON, "field %q: invalid JSON", string(m.name))
			}
		}
	}
	if o.Err() != nil {
		return r, o.Err()
	}
	if v, ok := o.get("id"); ok && string(v) != "null" {
		r.ID = o.String("id")
	}
	if v, ok := o.get("data"); ok {
		r.Data = v // null stays "null", as with json.RawMessage
	}
	if v, ok := o.get("error"); ok && string(v) != "null" {
		e := o.Object("error")
		r.Error = &struct {
			Code        Code   `json:"code"`
			Description string `json:"description"`
		}{}
		if c := e.optNonNull("code"); c {
			r.Error.Code = Code(e.Int64("code"))
		}
		if d := e.optNonNull("description"); d {
			r.Error.Description = e.String("description")
		}
		o.Check(e)
	}
	return r, o.Err()
}

// optNonNull reports whether field is present and not null.
func (o *Object) optNonNull(field string) bool {
	v, ok := o.get(field)
	return ok && string(v) != "null"
}

// appendJSONString appends s as a JSON string, escaped as encoding/json does
// (HTML-safe, invalid UTF-8 replaced).
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// DecodeFrom implements Decoder for answers: absent fields stay zero, as
// with encoding/json; a field of the wrong type is an error.
func (d *DirInfo) DecodeFrom(o *Object) {
	d.Name = optString(o, "name")
	d.Times.decodeFrom(o)
	d.IsPrivate = optBoolAnswer(o, "is_private")
	d.IsVersioned = optBoolAnswer(o, "is_versioned")
	d.UserMetadata = optBytes(o, "user_metadata")
}

// DecodeFrom implements Decoder for answers (see DirInfo.DecodeFrom).
func (f *FileInfo) DecodeFrom(o *Object) {
	f.Name = optString(o, "name")
	f.Size = optInt(o, "size")
	f.Times.decodeFrom(o)
	f.UserMetadata = optBytes(o, "user_metadata")
}

func (t *Times) decodeFrom(o *Object) {
	t.CreationTimeSec = optInt(o, "creation_time_sec")
	t.CreationTimeNsec = optInt(o, "creation_time_nsec")
	t.ModificationTimeSec = optInt(o, "modification_time_sec")
	t.ModificationTimeNsec = optInt(o, "modification_time_nsec")
}

// DecodeFrom implements Decoder for answers (see DirInfo.DecodeFrom).
func (r *GetDirResponse) DecodeFrom(o *Object) {
	if o.optNonNull("info") {
		info := o.Object("info")
		r.Info.DecodeFrom(info)
		o.Check(info)
	}
	r.SubDirectories = decodeList(o, "sub_directories", func(e *Object) DirInfo {
		var d DirInfo
		d.DecodeFrom(e)
		return d
	})
	r.Files = decodeList(o, "files", func(e *Object) FileInfo {
		var f FileInfo
		f.DecodeFrom(e)
		return f
	})
}

// DecodeFrom implements Decoder for answers (see DirInfo.DecodeFrom).
func (r *GetFileResponse) DecodeFrom(o *Object) {
	r.Content = optBytes(o, "content")
	if o.optNonNull("metadata") {
		m := o.Object("metadata")
		r.Metadata = new(FileInfo)
		r.Metadata.DecodeFrom(m)
		o.Check(m)
	}
}

// The opt* getters read an answer's field, absent or null giving the zero
// value (as encoding/json does), with one lookup.

func optString(o *Object, field string) string {
	if v, ok := o.present(field); ok {
		s, _ := o.strValue(field, v)
		return s
	}
	return ""
}

func optInt(o *Object, field string) int64 {
	if v, ok := o.present(field); ok {
		n, _ := o.intValue(field, v)
		return n
	}
	return 0
}

func optBytes(o *Object, field string) Bytes {
	if v, ok := o.present(field); ok {
		b, _ := o.bytesValue(field, v)
		return b
	}
	return nil
}

func optBoolAnswer(o *Object, field string) bool {
	v, ok := o.present(field)
	if !ok {
		return false
	}
	switch string(v) {
	case "true":
		return true
	case "false":
	default:
		o.wrongType(field, "true or false")
	}
	return false
}

// present returns the raw value of a field that is there and not null,
// unless o already has an error.
func (o *Object) present(field string) ([]byte, bool) {
	if o.err != nil {
		return nil, false
	}
	v, ok := o.get(field)
	if !ok || string(v) == "null" {
		return nil, false
	}
	return v, true
}

// decodeList decodes an array of objects; null or absent is nil. one must
// not keep the Object it is given.
func decodeList[T any](o *Object, field string, one func(*Object) T) []T {
	if o.err != nil || !o.optNonNull(field) {
		return nil
	}
	v, _ := o.get(field)
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '[' {
		o.wrongType(field, "an array")
		return nil
	}
	out := []T{}
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == ']' {
		return out
	}
	// One Object serves every element in turn (one must not keep it).
	e := &Object{parent: o, field: field, owned: o.owned}
	for n := 0; ; n++ {
		// Each element is split where it starts: one pass over its bytes.
		e.index, e.err = n, nil
		var end int
		if i < len(v) && v[i] == '{' {
			var err error
			if e.m, end, err = parseObject(v[i:], noValidate, e.m); err != nil {
				e.err = Errorf(CodeInvalidJSON, "field %q: invalid JSON", e.where())
			}
			end += i
		} else {
			e.err = Errorf(CodeWrongType, "field %q: want a JSON object", e.where())
		}
		if e.err != nil {
			o.err = e.err
			return nil
		}
		out = append(out, one(e))
		if e.err != nil {
			o.err = e.err
			return nil
		}
		i = skipSpace(v, end)
		if i < len(v) && v[i] == ']' {
			return out
		}
		if i >= len(v) || v[i] != ',' {
			o.err = Errorf(CodeInvalidJSON, "field %q: invalid JSON", o.name(field))
			return nil
		}
		i = skipSpace(v, i+1)
	}
}
