package benchfloor

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
)

// Errors of the small-request sides. Each is wrapped with what was wrong.
var (
	// ErrOpen is returned when a sealed message does not open with the
	// session's key and the nonce next in its direction.
	ErrOpen = errors.New("benchfloor: message did not open")
	// ErrMalformed is returned for a message whose JSON is not a request
	// or an answer of the expected shape, or an answer to another request.
	ErrMalformed = errors.New("benchfloor: malformed message")
)

// CodeError is an answer that carried an error with a code other than 0.
type CodeError struct {
	Code        int64
	Description string
}

// Error implements error.
func (e *CodeError) Error() string {
	return fmt.Sprintf("benchfloor: answer error %d: %s", e.Code, e.Description)
}

// Endpoints of the requests the small floor makes.
const (
	EndpointGetDir     = "safe-api/v1.0/nfs/get-dir"
	EndpointCreateFile = "safe-api/v1.0/nfs/create-file"
	EndpointDeleteFile = "safe-api/v1.0/nfs/delete-file"
)

// Request data and answers of the RFC, as an app written against it with
// encoding/json would declare them. Byte fields travel as padded standard
// base64; a request's UserMetadata must not be nil (nil would be sent as
// null, which the RFC does not allow: send an empty slice for none).
type (
	// GetDirRequest is the data of nfs/get-dir.
	GetDirRequest struct {
		TimeoutMs    int64  `json:"timeout_ms"`
		IsPathShared bool   `json:"is_path_shared"`
		DirPath      string `json:"dir_path"`
	}
	// CreateFileRequest is the data of nfs/create-file.
	CreateFileRequest struct {
		IsPathShared bool   `json:"is_path_shared"`
		FilePath     string `json:"file_path"`
		UserMetadata []byte `json:"user_metadata"`
	}
	// FileRequest is the data of nfs/delete-file.
	FileRequest struct {
		IsPathShared bool   `json:"is_path_shared"`
		FilePath     string `json:"file_path"`
	}
	// Times are a creation and a modification time.
	Times struct {
		CreationTimeSec      int64 `json:"creation_time_sec"`
		CreationTimeNsec     int64 `json:"creation_time_nsec"`
		ModificationTimeSec  int64 `json:"modification_time_sec"`
		ModificationTimeNsec int64 `json:"modification_time_nsec"`
	}
	// DirInfo describes a directory in a get-dir answer.
	DirInfo struct {
		Name string `json:"name"`
		Times
		IsPrivate    bool   `json:"is_private"`
		IsVersioned  bool   `json:"is_versioned"`
		UserMetadata []byte `json:"user_metadata"`
	}
	// FileInfo describes a file in a get-dir answer.
	FileInfo struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
		Times
		UserMetadata []byte `json:"user_metadata"`
	}
	// GetDirAnswer is the data of a get-dir answer.
	GetDirAnswer struct {
		Info           DirInfo    `json:"info"`
		SubDirectories []DirInfo  `json:"sub_directories"`
		Files          []FileInfo `json:"files"`
	}
)

// Entries is how many directories and files the listing holds.
func (g *GetDirAnswer) Entries() int { return len(g.SubDirectories) + len(g.Files) }

// Keys are one session's secretbox key and the base N of its counter-mode
// nonces: the app's k-th message is sealed with N+2k, the launcher's with
// N+2k+1 (192-bit little-endian arithmetic).
type Keys struct {
	Key  [32]byte
	Base [24]byte
}

// nonce returns Base + n.
func (k *Keys) nonce(n uint64) *[24]byte {
	out := k.Base
	carry := n
	for i := 0; i < len(out) && carry != 0; i++ {
		s := uint64(out[i]) + carry&0xff
		out[i] = byte(s)
		carry = carry>>8 + s>>8
	}
	return &out
}

// envelopes, encoded and decoded with encoding/json.
type (
	request struct {
		Endpoint string `json:"endpoint"`
		Data     any    `json:"data"`
	}
	dataAnswer struct {
		ID   string `json:"id"`
		Data any    `json:"data"`
	}
	okAnswer struct {
		ID    string    `json:"id"`
		Error errorBody `json:"error"`
	}
	errorBody struct {
		Code        int64  `json:"code"`
		Description string `json:"description"`
	}
	answer[T any] struct {
		ID    *string    `json:"id"`
		Data  *T         `json:"data"`
		Error *errorBody `json:"error"`
	}
	openedRequest[T any] struct {
		Endpoint string `json:"endpoint"`
		Data     *T     `json:"data"`
	}
)

// App is the app's side of one session in counter mode: it seals requests
// and opens answers, in order. It is not safe for concurrent use.
type App struct {
	keys           Keys
	sent, received uint64
	plain          []byte
}

// NewApp returns the app's side of a session with keys k.
func NewApp(k Keys) *App { return &App{keys: k} }

// Request encodes a request to endpoint carrying data, seals it with the
// app's next nonce, appends the sealed body to dst and returns it with its
// id: the standard base64 of the body's SHA-512, which the answer carries.
func (a *App) Request(dst []byte, endpoint string, data any) (body []byte, id string, err error) {
	plain, err := json.Marshal(request{Endpoint: endpoint, Data: data})
	if err != nil {
		return dst, "", err
	}
	n := len(dst)
	dst = secretbox.Seal(dst, plain, a.keys.nonce(2*a.sent), &a.keys.Key)
	a.sent++
	sum := sha512.Sum512(dst[n:])
	return dst, base64.StdEncoding.EncodeToString(sum[:]), nil
}

// OpenAnswer opens app's next answer and decodes it with encoding/json. The
// answer must carry id. An answer with an error of another code than 0 is
// returned as a *CodeError. data is the answer's data, or nil for an answer
// that carried none (a request that succeeded with no data).
func OpenAnswer[T any](a *App, body []byte, id string) (data *T, err error) {
	plain, ok := secretbox.Open(a.plain[:0], body, a.keys.nonce(2*a.received+1), &a.keys.Key)
	if !ok {
		return nil, fmt.Errorf("%w: answer %d", ErrOpen, a.received)
	}
	a.received++
	a.plain = plain
	var ans answer[T]
	if err := json.Unmarshal(plain, &ans); err != nil {
		return nil, fmt.Errorf("%w: answer: %v", ErrMalformed, err)
	}
	switch {
	case ans.ID == nil:
		return nil, fmt.Errorf("%w: answer has no id", ErrMalformed)
	case *ans.ID != id:
		return nil, fmt.Errorf("%w: answer to another request (id %.12q...)", ErrMalformed, *ans.ID)
	case ans.Error != nil && ans.Error.Code != 0:
		return nil, &CodeError{Code: ans.Error.Code, Description: ans.Error.Description}
	case ans.Error == nil && ans.Data == nil:
		return nil, fmt.Errorf("%w: answer has neither data nor error", ErrMalformed)
	}
	return ans.Data, nil
}

// Daemon is the launcher's side of one session in counter mode: it opens
// requests and seals answers, in order. It is not safe for concurrent use.
type Daemon struct {
	keys           Keys
	sent, received uint64
	plain          []byte
}

// NewDaemon returns the launcher's side of a session with keys k.
func NewDaemon(k Keys) *Daemon { return &Daemon{keys: k} }

// OpenRequest opens d's next request and decodes it with encoding/json:
// it returns the endpoint and the request's data, which must be present.
func OpenRequest[T any](d *Daemon, body []byte) (endpoint string, data *T, err error) {
	plain, ok := secretbox.Open(d.plain[:0], body, d.keys.nonce(2*d.received), &d.keys.Key)
	if !ok {
		return "", nil, fmt.Errorf("%w: request %d", ErrOpen, d.received)
	}
	d.received++
	d.plain = plain
	var req openedRequest[T]
	if err := json.Unmarshal(plain, &req); err != nil {
		return "", nil, fmt.Errorf("%w: request: %v", ErrMalformed, err)
	}
	if req.Data == nil {
		return "", nil, fmt.Errorf("%w: request has no data", ErrMalformed)
	}
	return req.Endpoint, req.Data, nil
}

// Answer encodes the answer {"id":id,"data":data}, seals it with the
// launcher's next nonce and appends it to dst.
func (d *Daemon) Answer(dst []byte, id string, data any) ([]byte, error) {
	return d.seal(dst, dataAnswer{ID: id, Data: data})
}

// OK encodes the answer of a request that succeeded with no data,
// {"id":id,"error":{"code":0,"description":""}}, seals it with the
// launcher's next nonce and appends it to dst.
func (d *Daemon) OK(dst []byte, id string) ([]byte, error) {
	return d.seal(dst, okAnswer{ID: id})
}

func (d *Daemon) seal(dst []byte, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	dst = secretbox.Seal(dst, plain, d.keys.nonce(2*d.sent+1), &d.keys.Key)
	d.sent++
	return dst, nil
}

// FrameSizes are the sizes of the sealed bodies of the small floor's
// requests and answers, as they last ran.
type FrameSizes struct {
	GetDirRequest, GetDirAnswer  int
	CreateRequest, DeleteRequest int
	OKAnswer                     int
}

// Small is the small-request floor: both sides of one session in memory. It
// is not safe for concurrent use.
type Small struct {
	app     *App
	daemon  *Daemon
	listing *GetDirAnswer
	req     []byte
	ans     []byte
	sizes   FrameSizes
}

// NewSmall returns a small-request floor over a session with keys k whose
// get-dir answers carry listing.
func NewSmall(k Keys, listing *GetDirAnswer) *Small {
	return &Small{app: NewApp(k), daemon: NewDaemon(k), listing: listing}
}

// Sizes returns the sizes of the bodies of the last requests and answers.
func (s *Small) Sizes() FrameSizes { return s.sizes }

// GetDir does the work of one get-dir of dir on both sides.
func (s *Small) GetDir(dir string) error {
	var err error
	var id string
	if s.req, id, err = s.app.Request(s.req[:0], EndpointGetDir, GetDirRequest{DirPath: dir}); err != nil {
		return err
	}
	ep, req, err := OpenRequest[GetDirRequest](s.daemon, s.req)
	if err != nil {
		return err
	}
	if ep != EndpointGetDir || req.DirPath != dir {
		return fmt.Errorf("%w: get-dir arrived as %s %q", ErrBroken, ep, req.DirPath)
	}
	if s.ans, err = s.daemon.Answer(s.ans[:0], id, s.listing); err != nil {
		return err
	}
	got, err := OpenAnswer[GetDirAnswer](s.app, s.ans, id)
	if err != nil {
		return err
	}
	if got == nil || got.Entries() != s.listing.Entries() {
		return fmt.Errorf("%w: get-dir answer lost its listing", ErrBroken)
	}
	s.sizes.GetDirRequest, s.sizes.GetDirAnswer = len(s.req), len(s.ans)
	return nil
}

// CreateDelete does the work of a create-file of path and a delete-file of
// it on both sides, each answered with code 0.
func (s *Small) CreateDelete(path string) error {
	create, n, err := change[CreateFileRequest](s, EndpointCreateFile, CreateFileRequest{FilePath: path, UserMetadata: []byte{}})
	if err != nil {
		return err
	}
	if create.FilePath != path || create.UserMetadata == nil {
		return fmt.Errorf("%w: create-file arrived as %+v", ErrBroken, create)
	}
	s.sizes.CreateRequest = n
	del, n, err := change[FileRequest](s, EndpointDeleteFile, FileRequest{FilePath: path})
	if err != nil {
		return err
	}
	if del.FilePath != path {
		return fmt.Errorf("%w: delete-file arrived as %+v", ErrBroken, del)
	}
	s.sizes.DeleteRequest, s.sizes.OKAnswer = n, len(s.ans)
	return nil
}

// change does one request to endpoint answered with code 0. It returns the
// request's data as the daemon's side decoded it and the sealed request's
// size.
func change[T any](s *Small, endpoint string, data any) (*T, int, error) {
	var err error
	var id string
	if s.req, id, err = s.app.Request(s.req[:0], endpoint, data); err != nil {
		return nil, 0, err
	}
	ep, got, err := OpenRequest[T](s.daemon, s.req)
	if err != nil {
		return nil, 0, err
	}
	if ep != endpoint {
		return nil, 0, fmt.Errorf("%w: %s arrived as %s", ErrBroken, endpoint, ep)
	}
	if s.ans, err = s.daemon.OK(s.ans[:0], id); err != nil {
		return nil, 0, err
	}
	if _, err := OpenAnswer[struct{}](s.app, s.ans, id); err != nil {
		return nil, 0, err
	}
	return got, len(s.req), nil
}
