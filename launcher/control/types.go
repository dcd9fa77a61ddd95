package control

import "time"

// APIPrefix is the prefix of every route; the version is part of the path.
const APIPrefix = "/v0/"

// SocketName is the control socket's file name in the data directory.
const SocketName = "control.sock"

// AppInfo is an app as listed by GET /v0/apps.
type AppInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Exec      string    `json:"exec"`
	SHA512    string    `json:"sha512"`
	SafeDrive bool      `json:"safe_drive"`
	SecretEnv bool      `json:"secret_env"`
	RootDir   string    `json:"root_dir"`
	Added     time.Time `json:"added"`
	Sessions  int       `json:"sessions"` // live sessions now
	// Usage is what the app holds in the store (its private root and what
	// it wrote in SAFEDrive), and Quota what it may hold; absent when the
	// daemon has no store to ask (or it is locked).
	Usage *Usage `json:"usage,omitempty"`
	Quota *Usage `json:"quota,omitempty"`
}

// Usage is an amount of the store: entries (directories and files), content
// bytes and user_metadata bytes.
type Usage struct {
	Entries       int64 `json:"entries"`
	ContentBytes  int64 `json:"content_bytes"`
	MetadataBytes int64 `json:"metadata_bytes"`
}

// StoreSize is what the whole store holds.
type StoreSize struct {
	Usage
	DatabaseBytes int64 `json:"database_bytes"` // the database file's size
}

// AddRequest is the body of POST /v0/apps.
type AddRequest struct {
	Name      string `json:"name"`
	Exec      string `json:"exec"`
	SafeDrive bool   `json:"safe_drive"`
	SecretEnv bool   `json:"secret_env"`
}

// RemoveResult is the answer of DELETE /v0/apps/{name}.
type RemoveResult struct {
	App           AppInfo `json:"app"`
	Purged        bool    `json:"purged"`
	EndedSessions int     `json:"ended_sessions"`
	// DeletedRoots lists, with purge, the roots deleted: the app's own, then
	// those earlier apps of the same name left behind.
	DeletedRoots []string `json:"deleted_roots"`
	// DeletedNames lists, with purge, the dns long names the app had
	// registered, deleted with it (sorted).
	DeletedNames []string `json:"deleted_names"`
}

// RootsResult is the answer of GET /v0/roots: the private roots in the store
// that no app owns.
type RootsResult struct {
	Roots []string `json:"roots"`
}

// LaunchRequest is the body of POST /v0/apps/{name}/launch.
type LaunchRequest struct {
	Args          []string `json:"args"`
	AcceptChanged bool     `json:"accept_changed"`
}

// LaunchResult is the answer of POST /v0/apps/{name}/launch.
type LaunchResult struct {
	PID            int  `json:"pid"`
	AcceptedChange bool `json:"accepted_change"` // a changed binary was accepted and its hash recorded
}

// TokenResult is the answer of POST /v0/apps/{name}/token.
type TokenResult struct {
	// Value is the --launcher value tcp:<ip>:<port>:<launcher_string>.
	Value string `json:"value"`
}

// Session is a live session in Status.
type Session struct {
	App      string    `json:"app"` // name ("" if the app was removed meanwhile)
	AppID    string    `json:"app_id"`
	Remote   string    `json:"remote"`
	Mode     string    `json:"mode"`
	Since    time.Time `json:"since"`
	Requests int64     `json:"requests"`
	BytesIn  int64     `json:"bytes_in"`
	BytesOut int64     `json:"bytes_out"`
}

// Status is the answer of GET /v0/status.
type Status struct {
	Address string `json:"address"`
	// GatewayURL is the web gateway's base URL, "" when it is off.
	GatewayURL string    `json:"gateway_url"`
	Version    string    `json:"version"`
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	UptimeSec  float64   `json:"uptime_seconds"`
	DataDir    string    `json:"data_dir"`
	Apps       int       `json:"apps"`
	Sessions   []Session `json:"sessions"`
	Conns      int       `json:"connections"`
	Accepted   int64     `json:"accepted"`
	Rejected   int64     `json:"rejected"`
	// Locked is true while the launcher is locked: apps are refused with
	// -134 and the app and dns routes answer CodeLocked.
	Locked bool `json:"locked"`
	// Store is what the store holds; absent when it cannot be asked.
	Store *StoreSize `json:"store,omitempty"`
	// Dev is true for a throwaway daemon (launcher serve --dev): a temporary
	// data directory, a random key, no passphrase.
	Dev bool `json:"dev"`
}

// UnlockRequest is the body of POST /v0/unlock. The passphrase is bytes
// (base64 in JSON); it is never logged. A --dev daemon takes any.
type UnlockRequest struct {
	Passphrase []byte `json:"passphrase"`
}

// PasswdRequest is the body of POST /v0/passwd: the current passphrase and
// the new one (base64 in JSON).
type PasswdRequest struct {
	Old []byte `json:"old"`
	New []byte `json:"new"`
}

// LockState is the answer of POST /v0/unlock and POST /v0/lock.
type LockState struct {
	Locked bool `json:"locked"`
	// Changed is false when the launcher already was in that state.
	Changed bool `json:"changed"`
}

// Error codes carried in error answers.
const (
	CodeNotFound     = "not_found"      // no such app
	CodeExists       = "exists"         // an app of that name exists
	CodeInvalid      = "invalid"        // bad name, executable or request
	CodeChanged      = "binary_changed" // the executable's hash changed
	CodeNotRunning   = "not_running"    // (client side) the daemon is not running
	CodeInternal     = "internal"       // anything else
	CodeUnknownRoute = "unknown_route"  // no such route or method
	// CodeLocked: the launcher is locked; unlock it first (launcher unlock).
	CodeLocked = "locked"
	// CodeWrongPassphrase: the passphrase does not open the account.
	CodeWrongPassphrase = "wrong_passphrase"
	// CodeNoAccount: the daemon has no account (a --dev daemon), so there is
	// no passphrase to change.
	CodeNoAccount = "no_account"
)

// Error is an error answer of the control API. errors.Is(err, ErrX) holds for
// the sentinel with the same code.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Message
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrNotFound        = &Error{Code: CodeNotFound}
	ErrExists          = &Error{Code: CodeExists}
	ErrInvalid         = &Error{Code: CodeInvalid}
	ErrChanged         = &Error{Code: CodeChanged}
	ErrNotRunning      = &Error{Code: CodeNotRunning}
	ErrInternal        = &Error{Code: CodeInternal}
	ErrUnknownRoute    = &Error{Code: CodeUnknownRoute}
	ErrLocked          = &Error{Code: CodeLocked}
	ErrWrongPassphrase = &Error{Code: CodeWrongPassphrase}
	ErrNoAccount       = &Error{Code: CodeNoAccount}
)

// errorBody is the JSON of an error answer.
type errorBody struct {
	Error *Error `json:"error"`
}
