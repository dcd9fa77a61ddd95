package wire

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Fast paths for the hot messages: hand-written encoders that produce exactly
// encoding/json's bytes (tests compare them), and decoders on the scanner of
// scan.go. None of them changes what goes on the wire.

// DecodeOwned is Decode for a caller that owns raw and gives it up: base64
// fields are decoded in place, over raw, instead of into new buffers, so a
// large content costs no second copy. raw must not be used afterwards, nor
// any value decoded from it before (they may share its storage).
func DecodeOwned(raw []byte, v Decoder) error {
	if DecodeFast(raw, v) {
		// The answer as the launcher writes it, in one pass; anything else
		// (and every error) through the general path.
		return nil
	}
	o := NewObject("data", raw)
	if o.Err() != nil {
		return o.Err()
	}
	o.owned = true
	v.DecodeFrom(o)
	return o.Err()
}

// DecodeFast decodes data into v in one pass when v has a one-pass decoder
// (GetDirResponse) and data is exactly one JSON value, with spaces around
// it at most, in the shape the launcher writes, validating all of it. It
// reports false otherwise, having written nothing of data and left v as it
// was: decode with DecodeOwned or Decode, which report the error.
func DecodeFast(data []byte, v Decoder) bool {
	r, ok := v.(*GetDirResponse)
	if !ok {
		return false
	}
	was := *r
	if decodeGetDir(data, r) {
		return true
	}
	*r = was
	return false
}

// answerHead and dataHead are how a data answer starts, around its id, as
// the launcher writes it.
const (
	answerHead = `{"id":"`
	dataHead   = `","data":`
)

// SplitAnswer splits an answer written as the launcher writes a data
// answer, {"id":"<id>","data":<data>}, without reading data: the id must be
// printable ASCII without escapes and the answer must end with a closing
// brace. data is everything between "data": and that brace: it is not
// validated, nor known to be one value (`{},"error":{}` fits too). Only a
// decoder that validates all of it and requires one value (DecodeFast) may
// use it; for anything else, or when that decoder declines, the whole
// answer goes through ParseResponse. ok is false for any other shape.
func SplitAnswer(b []byte) (id string, data []byte, ok bool) {
	if len(b) < len(answerHead)+len(dataHead)+2 || string(b[:len(answerHead)]) != answerHead || b[len(b)-1] != '}' {
		return "", nil, false
	}
	i := len(answerHead)
	for ; i < len(b) && plainASCII[b[i]]; i++ {
	}
	if len(b)-i < len(dataHead)+1 || string(b[i:i+len(dataHead)]) != dataHead {
		return "", nil, false
	}
	return string(b[len(answerHead):i]), b[i+len(dataHead) : len(b)-1], true
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

func appendBool(dst []byte, b bool) []byte { return strconv.AppendBool(dst, b) }

func (t Times) appendJSON(dst []byte) []byte {
	dst = append(dst, `"creation_time_sec":`...)
	dst = strconv.AppendInt(dst, t.CreationTimeSec, 10)
	dst = append(dst, `,"creation_time_nsec":`...)
	dst = strconv.AppendInt(dst, t.CreationTimeNsec, 10)
	dst = append(dst, `,"modification_time_sec":`...)
	dst = strconv.AppendInt(dst, t.ModificationTimeSec, 10)
	dst = append(dst, `,"modification_time_nsec":`...)
	return strconv.AppendInt(dst, t.ModificationTimeNsec, 10)
}

func (d *DirInfo) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, d.Name)
	dst = append(dst, ',')
	dst = d.Times.appendJSON(dst)
	dst = append(dst, `,"is_private":`...)
	dst = appendBool(dst, d.IsPrivate)
	dst = append(dst, `,"is_versioned":`...)
	dst = appendBool(dst, d.IsVersioned)
	dst = append(dst, `,"user_metadata":`...)
	dst = AppendBase64String(dst, d.UserMetadata)
	return append(dst, '}')
}

func (f *FileInfo) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, f.Name)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, f.Size, 10)
	dst = append(dst, ',')
	dst = f.Times.appendJSON(dst)
	dst = append(dst, `,"user_metadata":`...)
	dst = AppendBase64String(dst, f.UserMetadata)
	return append(dst, '}')
}

// AppendJSON implements JSONAppender, with encoding/json's exact output.
func (r *GetDirResponse) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"info":`...)
	dst = r.Info.appendJSON(dst)
	dst = append(dst, `,"sub_directories":`...)
	if r.SubDirectories == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range r.SubDirectories {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = r.SubDirectories[i].appendJSON(dst)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"files":`...)
	if r.Files == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range r.Files {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = r.Files[i].appendJSON(dst)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// EncodedSize returns an estimate of the size of r's JSON, for sizing buffers.
func (r *GetDirResponse) EncodedSize() int {
	n := 64 + 200*(1+len(r.SubDirectories)+len(r.Files))
	for i := range r.SubDirectories {
		n += len(r.SubDirectories[i].Name) + len(r.SubDirectories[i].UserMetadata)*4/3
	}
	for i := range r.Files {
		n += len(r.Files[i].Name) + len(r.Files[i].UserMetadata)*4/3
	}
	return n
}

// AppendJSON implements JSONAppender, with encoding/json's exact output.
func (r GetDirRequest) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"timeout_ms":`...)
	dst = strconv.AppendInt(dst, r.TimeoutMs, 10)
	dst = append(dst, `,"is_path_shared":`...)
	dst = appendBool(dst, r.IsPathShared)
	dst = append(dst, `,"dir_path":`...)
	dst = appendJSONString(dst, r.DirPath)
	return append(dst, '}')
}

// AppendJSON implements JSONAppender, with encoding/json's exact output.
func (r CreateFileRequest) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"is_path_shared":`...)
	dst = appendBool(dst, r.IsPathShared)
	dst = append(dst, `,"file_path":`...)
	dst = appendJSONString(dst, r.FilePath)
	dst = append(dst, `,"user_metadata":`...)
	dst = AppendBase64String(dst, r.UserMetadata)
	return append(dst, '}')
}

// AppendJSON implements JSONAppender, with encoding/json's exact output.
func (r FileRequest) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"is_path_shared":`...)
	dst = appendBool(dst, r.IsPathShared)
	dst = append(dst, `,"file_path":`...)
	dst = appendJSONString(dst, r.FilePath)
	return append(dst, '}')
}

// AppendJSON implements JSONAppender, with encoding/json's exact output.
func (r GetFileRequest) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"is_path_shared":`...)
	dst = appendBool(dst, r.IsPathShared)
	dst = append(dst, `,"file_path":`...)
	dst = appendJSONString(dst, r.FilePath)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, r.Offset, 10)
	dst = append(dst, `,"length":`...)
	dst = strconv.AppendInt(dst, r.Length, 10)
	dst = append(dst, `,"include_metadata":`...)
	dst = appendBool(dst, r.IncludeMetadata)
	return append(dst, '}')
}

// AppendJSON implements JSONAppender, with encoding/json's exact output.
func (r ModifyFileRequest) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"is_path_shared":`...)
	dst = appendBool(dst, r.IsPathShared)
	dst = append(dst, `,"file_path":`...)
	dst = appendJSONString(dst, r.FilePath)
	dst = append(dst, `,"new_values":{`...)
	nv := &r.NewValues
	comma := false
	sep := func() {
		if comma {
			dst = append(dst, ',')
		}
		comma = true
	}
	if nv.Name != nil {
		sep()
		dst = append(dst, `"name":`...)
		dst = appendJSONString(dst, *nv.Name)
	}
	if nv.Content != nil {
		sep()
		dst = append(dst, `"content":{`...)
		if nv.Content.Offset != nil {
			dst = append(dst, `"offset":`...)
			dst = strconv.AppendInt(dst, *nv.Content.Offset, 10)
			dst = append(dst, ',')
		}
		dst = append(dst, `"bytes":`...)
		dst = AppendBase64String(dst, nv.Content.Bytes)
		dst = append(dst, '}')
	}
	if nv.UserMetadata != nil {
		sep()
		dst = append(dst, `"user_metadata":`...)
		dst = AppendBase64String(dst, *nv.UserMetadata)
	}
	return append(dst, "}}"...)
}

// EncodedSize returns an upper bound of the size of r's JSON, for sizing buffers.
func (r ModifyFileRequest) EncodedSize() int {
	n := 128 + len(r.FilePath)*6
	if r.NewValues.Name != nil {
		n += 16 + len(*r.NewValues.Name)*6
	}
	if r.NewValues.Content != nil {
		n += 64 + (len(r.NewValues.Content.Bytes)+2)/3*4
	}
	if r.NewValues.UserMetadata != nil {
		n += 24 + (len(*r.NewValues.UserMetadata)+2)/3*4
	}
	return n
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

// JSONErrAppender is implemented by answers whose encoding can fail, because
// they read what they encode (a file's content) while encoding it.
// AppendData uses it before JSONAppender.
type JSONErrAppender interface {
	AppendJSONErr(dst []byte) ([]byte, error)
}

// GetFileStream is a get-file answer whose content is read from Content
// while it is encoded, so that the content is never held in memory apart
// from its encoding. Its JSON is GetFileResponse's, byte for byte. Content
// must yield exactly Size bytes; it is closed by AppendJSONErr or Close.
type GetFileStream struct {
	Content  io.ReadCloser
	Size     int64
	Metadata *FileInfo
}

// streamChunk is how much content GetFileStream reads at a time: a multiple
// of 3 (whole base64 groups) and of 2 (two halves encoded at once).
const streamChunk = 3 << 20

// AppendJSONErr implements JSONErrAppender. Large contents are encoded on
// two cores.
func (r *GetFileStream) AppendJSONErr(dst []byte) ([]byte, error) {
	defer r.Close()
	enc := base64.StdEncoding
	dst = append(dst, `{"content":"`...)
	dst = slices.Grow(dst, enc.EncodedLen(int(r.Size))+1)
	buf := make([]byte, min(r.Size, streamChunk))
	for left := r.Size; left > 0; {
		c := int(min(left, streamChunk))
		if _, err := io.ReadFull(r.Content, buf[:c]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				err = fmt.Errorf("content is shorter than %d bytes: %w", r.Size, err)
			}
			return dst, err
		}
		left -= int64(c)
		p := len(dst)
		dst = dst[:p+enc.EncodedLen(c)]
		if c < parallelBase64 {
			enc.Encode(dst[p:], buf[:c])
			continue
		}
		half := c / 2 / 3 * 3
		var wg sync.WaitGroup
		wg.Go(func() { enc.Encode(dst[p:], buf[:half]) })
		enc.Encode(dst[p+enc.EncodedLen(half):], buf[half:c])
		wg.Wait()
	}
	dst = append(dst, '"')
	if r.Metadata != nil {
		dst = (&GetFileResponse{Metadata: r.Metadata}).appendMetadata(dst)
	}
	return append(dst, '}'), nil
}

// Close closes the content; it may be called more than once.
func (r *GetFileStream) Close() error {
	if r.Content == nil {
		return nil
	}
	err := r.Content.Close()
	r.Content = nil
	return err
}

// EncodedSize returns an upper bound of the size of r's JSON, for sizing buffers.
func (r *GetFileStream) EncodedSize() int {
	g := GetFileResponse{Metadata: r.Metadata}
	return g.EncodedSize() + base64.StdEncoding.EncodedLen(int(r.Size))
}
