package wire

import "encoding/json"

// appendJSONString appends s as a JSON string, escaped as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}
