package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// lockedError is the answer of a route that needs the launcher unlocked.
var lockedError = &Error{Code: CodeLocked, Message: "the launcher is locked; unlock it first: launcher unlock"}

// locked reports whether the launcher is locked: the account's view when
// there is one (it locks before the daemon and unlocks after it), else the
// daemon's.
func (s *Server) locked() bool {
	if s.cfg.Account != nil {
		return s.cfg.Account.Locked() || s.cfg.Daemon.Locked()
	}
	return s.cfg.Daemon.Locked()
}

// unlockedOnly answers CodeLocked instead of h while the launcher is locked.
func (s *Server) unlockedOnly(h handler) handler {
	return func(r *http.Request) (any, error) {
		if s.locked() {
			return nil, lockedError
		}
		return h(r)
	}
}

// noAccount is the answer of the lock routes without an Account.
var noAccount = &Error{Code: CodeNoAccount, Message: "this daemon has no account to lock or unlock"}

func (s *Server) unlock(r *http.Request) (any, error) {
	var req UnlockRequest
	if err := decodeSecret(r, &req); err != nil {
		return nil, err
	}
	defer clear(req.Passphrase)
	if s.cfg.Account == nil {
		return nil, noAccount
	}
	changed, err := s.cfg.Account.Unlock(r.Context(), req.Passphrase)
	if err != nil {
		return nil, err
	}
	return LockState{Locked: false, Changed: changed}, nil
}

func (s *Server) lock(r *http.Request) (any, error) {
	if s.cfg.Account == nil {
		return nil, noAccount
	}
	changed := s.cfg.Account.Lock(r.Context())
	return LockState{Locked: true, Changed: changed}, nil
}

func (s *Server) passwd(r *http.Request) (any, error) {
	var req PasswdRequest
	if err := decodeSecret(r, &req); err != nil {
		return nil, err
	}
	defer clear(req.Old)
	defer clear(req.New)
	if s.cfg.Account == nil {
		return nil, noAccount
	}
	if err := s.cfg.Account.ChangePassphrase(r.Context(), req.Old, req.New); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// maxSecretBody bounds the body of a request carrying passphrases.
const maxSecretBody = 16 << 10

// decodeSecret reads a request body carrying passphrases into a buffer of
// its own, decodes it strictly into v and wipes the buffer. The error never
// quotes the body.
func decodeSecret(r *http.Request, v any) error {
	buf := make([]byte, maxSecretBody+1) // one buffer, never grown: all of it is wiped
	defer clear(buf)
	n, err := io.ReadFull(r.Body, buf)
	switch {
	case err == nil:
		return &Error{Code: CodeInvalid, Message: "request body: too large"}
	case !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF):
		return &Error{Code: CodeInvalid, Message: "request body: could not be read"}
	}
	dec := json.NewDecoder(bytes.NewReader(buf[:n]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Code: CodeInvalid, Message: "request body: not the expected JSON object"}
	}
	return nil
}
