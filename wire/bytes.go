package wire

import (
	"encoding/base64"
	"fmt"
)

// Bytes is binary data that travels as a standard, padded base64 string; empty is "".
type Bytes []byte

// MarshalJSON encodes b as a base64 JSON string.
func (b Bytes) MarshalJSON() ([]byte, error) {
	return AppendBase64String(make([]byte, 0, base64.StdEncoding.EncodedLen(len(b))+2), b), nil
}

// UnmarshalJSON decodes a base64 JSON string. Unlike encoding/json's []byte it
// refuses null and unpadded or line-broken input.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	v, err := decodeBase64Value(data)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// AppendBase64String appends src as a JSON string of standard padded base64.
func AppendBase64String(dst, src []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, src)
	return append(dst, '"')
}

// decodeBase64Value decodes a raw JSON value that must be a base64 string. Base64
// never needs escapes, so a string with a backslash is refused.
func decodeBase64Value(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, errWrongKind
	}
	s := raw[1 : len(raw)-1]
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBase64, err)
	}
	return out[:n], nil
}
