package launcher

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/wire"
)

// The launcher module (v1.1 only): requests about the session itself,
// served by the core: version, ping, bye, watch and unwatch.

// maxWatches is how many watches one session may hold.
const maxWatches = 64

func (s *Server) registerModule(t *route.Table) {
	t.Handle("launcher", "version", wire.V1_1, s.version)
	t.Handle("launcher", "ping", wire.V1_1, s.ping)
	t.Handle("launcher", "bye", wire.V1_1, s.bye)
	t.Handle("launcher", "watch", wire.V1_1, route.Typed(s.watch))
	t.Handle("launcher", "unwatch", wire.V1_1, route.Typed(s.unwatch))
}

// sessionOf returns the session behind a caller of this server.
func sessionOf(c route.Caller) *session { return c.(caller).c }

// emptyData reports whether a request has no data (absent or null).
func emptyData(data json.RawMessage) bool {
	d := strings.TrimSpace(string(data))
	return d == "" || d == "null"
}

func (s *Server) version(_ context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	if !emptyData(data) {
		if err := wire.Decode(data, &wire.Empty{}); err != nil {
			return route.Result{}, err
		}
	}
	v := &wire.VersionResponse{
		Version:   s.cfg.Version,
		Started:   s.start.Unix(),
		NonceMode: sessionOf(c).mode.String(),
	}
	for _, x := range s.table.Versions() {
		v.APIVersions = append(v.APIVersions, x.String())
	}
	if s.cfg.GatewayURL != nil {
		v.Gateway = s.cfg.GatewayURL()
	}
	return route.Answer(v), nil
}

func (s *Server) ping(_ context.Context, _ route.Caller, data json.RawMessage) (route.Result, error) {
	var r wire.PingRequest
	if !emptyData(data) {
		if err := wire.Decode(data, &r); err != nil {
			return route.Result{}, err
		}
	}
	if r.Payload == nil {
		r.Payload = wire.Bytes{}
	}
	return route.Answer(&wire.PingResponse{Payload: r.Payload, TimeMs: s.cfg.Now().UnixMilli()}), nil
}

// bye answers code 0; the session reads no more requests, writes the
// answers it owes (this one last) and closes.
func (s *Server) bye(_ context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	if !emptyData(data) {
		if err := wire.Decode(data, &wire.Empty{}); err != nil {
			return route.Result{}, err
		}
	}
	sess := sessionOf(c)
	// No push frame follows the bye answer: the watches end now, and what
	// is still queued is dropped once the answer is written.
	sess.bye.Store(true)
	sess.ev.mu.Lock()
	hadWatches := len(sess.ev.watches) > 0
	sess.ev.watches = nil
	sess.ev.mu.Unlock()
	if hadWatches {
		s.watching(sess, false)
	}
	sess.stopReading()
	return route.Result{}, nil
}

func (s *Server) watch(_ context.Context, c route.Caller, r *wire.WatchRequest) (route.Result, error) {
	sess := sessionOf(c)
	if sess.mode != handshake.Counter {
		return route.Result{}, wire.Errorf(wire.CodeNeedsCounter, "watch needs a session in counter nonce mode: in fixed-nonce mode every pushed frame would reuse the session's one nonce")
	}
	if r.IsPathShared && !c.SharedAllowed() {
		return route.Result{}, wire.Errorf(wire.CodeSharedDenied, "this app has no access to SAFEDrive (is_path_shared is true); the user can grant it")
	}
	dir, err := watchPath(r.DirPath)
	if err != nil {
		return route.Result{}, err
	}
	id, err := sess.addWatch(watch{shared: r.IsPathShared, dir: dir, recursive: r.Recursive})
	if err != nil {
		return route.Result{}, err
	}
	s.watching(sess, true)
	return route.Answer(&wire.WatchResponse{WatchID: id}), nil
}

func (s *Server) unwatch(_ context.Context, c route.Caller, r *wire.UnwatchRequest) (route.Result, error) {
	sess := sessionOf(c)
	left, ok := sess.removeWatch(r.WatchID)
	if !ok {
		return route.Result{}, wire.Errorf(wire.CodeUnknownWatch, "this session has no watch %q", r.WatchID)
	}
	if left == 0 {
		s.watching(sess, false)
	}
	return route.Result{}, nil
}

// watchPath checks a watched directory's path as requests' paths are read
// (split on "/", empty segments dropped) and returns it joined by "/". The
// directory need not exist yet: its events start when it is created. A
// segment no store name can have ("." or "..") is refused.
func watchPath(p string) (string, error) {
	var segs []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			continue
		case ".", "..":
			return "", wire.Errorf(wire.CodeInvalidPath, "field %q: segment %q is not allowed", "data.dir_path", seg)
		}
		if strings.ContainsRune(seg, 0) {
			return "", wire.Errorf(wire.CodeInvalidPath, "field %q: a segment holds a NUL byte", "data.dir_path")
		}
		segs = append(segs, seg)
	}
	return strings.Join(segs, "/"), nil
}

// watch is one directory a session watches.
type watch struct {
	id string
	// since is the number of the request that made the watch: its events
	// wait for that request's answer.
	since uint64
	// from is the number of the last change made before the watch: it
	// reports only later ones (a change is offered once its answer is
	// written, which may be after a newer watch was made).
	from      uint64
	shared    bool
	dir       string // "" is the root
	recursive bool
}

// covers reports whether a change at path p (relative to the watch's root)
// is one the watch reports: an entry of its directory, or anything below it
// when recursive, or the watched directory itself.
func (w *watch) covers(p string) bool {
	if p == w.dir {
		return w.dir != ""
	}
	if w.dir != "" {
		rest, ok := strings.CutPrefix(p, w.dir+"/")
		if !ok {
			return false
		}
		p = rest
	}
	return w.recursive || !strings.Contains(p, "/")
}

// matches reports whether ch, made in a tree of app, is for w.
func (w *watch) matches(app App, ch route.Change) bool {
	if w.shared != ch.Shared || !ch.Shared && ch.RootDir != app.RootDir {
		return false
	}
	return w.covers(ch.Path) || ch.NewPath != "" && w.covers(ch.NewPath)
}

func (c *session) addWatch(w watch) (string, error) {
	c.ev.mu.Lock()
	defer c.ev.mu.Unlock()
	if len(c.ev.watches) >= maxWatches {
		return "", wire.Errorf(wire.CodeLimit, "this session holds %d watches already, the most allowed", maxWatches)
	}
	c.ev.nextID++
	w.id = "w" + strconv.FormatUint(c.ev.nextID, 10)
	w.since = c.ev.reqs
	w.from = c.srv.changes.Load()
	c.ev.watches = append(c.ev.watches, w)
	return w.id, nil
}

// removeWatch removes a watch and reports how many are left.
func (c *session) removeWatch(id string) (int, bool) {
	c.ev.mu.Lock()
	defer c.ev.mu.Unlock()
	for i, w := range c.ev.watches {
		if w.id == id {
			c.ev.watches = append(c.ev.watches[:i], c.ev.watches[i+1:]...)
			return len(c.ev.watches), true
		}
	}
	return len(c.ev.watches), false
}
