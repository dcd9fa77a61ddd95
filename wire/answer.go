package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Answer is the data of a successful answer: one of this package's answer
// types (*GetDirResponse, *GetFileStream, *LongNamesResponse,
// *ServicesResponse, and the launcher module's). Handlers return one, or
// nil for success without data; the daemon encodes it with AppendAnswer.
// The set is closed: the methods are unexported, so the daemon needs no
// reflection or interface probing to encode what a handler returns.
type Answer interface {
	// appendData appends the data's JSON object to dst.
	appendData(dst []byte) ([]byte, error)
	// maxSize is an upper bound of the bytes appendData adds when the
	// answer may be large (file content), else 0.
	maxSize() int64
	// release frees what the answer holds (an open content) when it will
	// not be encoded. It may be called more than once.
	release()
}

// AppendAnswer appends {"id":ID,"data":DATA} to dst. A nil a is success
// without data: {"id":ID,"error":{"code":0,"description":""}}, as the
// original launcher answered (apps test error.code and never expect
// "data":null). An answer that reads what it encodes (file content) may
// fail, and is released either way.
func AppendAnswer(dst []byte, id string, a Answer) ([]byte, error) {
	if a == nil {
		return AppendError(dst, id, CodeOK, ""), nil
	}
	defer a.release()
	dst = append(dst, `{"id":`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"data":`...)
	dst, err := a.appendData(dst)
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// AnswerSize is an upper bound of the bytes AppendAnswer adds for a, when a
// may be large (file content); it is 0 for the small answers, whose size is
// bounded by the store's listing limits.
func AnswerSize(a Answer) int64 {
	if a == nil {
		return 0
	}
	return a.maxSize() + 256
}

// ReleaseAnswer frees what a holds when it will not be encoded (the request
// failed later, or the session ended). It may be called more than once and
// with nil.
func ReleaseAnswer(a Answer) {
	if a != nil {
		a.release()
	}
}

// appendMarshal appends v as encoding/json writes it.
func appendMarshal(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// appendData writes what json.Marshal(r) writes, byte for byte (tests
// compare them), straight into dst, grown once to about the answer's size;
// past smallListing entries one entry at a time, so that a listing of
// 100,000 entries is encoded without the marshaller's own growing copy of
// the whole answer beside dst.
func (r *GetDirResponse) appendData(dst []byte) ([]byte, error) {
	dst = slices.Grow(dst, r.sizeHint())
	a := appender{b: dst}
	enc := json.NewEncoder(&a)
	if len(r.SubDirectories)+len(r.Files) <= smallListing {
		// One Encode: its buffer (encoding/json's, pooled) stays small.
		if err := enc.Encode(r); err != nil {
			return a.b, err
		}
		return a.b[:len(a.b)-1], nil
	}
	item := func(v any) error {
		if err := enc.Encode(v); err != nil {
			return err
		}
		a.b = a.b[:len(a.b)-1] // Encode ends each value with a newline
		return nil
	}
	a.b = append(a.b, `{"info":`...)
	if err := item(&r.Info); err != nil {
		return a.b, err
	}
	a.b = append(a.b, `,"sub_directories":`...)
	if err := appendList(&a, r.SubDirectories, item); err != nil {
		return a.b, err
	}
	a.b = append(a.b, `,"files":`...)
	if err := appendList(&a, r.Files, item); err != nil {
		return a.b, err
	}
	return append(a.b, '}'), nil
}

// smallListing is the most entries a get-dir answer has for appendData to
// encode it in one Encode: a larger one goes an entry at a time, so that
// encoding/json's buffer (which it keeps pooled) never holds a whole large
// answer.
const smallListing = 64

// appendList writes list as json.Marshal does (null when nil), each element
// through item.
func appendList[T any](a *appender, list []T, item func(any) error) error {
	if list == nil {
		a.b = append(a.b, "null"...)
		return nil
	}
	a.b = append(a.b, '[')
	for i := range list {
		if i > 0 {
			a.b = append(a.b, ',')
		}
		if err := item(&list[i]); err != nil {
			return err
		}
	}
	a.b = append(a.b, ']')
	return nil
}

// sizeHint is about the size of r's JSON: what a listing's names and
// metadata take, plus each entry's fixed members.
func (r *GetDirResponse) sizeHint() int {
	const fixed = 192 // member names, four times, size, flags
	n := 64 + fixed + len(r.Info.Name) + base64.StdEncoding.EncodedLen(len(r.Info.UserMetadata))
	for i := range r.SubDirectories {
		d := &r.SubDirectories[i]
		n += fixed + len(d.Name) + base64.StdEncoding.EncodedLen(len(d.UserMetadata))
	}
	for i := range r.Files {
		f := &r.Files[i]
		n += fixed + len(f.Name) + base64.StdEncoding.EncodedLen(len(f.UserMetadata))
	}
	return n
}

// appender is an io.Writer that appends to b.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

func (r *GetDirResponse) maxSize() int64 { return 0 }
func (r *GetDirResponse) release()       {}

func (r *LongNamesResponse) appendData(dst []byte) ([]byte, error) { return appendMarshal(dst, r) }
func (r *LongNamesResponse) maxSize() int64                        { return 0 }
func (r *LongNamesResponse) release()                              {}

func (r *ServicesResponse) appendData(dst []byte) ([]byte, error) { return appendMarshal(dst, r) }
func (r *ServicesResponse) maxSize() int64                        { return 0 }
func (r *ServicesResponse) release()                              {}

// GetFileStream is a get-file answer whose content is read from Content
// while it is encoded, so that the content is never held in memory apart
// from its encoding: the one answer not encoded by encoding/json, because
// json.Marshal of a 64 MiB content would hold the content, its base64 and
// the marshaller's copy at once. Its JSON is GetFileResponse's, byte for
// byte (tests compare them). Content must yield exactly Size bytes; it is
// closed once encoded or released.
type GetFileStream struct {
	Content  io.ReadCloser
	Size     int64
	Metadata *FileInfo
}

// streamChunk is how much content GetFileStream reads at a time: a multiple
// of 3, so that every chunk but the last encodes to whole base64 groups.
const streamChunk = 3 << 18

func (r *GetFileStream) appendData(dst []byte) ([]byte, error) {
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
		dst = enc.AppendEncode(dst, buf[:c])
	}
	dst = append(dst, '"')
	if r.Metadata != nil {
		dst = append(dst, `,"metadata":`...)
		var err error
		if dst, err = appendMarshal(dst, r.Metadata); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func (r *GetFileStream) maxSize() int64 {
	n := int64(base64.StdEncoding.EncodedLen(int(r.Size))) + 32
	if m := r.Metadata; m != nil {
		n += 256 + 6*int64(len(m.Name)) + int64(base64.StdEncoding.EncodedLen(len(m.UserMetadata)))
	}
	return n
}

func (r *GetFileStream) release() { _ = r.Close() }

// Close closes the content; it may be called more than once.
func (r *GetFileStream) Close() error {
	if r.Content == nil {
		return nil
	}
	err := r.Content.Close()
	r.Content = nil
	return err
}

// RawObject is an answer whose data is a JSON object the handler already
// has as bytes (a test module's echo, a tool). It is checked when encoded:
// anything but one valid JSON object fails like a handler error, so the
// daemon never writes invalid JSON.
type RawObject []byte

func (r RawObject) appendData(dst []byte) ([]byte, error) {
	b := bytes.TrimSpace(r)
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return dst, errors.New("wire: a RawObject answer is not one JSON object")
	}
	return append(dst, b...), nil
}
func (r RawObject) maxSize() int64 { return int64(len(r)) }
func (r RawObject) release()       {}
