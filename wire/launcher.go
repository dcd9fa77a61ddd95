package wire

// The launcher module (v1.1): version, ping, bye, watch and unwatch, and the
// push frames a watch brings. See docs/protocol.md.

// VersionResponse is the answer of launcher/version.
type VersionResponse struct {
	Version     string   `json:"version"`      // the build's semantic version
	APIVersions []string `json:"api_versions"` // the API versions served, ascending
	Started     int64    `json:"started"`      // when the launcher started, unix seconds
	NonceMode   string   `json:"nonce_mode"`   // this session's: "fixed" or "counter"
	Gateway     string   `json:"gateway"`      // the web gateway's base URL, or "" when off
}

// MaxPingPayload is the largest payload launcher/ping echoes.
const MaxPingPayload = 1 << 10

// PingRequest is the data of launcher/ping; the payload is optional.
type PingRequest struct {
	Payload Bytes `json:"payload"`
}

// DecodeFrom implements Decoder.
func (r *PingRequest) DecodeFrom(o *Object) {
	if p := o.OptBytes("payload"); p != nil {
		r.Payload = *p
	}
	if len(r.Payload) > MaxPingPayload && o.Err() == nil {
		o.err = Errorf(CodeLimit, "field %q is %d bytes, over the limit of %d", o.name("payload"), len(r.Payload), MaxPingPayload)
	}
}

// PingResponse is the answer of launcher/ping: the payload sent (empty when
// none) and the launcher's clock.
type PingResponse struct {
	Payload Bytes `json:"payload"`
	TimeMs  int64 `json:"time_ms"` // unix milliseconds
}

// WatchRequest is the data of launcher/watch: the directory whose entries
// (and, when Recursive, everything below it) the session hears about.
type WatchRequest struct {
	IsPathShared bool   `json:"is_path_shared"`
	DirPath      string `json:"dir_path"`
	Recursive    bool   `json:"recursive"`
}

// DecodeFrom implements Decoder.
func (r *WatchRequest) DecodeFrom(o *Object) {
	r.IsPathShared = o.Bool("is_path_shared")
	r.DirPath = o.String("dir_path")
	r.Recursive = o.OptBool("recursive", false)
}

// WatchResponse is the answer of launcher/watch.
type WatchResponse struct {
	WatchID string `json:"watch_id"`
}

// UnwatchRequest is the data of launcher/unwatch.
type UnwatchRequest struct {
	WatchID string `json:"watch_id"`
}

// DecodeFrom implements Decoder.
func (r *UnwatchRequest) DecodeFrom(o *Object) { r.WatchID = o.String("watch_id") }

// The kinds of event.
const (
	EventCreated       = "created"        // an entry was created
	EventModified      = "modified"       // an entry's content or metadata changed
	EventDeleted       = "deleted"        // an entry was deleted
	EventRenamed       = "renamed"        // an entry was renamed: NewPath is its new path
	EventAccessChanged = "access-changed" // SAFEDrive was granted or revoked for this app
	EventClosing       = "closing"        // the app was removed, or the launcher is locking or stopping
	EventOverflow      = "overflow"       // events were dropped: re-read what is watched
)

// Event is one change a watch reports. Paths are relative to the root the
// watch named, in the form requests use (no leading "/").
type Event struct {
	WatchID string `json:"watch_id"`
	Seq     uint64 `json:"seq"` // counts from 1 in each session
	Kind    string `json:"kind"`
	Path    string `json:"path"`
	NewPath string `json:"new_path"`
	IsDir   bool   `json:"is_dir"`
}

// DecodeFrom implements Decoder (the SDK's side).
func (e *Event) DecodeFrom(o *Object) {
	e.WatchID = optString(o, "watch_id")
	e.Seq = uint64(optInt(o, "seq"))
	e.Kind = optString(o, "kind")
	e.Path = optString(o, "path")
	e.NewPath = optString(o, "new_path")
	e.IsDir = optBoolAnswer(o, "is_dir")
}

// Push is the plaintext of a push frame: a frame that answers no request.
// It has an "event" key and no "id" key.
type Push struct {
	Event Event `json:"event"`
}

// AppendPush appends the JSON of a push frame carrying e to dst.
func AppendPush(dst []byte, e Event) ([]byte, error) {
	return appendMarshal(dst, Push{Event: e})
}

func (r *VersionResponse) appendData(dst []byte) ([]byte, error) { return appendMarshal(dst, r) }
func (r *VersionResponse) maxSize() int64                        { return 0 }
func (r *VersionResponse) release()                              {}

func (r *PingResponse) appendData(dst []byte) ([]byte, error) { return appendMarshal(dst, r) }
func (r *PingResponse) maxSize() int64                        { return 0 }
func (r *PingResponse) release()                              {}

func (r *WatchResponse) appendData(dst []byte) ([]byte, error) { return appendMarshal(dst, r) }
func (r *WatchResponse) maxSize() int64                        { return 0 }
func (r *WatchResponse) release()                              {}
