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
	return parseRequest(b, maxNesting)
}

// ParseRequestLimit is CheckDepth(b, maxDepth) followed by ParseRequest(b),
// with the same results and errors, in one pass over b: the depth limit is
// checked while the JSON is validated. maxDepth must be at least 1.
func ParseRequestLimit(b []byte, maxDepth int) (Request, error) {
	// Member values are one level below the envelope: parseObject's limit
	// counts from there.
	r, err := parseRequest(b, min(maxDepth-1, maxNesting))
	if err != nil {
		// Too deep, or invalid: CheckDepth, which reads on through invalid
		// JSON, tells which error the two calls would have given.
		if derr := CheckDepth(b, maxDepth); derr != nil {
			return Request{}, derr
		}
	}
	return r, err
}

func parseRequest(b []byte, limit int) (Request, error) {
	o := &Object{index: -1}
	o.parse(b, limit)
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

// appendID appends id quoted as strconv.Quote does (as the original launcher
// wrote it). An id is base64, whose bytes are written as they are; anything
// else goes through strconv.
func appendID(dst []byte, id string) []byte {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return strconv.AppendQuote(dst, id)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, id...)
	return append(dst, '"')
}

// AppendError appends {"id":ID,"error":{"code":C,"description":D}} to dst. Code 0
// with an empty description is the answer to a request that succeeded with no data.
func AppendError(dst []byte, id string, code Code, description string) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"error":{"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, `,"description":`...)
	dst = appendJSONString(dst, description) // json.Marshal's bytes
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
