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
	n, err := decodeBase64(out, s)
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}

// decodeBase64InPlace is decodeBase64Value writing the bytes over raw itself
// (which the caller owns and gives up), so that no second buffer of the size
// of the content is needed.
func decodeBase64InPlace(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, errWrongKind
	}
	s := raw[1 : len(raw)-1]
	n, err := decodeForward(raw, s, true)
	if err != nil {
		return nil, err
	}
	return raw[:n], nil
}

// decodeBase64 decodes s (standard, padded) into out.
func decodeBase64(out, s []byte) (int, error) {
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errBadBase64, err)
	}
	return n, nil
}

// decodeForward decodes s into dst, where dst may start at or before s in the
// same array: each chunk is decoded into a small buffer, then copied over
// bytes already read. Padding is allowed only at the end of s, and only if
// last is true.
func decodeForward(dst, s []byte, last bool) (int, error) {
	const chunk = 16 << 10 // characters; a multiple of 4
	var small [96]byte
	var tmp []byte
	if len(s) <= len(small)/3*4 {
		tmp = small[:]
	} else {
		tmp = make([]byte, min(len(s), chunk)/4*3+3)
	}
	w := 0
	for len(s) > 0 {
		c := min(len(s), chunk)
		n, err := decodeBase64(tmp, s[:c])
		if err != nil {
			return 0, err
		}
		if (c < len(s) || !last) && n != c/4*3 {
			// Padding (or a short group) before the end.
			return 0, fmt.Errorf("%w: padding inside the data", errBadBase64)
		}
		s = s[c:]
		w += copy(dst[w:], tmp[:n])
	}
	return w, nil
}
