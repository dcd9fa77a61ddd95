// Package wire owns what crosses the wire after the handshake and is shared by
// the daemon and the SDK: the request and answer envelopes, the base64 byte type,
// the endpoint grammar, the error codes and the typed error that carries them,
// and the request and answer types of every endpoint.
//
// It is a leaf: it imports nothing of this module. Decoding is strict: request
// types decode through Object, which reports a missing field, a wrong type or bad
// base64 as a *Error whose description names the field.
package wire
