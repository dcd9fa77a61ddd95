package wire

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"strconv"
)

// Request is a decoded request envelope. Data holds the "data" object, or the
// "parameters" object when "data" is absent (the RFC's add-service example uses
// "parameters").
type Request struct {
	Endpoint string
	Data     json.RawMessage
}

// ParseRequest decodes a request envelope. Errors are *Error naming the field.
func ParseRequest(b []byte) (Request, error) {
	o := NewObject("", b)
	if o.Err() != nil {
		return Request{}, Errorf(CodeInvalidJSON, "the message is not a JSON object")
	}
	r := Request{Endpoint: o.String("endpoint")}
	if v, ok := o.get("data"); ok {
		r.Data = v
	} else if v, ok := o.get("parameters"); ok {
		r.Data = v
	}
	return r, o.Err()
}

// IDSize is the length of a response id: base64 of a SHA-512 digest.
const IDSize = 88

// ID returns the response id for a request frame body: base64(SHA-512(p)).
func ID(p []byte) string {
	sum := sha512.Sum512(p)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// JSONAppender is implemented by answer types that encode themselves faster
// than encoding/json (large base64 payloads).
type JSONAppender interface {
	AppendJSON(dst []byte) []byte
}

// AppendData appends {"id":ID,"data":DATA} to dst.
func AppendData(dst []byte, id string, data any) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendQuote(dst, id)
	dst = append(dst, `,"data":`...)
	if a, ok := data.(JSONErrAppender); ok {
		var err error
		if dst, err = a.AppendJSONErr(dst); err != nil {
			return dst, err
		}
	} else if a, ok := data.(JSONAppender); ok {
		dst = a.AppendJSON(dst)
	} else {
		b, err := json.Marshal(data)
		if err != nil {
			return dst, err
		}
		dst = append(dst, b...)
	}
	return append(dst, '}'), nil
}

// AppendError appends {"id":ID,"error":{"code":C,"description":D}} to dst. Code 0
// with an empty description is the answer to a request that succeeded with no data.
func AppendError(dst []byte, id string, code Code, description string) []byte {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendQuote(dst, id)
	dst = append(dst, `,"error":{"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, `,"description":`...)
	d, _ := json.Marshal(description) // a string always marshals
	dst = append(dst, d...)
	return append(dst, "}}"...)
}

// Response is a decoded answer, as the SDK sees it.
type Response struct {
	ID    string          `json:"id"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error *struct {
		Code        Code   `json:"code"`
		Description string `json:"description"`
	} `json:"error,omitempty"`
}

// Err returns the answer's error as an *Error, or nil for success (no error, or code 0).
func (r *Response) Err() error {
	if r.Error == nil || r.Error.Code == CodeOK {
		return nil
	}
	return &Error{Code: r.Error.Code, Description: r.Error.Description}
}
