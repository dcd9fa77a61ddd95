package wire

import (
	"fmt"
	"strconv"
)

// Code is a wire error code. 0 is success; every error is negative and stable.
// docs/errors.md is the table.
type Code int64

// Error codes. Never renumber: apps match on them.
const (
	CodeOK Code = 0

	// Envelope and decoding (-100s).
	CodeInvalidJSON     Code = -100 // the message is not a JSON object
	CodeMissingField    Code = -101 // a mandatory field is absent
	CodeWrongType       Code = -102 // a field has the wrong JSON type
	CodeBadBase64       Code = -103 // a byte field is not standard padded base64
	CodeLimit           Code = -104 // a field, nesting depth or size is over a limit
	CodeBadEndpoint     Code = -110 // the endpoint is not <id>/<version>/<module>/<request>
	CodeUnknownVersion  Code = -111 // the version is not served
	CodeUnknownModule   Code = -112 // no such module
	CodeUnknownRequest  Code = -113 // no such request in the module (for this version)
	CodeHandshakeAgain  Code = -114 // handshake endpoint after the handshake
	CodeDecrypt         Code = -120 // the frame did not decrypt/authenticate
	CodeFrameTooLarge   Code = -121 // the length prefix is over the maximum
	CodeLauncherString  Code = -130 // launcher string wrong, used or expired (unassociated)
	CodeHandshake       Code = -131 // malformed handshake request (unassociated)
	CodeFixedRefused    Code = -132 // fixed-nonce sessions are refused (unassociated)
	CodePeerRefused     Code = -133 // the connection comes from another user's process (unassociated)
	CodeLocked          Code = -134 // the launcher is locked: the user must unlock it (unassociated)
	CodeBusy            Code = -140 // a server limit (connections, in-flight bytes) was hit
	CodeTimeout         Code = -150 // the request's timeout expired
	CodeShuttingDown    Code = -151 // the launcher is shutting down
	CodeAppRemoved      Code = -152 // the app was removed; the session ends
	CodeNeedsCounter    Code = -160 // the request needs a counter-nonce session (launcher/watch)
	CodeUnknownWatch    Code = -161 // no watch of that id in this session
	CodeInternal        Code = -199 // an unexpected failure inside the launcher
	CodePathNotFound    Code = -200 // a path segment or file does not exist
	CodeAlreadyExists   Code = -201 // a file or directory of that name exists
	CodeInvalidPath     Code = -202 // a path segment or name is not allowed
	CodeNotADirectory   Code = -203 // a segment names a file where a directory is needed
	CodeNotAFile        Code = -204 // a file request names a directory
	CodeRootOperation   Code = -205 // the operation is not allowed on a root
	CodeOutOfRange      Code = -206 // offset or length out of bounds
	CodeNoNewValues     Code = -207 // modify-* with nothing to change
	CodeSharedDenied    Code = -208 // SAFEDrive access not granted to this app
	CodeStoreLimit      Code = -209 // a store limit (file size, metadata, entries) hit
	CodeIntegrity       Code = -210 // stored data failed its integrity check
	CodeInvalidDNSName  Code = -300 // long_name or service_name breaks the name rules
	CodeNameTaken       Code = -301 // the long name is registered already
	CodeNameNotFound    Code = -302 // no such long name
	CodeServiceExists   Code = -303 // the service exists on that name
	CodeServiceNotFound Code = -304 // no such service on that name
	CodeServiceDirGone  Code = -305 // the service's home directory was deleted
	CodeServiceDirPriv  Code = -306 // the service's home directory is private
	CodeNotOwner        Code = -307 // the long name belongs to another app
)

// Error is a wire error: an error answer's code and description. It may wrap the
// internal error it was made from (never sent). errors.Is(err, target) holds when
// target is an *Error with the same code, so the Err* values below work as
// sentinels on both sides of the wire.
type Error struct {
	Code        Code
	Description string
	Err         error // the cause, for logs; not sent
}

// Error implements error.
func (e *Error) Error() string {
	if e.Description == "" {
		return "launcher error " + strconv.FormatInt(int64(e.Code), 10)
	}
	return fmt.Sprintf("launcher error %d: %s", e.Code, e.Description)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf makes an *Error with a formatted description.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// Wrap makes an *Error with code whose description is err's text and whose
// cause is err.
func Wrap(code Code, err error) *Error {
	return &Error{Code: code, Description: err.Error(), Err: err}
}

// Sentinels for the common codes, for errors.Is.
var (
	ErrInvalidJSON     = &Error{Code: CodeInvalidJSON}
	ErrMissingField    = &Error{Code: CodeMissingField}
	ErrWrongType       = &Error{Code: CodeWrongType}
	ErrBadBase64       = &Error{Code: CodeBadBase64}
	ErrLimit           = &Error{Code: CodeLimit}
	ErrBadEndpoint     = &Error{Code: CodeBadEndpoint}
	ErrUnknownVersion  = &Error{Code: CodeUnknownVersion}
	ErrUnknownModule   = &Error{Code: CodeUnknownModule}
	ErrUnknownRequest  = &Error{Code: CodeUnknownRequest}
	ErrDecrypt         = &Error{Code: CodeDecrypt}
	ErrLauncherString  = &Error{Code: CodeLauncherString}
	ErrHandshake       = &Error{Code: CodeHandshake}
	ErrPeerRefused     = &Error{Code: CodePeerRefused}
	ErrLocked          = &Error{Code: CodeLocked}
	ErrBusy            = &Error{Code: CodeBusy}
	ErrNeedsCounter    = &Error{Code: CodeNeedsCounter}
	ErrUnknownWatch    = &Error{Code: CodeUnknownWatch}
	ErrTimeout         = &Error{Code: CodeTimeout}
	ErrInternal        = &Error{Code: CodeInternal}
	ErrPathNotFound    = &Error{Code: CodePathNotFound}
	ErrAlreadyExists   = &Error{Code: CodeAlreadyExists}
	ErrInvalidPath     = &Error{Code: CodeInvalidPath}
	ErrNotADirectory   = &Error{Code: CodeNotADirectory}
	ErrNotAFile        = &Error{Code: CodeNotAFile}
	ErrRootOperation   = &Error{Code: CodeRootOperation}
	ErrOutOfRange      = &Error{Code: CodeOutOfRange}
	ErrNoNewValues     = &Error{Code: CodeNoNewValues}
	ErrSharedDenied    = &Error{Code: CodeSharedDenied}
	ErrStoreLimit      = &Error{Code: CodeStoreLimit}
	ErrIntegrity       = &Error{Code: CodeIntegrity}
	ErrInvalidDNSName  = &Error{Code: CodeInvalidDNSName}
	ErrNameTaken       = &Error{Code: CodeNameTaken}
	ErrNameNotFound    = &Error{Code: CodeNameNotFound}
	ErrServiceExists   = &Error{Code: CodeServiceExists}
	ErrServiceNotFound = &Error{Code: CodeServiceNotFound}
	ErrServiceDirGone  = &Error{Code: CodeServiceDirGone}
	ErrServiceDirPriv  = &Error{Code: CodeServiceDirPriv}
	ErrNotOwner        = &Error{Code: CodeNotOwner}
)
