// Package handshake owns the launcher protocol's authenticate-app exchange and the
// encrypted channel that follows it.
//
// The app sends, in plain JSON, a launcher string, a 24-byte box nonce and its
// Curve25519 public key. The launcher makes a fresh secretbox key and nonce and a
// fresh box key pair, and answers with box.Seal(nonce||key) under the app's nonce
// and key, plus its public key. From then on every frame is secretbox-sealed.
//
// Two nonce modes exist. Fixed mode is the original protocol: the same nonce for
// every message in both directions. It is kept so that apps written for the
// original launcher work unchanged, but it is cryptographically broken (nonce
// reuse under one key) and a launcher may refuse it. Counter mode is opted into
// with "nonce_mode":"counter": the nonce handed over is a base N, the app's k-th
// message uses N+2k and the launcher's k-th message N+2k+1 (192-bit little-endian
// arithmetic), so no nonce is ever used twice and replays fail to open.
//
// Callers must: pass crypto/rand.Reader (or a deterministic reader only in
// tests) as the randomness; call Channel.Seal from one goroutine at a time and
// write frames in the order they were sealed; end the session on an Open failure
// in counter mode; and call Channel.Close to zero the key when the session ends.
//
// Both sides refuse a low-order public key from the other (ErrLowOrderKey):
// the box key it yields is the same whatever the private key.
//
// The package depends on golang.org/x/crypto (nacl/box, nacl/secretbox,
// curve25519, and the salsa20 and poly1305 primitives secretbox is built on,
// for the in-place boxes) and the standard library only. It starts no
// goroutines.
package handshake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/nacl/box"
)

// Sizes of the keys and nonces on the wire.
const (
	KeySize   = 32
	NonceSize = 24
)

// Module and Request name the handshake in an endpoint
// ("safe-api/v1.0/handshake/authenticate-app").
const (
	Module  = "handshake"
	Request = "authenticate-app"
)

// ModeCounter is the nonce_mode value that opts into counter nonces.
const ModeCounter = "counter"

// Key is a Curve25519 or secretbox key.
type Key [KeySize]byte

// Nonce is a box or secretbox nonce.
type Nonce [NonceSize]byte

// Mode is a session's nonce mode.
type Mode int

const (
	// Fixed uses one nonce for every message in both directions (the original protocol).
	Fixed Mode = iota
	// Counter derives a fresh nonce per message from a base (wire-notes part B).
	Counter
)

// String returns "fixed" or "counter".
func (m Mode) String() string {
	if m == Counter {
		return ModeCounter
	}
	return "fixed"
}

var (
	// ErrMalformed is returned for a handshake message that is not the expected JSON.
	ErrMalformed = errors.New("handshake: malformed message")
	// ErrBadNonceMode is returned for a nonce_mode other than "" or "counter".
	ErrBadNonceMode = errors.New("handshake: unknown nonce_mode")
	// ErrFixedRefused is returned by Accept when fixed mode is requested and not allowed.
	ErrFixedRefused = errors.New("handshake: fixed-nonce sessions are refused by this launcher")
	// ErrModeRefused is returned to an app that asked for counter mode and was not granted it.
	ErrModeRefused = errors.New("handshake: launcher did not accept counter nonce mode")
	// ErrOpen is returned when a box or secretbox fails to open.
	ErrOpen = errors.New("handshake: message authentication failed")
	// ErrLowOrderKey is returned by Accept for an asymm_pub_key, and by
	// App.Finish for a launcher_public_key, that is a low-order point (all
	// zeros is one): its shared secret is all zeros, known to anyone. The
	// error is also ErrMalformed, and its text names the field and is fit
	// to send as the handshake error's description.
	ErrLowOrderKey = errors.New("handshake: public key is a low-order point")
)

// RequestData is the data of an authenticate-app request.
type RequestData struct {
	LauncherString string `json:"launcher_string"`
	AsymmNonce     []byte `json:"asymm_nonce"`
	AsymmPubKey    []byte `json:"asymm_pub_key"`
	NonceMode      string `json:"nonce_mode,omitempty"`
}

// RequestMsg is a whole authenticate-app request.
type RequestMsg struct {
	Endpoint string      `json:"endpoint"`
	Data     RequestData `json:"data"`
}

// ResponseData is the data of a successful authenticate-app answer.
type ResponseData struct {
	EncryptedSymmKey  []byte `json:"encrypted_symm_key"`
	LauncherPublicKey []byte `json:"launcher_public_key"`
	NonceMode         string `json:"nonce_mode,omitempty"`
}

// ResponseMsg is a successful authenticate-app answer. It carries no "error" key:
// apps written for the original launcher treat any "error" key as a failure.
type ResponseMsg struct {
	ID   string       `json:"id"`
	Data ResponseData `json:"data"`
}

// RefusedError is a handshake answer that carried an error.
type RefusedError struct {
	Code        int64
	Description string
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("handshake refused (code %d): %s", e.Code, e.Description)
}

// rawRequest mirrors RequestMsg with presence tracking for strict decoding.
type rawRequest struct {
	Endpoint *string `json:"endpoint"`
	Data     *struct {
		LauncherString *string `json:"launcher_string"`
		AsymmNonce     *[]byte `json:"asymm_nonce"`
		AsymmPubKey    *[]byte `json:"asymm_pub_key"`
		NonceMode      *string `json:"nonce_mode"`
	} `json:"data"`
}

// ParseRequest decodes and validates an authenticate-app request. It checks that
// every field is present with the right type and size; it does not check the
// endpoint's text beyond presence (the caller routes it) nor the launcher string's
// validity. Errors wrap ErrMalformed or ErrBadNonceMode and name the field.
func ParseRequest(b []byte) (*RequestMsg, error) {
	var raw rawRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	switch {
	case raw.Endpoint == nil:
		return nil, fmt.Errorf("%w: missing field \"endpoint\"", ErrMalformed)
	case raw.Data == nil:
		return nil, fmt.Errorf("%w: missing field \"data\"", ErrMalformed)
	case raw.Data.LauncherString == nil:
		return nil, fmt.Errorf("%w: missing field \"data.launcher_string\"", ErrMalformed)
	case raw.Data.AsymmNonce == nil:
		return nil, fmt.Errorf("%w: missing field \"data.asymm_nonce\"", ErrMalformed)
	case raw.Data.AsymmPubKey == nil:
		return nil, fmt.Errorf("%w: missing field \"data.asymm_pub_key\"", ErrMalformed)
	}
	m := &RequestMsg{Endpoint: *raw.Endpoint}
	m.Data.LauncherString = *raw.Data.LauncherString
	m.Data.AsymmNonce = *raw.Data.AsymmNonce
	m.Data.AsymmPubKey = *raw.Data.AsymmPubKey
	if raw.Data.NonceMode != nil {
		m.Data.NonceMode = *raw.Data.NonceMode
	}
	if len(m.Data.AsymmNonce) != NonceSize {
		return nil, fmt.Errorf("%w: \"data.asymm_nonce\" is %d bytes, want %d", ErrMalformed, len(m.Data.AsymmNonce), NonceSize)
	}
	if len(m.Data.AsymmPubKey) != KeySize {
		return nil, fmt.Errorf("%w: \"data.asymm_pub_key\" is %d bytes, want %d", ErrMalformed, len(m.Data.AsymmPubKey), KeySize)
	}
	if m.Data.NonceMode != "" && m.Data.NonceMode != ModeCounter {
		return nil, fmt.Errorf("%w: %q (want \"counter\" or absent)", ErrBadNonceMode, truncate(m.Data.NonceMode, 32))
	}
	return m, nil
}

// describeJSONError turns an encoding/json error into a short text naming the
// field, without echoing the input.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var ce base64.CorruptInputError
	switch {
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = "(top level)"
		}
		return fmt.Sprintf("field %q: expected %s, got JSON %s", f, te.Type.String(), te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &ce):
		return "invalid base64"
	case err == io.EOF:
		return "empty message"
	}
	return "invalid JSON"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// EndpointParts splits an endpoint into its four parts, or reports false.
func EndpointParts(ep string) (id, version, module, request string, ok bool) {
	p := strings.Split(ep, "/")
	if len(p) != 4 {
		return "", "", "", "", false
	}
	return p[0], p[1], p[2], p[3], true
}

// Accept runs the launcher side of the handshake for a request already parsed and
// whose launcher string the caller has validated. It returns the answer to send
// (as JSON bytes) and the channel for the session. allowFixed false refuses
// requests without nonce_mode "counter" (ErrFixedRefused). A low-order
// asymm_pub_key is refused with an error that is ErrLowOrderKey and
// ErrMalformed, whose text is the description to send back.
func Accept(rand io.Reader, req *RequestMsg, allowFixed bool) ([]byte, *Channel, error) {
	mode := Fixed
	if req.Data.NonceMode == ModeCounter {
		mode = Counter
	} else if !allowFixed {
		return nil, nil, ErrFixedRefused
	}
	var appPub Key
	var appNonce Nonce
	copy(appPub[:], req.Data.AsymmPubKey)
	copy(appNonce[:], req.Data.AsymmNonce)

	var symmKey Key
	var symmNonce Nonce
	if _, err := io.ReadFull(rand, symmKey[:]); err != nil {
		return nil, nil, fmt.Errorf("handshake: reading random key: %w", err)
	}
	if _, err := io.ReadFull(rand, symmNonce[:]); err != nil {
		return nil, nil, fmt.Errorf("handshake: reading random nonce: %w", err)
	}
	pub, priv, err := newKeyPair(rand)
	if err != nil {
		return nil, nil, err
	}
	shared, err := sharedKey(&priv, &appPub, `"data.asymm_pub_key"`, "generate a fresh key pair")
	clear(priv[:])
	if err != nil {
		clear(symmKey[:])
		clear(symmNonce[:])
		return nil, nil, err
	}
	var plain [NonceSize + KeySize]byte
	copy(plain[:NonceSize], symmNonce[:])
	copy(plain[NonceSize:], symmKey[:])
	sealed := box.SealAfterPrecomputation(nil, plain[:], (*[24]byte)(&appNonce), (*[32]byte)(&shared))
	clear(plain[:])
	clear(shared[:])

	resp := ResponseMsg{Data: ResponseData{EncryptedSymmKey: sealed, LauncherPublicKey: pub[:]}}
	if mode == Counter {
		resp.Data.NonceMode = ModeCounter
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, nil, fmt.Errorf("handshake: encoding answer: %w", err)
	}
	ch := newChannel(symmKey, symmNonce, mode, roleLauncher)
	clear(symmKey[:])
	return out, ch, nil
}

// App is the app side of a handshake in progress.
type App struct {
	pub      Key
	priv     Key // zeroed by Finish
	nonce    Nonce
	mode     Mode
	finished bool
}

// NewApp starts the app side: it makes a key pair and nonce from rand and returns
// the authenticate-app request to send (as JSON bytes). version is the endpoint's
// version, e.g. "v1.0".
func NewApp(rand io.Reader, launcherString, version string, mode Mode) (*App, []byte, error) {
	pub, priv, err := newKeyPair(rand)
	if err != nil {
		return nil, nil, err
	}
	a := &App{pub: pub, priv: priv, mode: mode}
	clear(priv[:])
	if _, err := io.ReadFull(rand, a.nonce[:]); err != nil {
		clear(a.priv[:])
		return nil, nil, fmt.Errorf("handshake: reading random nonce: %w", err)
	}
	req := RequestMsg{
		Endpoint: "safe-api/" + version + "/" + Module + "/" + Request,
		Data: RequestData{
			LauncherString: launcherString,
			AsymmNonce:     a.nonce[:],
			AsymmPubKey:    a.pub[:],
		},
	}
	if mode == Counter {
		req.Data.NonceMode = ModeCounter
	}
	out, err := json.Marshal(req)
	if err != nil {
		return nil, nil, fmt.Errorf("handshake: encoding request: %w", err)
	}
	return a, out, nil
}

// rawResponse decodes either a success or an error answer.
type rawResponse struct {
	ID    *string `json:"id"`
	Data  *ResponseData
	Error *struct {
		Code        int64  `json:"code"`
		Description string `json:"description"`
	} `json:"error"`
}

// Finish reads the launcher's answer and returns the session channel. An error
// answer becomes a *RefusedError; a low-order launcher_public_key is refused
// with an error that is ErrLowOrderKey and ErrMalformed. The app's private
// key is zeroed: Finish may be called once.
func (a *App) Finish(answer []byte) (*Channel, error) {
	if a.finished {
		return nil, errors.New("handshake: Finish called twice")
	}
	a.finished = true
	priv := a.priv
	clear(a.priv[:])
	defer clear(priv[:])
	var raw rawResponse
	if err := json.Unmarshal(answer, &raw); err != nil {
		return nil, fmt.Errorf("%w: answer: %s", ErrMalformed, describeJSONError(err))
	}
	if raw.Error != nil {
		return nil, &RefusedError{Code: raw.Error.Code, Description: raw.Error.Description}
	}
	if raw.Data == nil {
		return nil, fmt.Errorf("%w: answer has neither data nor error", ErrMalformed)
	}
	if len(raw.Data.LauncherPublicKey) != KeySize {
		return nil, fmt.Errorf("%w: launcher_public_key is %d bytes", ErrMalformed, len(raw.Data.LauncherPublicKey))
	}
	mode := Fixed
	switch raw.Data.NonceMode {
	case "":
	case ModeCounter:
		mode = Counter
	default:
		return nil, fmt.Errorf("%w: %q", ErrBadNonceMode, truncate(raw.Data.NonceMode, 32))
	}
	if mode != a.mode {
		if a.mode == Counter {
			return nil, ErrModeRefused
		}
		return nil, fmt.Errorf("%w: launcher chose counter mode unasked", ErrMalformed)
	}
	var lpub Key
	copy(lpub[:], raw.Data.LauncherPublicKey)
	shared, err := sharedKey(&priv, &lpub, "launcher_public_key", "the answer cannot come from a sound launcher")
	if err != nil {
		return nil, err
	}
	plain, ok := box.OpenAfterPrecomputation(nil, raw.Data.EncryptedSymmKey, (*[24]byte)(&a.nonce), (*[32]byte)(&shared))
	clear(shared[:])
	if !ok {
		return nil, fmt.Errorf("%w: encrypted_symm_key", ErrOpen)
	}
	if len(plain) != NonceSize+KeySize {
		clear(plain)
		return nil, fmt.Errorf("%w: encrypted_symm_key holds %d bytes, want %d", ErrMalformed, len(plain), NonceSize+KeySize)
	}
	var key Key
	var nonce Nonce
	copy(nonce[:], plain[:NonceSize])
	copy(key[:], plain[NonceSize:])
	clear(plain)
	ch := newChannel(key, nonce, mode, roleApp)
	clear(key[:])
	return ch, nil
}
