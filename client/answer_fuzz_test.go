package client

import (
	"errors"
	"testing"

	"github.com/safe-launcher/launcher/wire"
)

// FuzzParseAnswer feeds the receive loop's decoding of an opened frame
// (parseAnswer) and of an unencrypted one (plainError) arbitrary bytes:
// neither may panic; a frame is an answer to a request only with a
// non-empty id, an event only without an id; and whatever
// wire.ParseResponse refuses is a malformed answer.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{
		`{"id":"abc","data":{"info":{"name":"d"}}}`,
		`{"id":"abc","error":{"code":-200,"description":"not found"}}`,
		`{"id":"abc","error":{"code":0,"description":""}}`,
		`{"id":"","error":{"code":-121,"description":"frame too large"}}`,
		`{"event":"changed","data":{"path":"a/b"}}`,
		`{"event":"changed","id":null}`,
		`{"id":"abc","data":{},"id":"other"}`,
		`{"id":"abc","data":{}}}`,
		`{ "id" : "a\u0062c" , "data" : [1,2,3] }`,
		`{"id":7}`,
		`{"error":{"code":"x"}}`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = plainError(b)
		in := append([]byte(nil), b...)
		a, err := parseAnswer(in)
		if _, perr := wire.ParseResponse(b); (perr != nil) != (err != nil) {
			t.Fatalf("parseAnswer error %v, ParseResponse error %v", err, perr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformedAnswer) {
				t.Fatalf("error %v is not ErrMalformedAnswer", err)
			}
			return
		}
		switch a.kind {
		case kindReply:
			if a.id == "" {
				t.Fatal("an answer to a request without an id")
			}
		case kindEvent, kindStray:
			if a.id != "" {
				t.Fatalf("kind %d with id %q", a.kind, a.id)
			}
		default:
			t.Fatalf("kind %d", a.kind)
		}
	})
}
