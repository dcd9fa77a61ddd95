// Package route owns what a module registers with the daemon: the Caller a
// handler is given, the Handler signature, and the Table that maps a parsed
// endpoint (version, module, request) to its handler.
//
// A Table belongs to one server instance; modules add their routes at start-up
// with Handle, and a duplicate registration panics, as a programming error.
package route

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/safe-launcher/launcher/wire"
)

// Caller is the authenticated app a request comes from.
type Caller interface {
	// AppID is the app's registry id.
	AppID() string
	// RootDir is the name of the app's private root in the store.
	RootDir() string
	// SharedAllowed reports whether the app may use SAFEDrive now. It is asked
	// at each request, so grants and revocations apply to live sessions.
	SharedAllowed() bool
}

// Result is what a handler returns when its request succeeded.
type Result struct {
	// Answer is the answer's data; nil is success without data (error code 0).
	Answer wire.Answer
	// Durable, if not nil, is what the answer waits for: the request changed
	// the store, the change is applied and visible to later requests, and it
	// may be acknowledged only once Durable returned nil. The session calls
	// it once, from its writer, so that the session's next requests run
	// meanwhile; an error replaces the answer.
	Durable func() error
}

// Answer is a Result with data and nothing to wait for.
func Answer(a wire.Answer) Result { return Result{Answer: a} }

// Handler serves one request. data is the request's "data" object (nil when
// absent). Errors become error answers through the daemon's single error
// mapping: a *wire.Error is sent as it is, anything else as an internal
// error. A handler that returns an error releases any answer it made.
type Handler func(ctx context.Context, c Caller, data json.RawMessage) (Result, error)

// Change is a change of a store tree that a session's watches may report
// (see the launcher module's watch). Paths are relative to the root, in the
// form requests use ("a/b", no leading "/").
type Change struct {
	Shared  bool   // in SAFEDrive; else in the private root RootDir
	RootDir string // the app's private root, when not Shared
	Kind    string // wire.EventCreated, EventModified, EventDeleted or EventRenamed
	Path    string
	NewPath string // for EventRenamed
	IsDir   bool
}

// Notifier hears of the changes modules make. by is the session whose
// request made the change: its own events are sent after that request's
// answer. Notify must not block.
type Notifier interface {
	Notify(by Caller, ch Change)
}

type nobody struct{}

func (nobody) Notify(Caller, Change) {}

type key struct {
	v       wire.Version
	module  string
	request string
}

// Table maps endpoints to handlers. It is filled at start-up and read-only
// afterwards, so lookups need no lock.
type Table struct {
	versions []wire.Version
	routes   map[key]Handler
	modules  map[string]bool
	notifier Notifier
}

// NewTable returns a table serving the given versions (in ascending order).
func NewTable(versions ...wire.Version) *Table {
	v := slices.Clone(versions)
	slices.SortFunc(v, func(a, b wire.Version) int {
		if a.Less(b) {
			return -1
		}
		if b.Less(a) {
			return 1
		}
		return 0
	})
	return &Table{versions: v, routes: map[key]Handler{}, modules: map[string]bool{}, notifier: nobody{}}
}

// SetNotifier sets who hears of the changes modules make (the daemon, which
// delivers them to watches). Call it before the modules register.
func (t *Table) SetNotifier(n Notifier) { t.notifier = n }

// Notifier returns who hears of changes; modules keep it at Register. It is
// never nil (by default changes go nowhere).
func (t *Table) Notifier() Notifier { return t.notifier }

// Versions returns the versions the table serves.
func (t *Table) Versions() []wire.Version { return slices.Clone(t.versions) }

// Serves reports whether the table serves version v.
func (t *Table) Serves(v wire.Version) bool { return slices.Contains(t.versions, v) }

// Handle registers h for module/request in every served version from since on.
// It panics on a duplicate registration or a version the table does not serve.
func (t *Table) Handle(module, request string, since wire.Version, h Handler) {
	if !slices.Contains(t.versions, since) {
		panic(fmt.Sprintf("route: %s/%s registered since unserved version %s", module, request, since))
	}
	t.modules[module] = true
	for _, v := range t.versions {
		if v.Less(since) {
			continue
		}
		k := key{v, module, request}
		if _, dup := t.routes[k]; dup {
			panic(fmt.Sprintf("route: duplicate registration of %s/%s/%s", v, module, request))
		}
		t.routes[k] = h
	}
}

// Lookup returns the handler for ep, or a *wire.Error naming what is unknown:
// the version, the module, or the request.
func (t *Table) Lookup(ep wire.Endpoint) (Handler, error) {
	if !slices.Contains(t.versions, ep.Version) {
		return nil, wire.Errorf(wire.CodeUnknownVersion, "version %s is not served (served: %s)", ep.Version, t.versionList())
	}
	if !t.modules[ep.Module] {
		return nil, wire.Errorf(wire.CodeUnknownModule, "module %q does not exist", ep.Module)
	}
	h, ok := t.routes[key{ep.Version, ep.Module, ep.Request}]
	if !ok {
		return nil, wire.Errorf(wire.CodeUnknownRequest, "request %q does not exist in module %q for version %s", ep.Request, ep.Module, ep.Version)
	}
	return h, nil
}

func (t *Table) versionList() string {
	s := ""
	for i, v := range t.versions {
		if i > 0 {
			s += ", "
		}
		s += v.String()
	}
	return s
}

// Typed adapts a handler of a decoded request to a Handler: the request's data
// is decoded strictly into a new R (wire.Decode) before h runs, and a decoding
// error, which names the field, is the answer.
func Typed[R any, P interface {
	*R
	wire.Decoder
}](h func(ctx context.Context, c Caller, r P) (Result, error)) Handler {
	return func(ctx context.Context, c Caller, data json.RawMessage) (Result, error) {
		r := P(new(R))
		if err := wire.Decode(data, r); err != nil {
			return Result{}, err
		}
		return h(ctx, c, r)
	}
}
