package launcher

import (
	"slices"
	"sync"

	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/wire"
)

// Push events: a module tells the server of each change it makes
// (route.Notifier); the server offers it to every session that watches
// something; a session queues the events its watches cover, and its writer
// sends them as push frames between answers.
//
// Rules (docs/protocol.md):
//   - an event reaches a session only for a tree its app may see: its own
//     private root, or SAFEDrive while the grant holds (asked at delivery);
//   - a session's queue is bounded: when it is full, what it holds is
//     dropped and replaced by one overflow event, so a stalled reader never
//     slows the store or other apps;
//   - a change made by a session's request is offered to the watches once
//     that request's answer is written, so every app hears of it after the
//     app that made it has its answer;
//   - a session that never watches sees no difference at all.

// maxEvents is how many events a session queues for its writer.
const maxEvents = 256

// events is a session's watches and event queue.
type events struct {
	mu      sync.Mutex
	watches []watch
	nextID  uint64
	queue   []queued
	// reqs is the number of requests the reader has taken (the one being
	// run included): a watch's events wait until the answer to the request
	// that made it is written.
	reqs uint64
	// changes are the changes this session's requests made, offered to the
	// watching sessions once their answers are written.
	changes []madeBy
	// signal wakes the writer when an event is queued.
	signal chan struct{}
}

// queued is an event waiting for the writer: it is sent once after answers
// have been written.
type queued struct {
	ev    wire.Event
	after uint64
}

// watching adds sess to (or removes it from) the sessions offered events.
func (s *Server) watching(sess *session, on bool) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if on {
		s.watchers[sess] = struct{}{}
	} else {
		delete(s.watchers, sess)
	}
}

// Notify implements route.Notifier. A change made by a session's request is
// offered to the watching sessions once that request's answer is written
// (by the session's writer, after the change is durable when the answer
// waits for that), so that no app hears of a change before the app that made
// it has its answer; anything else at once. When no session watches, it
// does nothing. It does not block.
func (s *Server) Notify(by route.Caller, ch route.Change) {
	s.wmu.RLock()
	n := len(s.watchers)
	s.wmu.RUnlock()
	if n == 0 {
		return
	}
	m := madeBy{ch: ch, seq: s.changes.Add(1)}
	if k, ok := by.(caller); ok {
		c := k.c
		c.ev.mu.Lock()
		m.req = c.ev.reqs
		c.ev.changes = append(c.ev.changes, m)
		c.ev.mu.Unlock()
		return
	}
	s.fanOut(m)
}

// madeBy is a change, numbered seq in the order changes were made, made by
// a session's request number req, to offer once its answer is written.
type madeBy struct {
	ch  route.Change
	seq uint64
	req uint64
}

// fanOut offers a change to every session that watches something.
func (s *Server) fanOut(m madeBy) {
	s.wmu.RLock()
	defer s.wmu.RUnlock()
	for sess := range s.watchers {
		sess.offer(m)
	}
}

// takeChanges removes and returns the changes of c's requests whose answers
// are written (all of them when all is true).
func (c *session) takeChanges(answered uint64, all bool) []madeBy {
	c.ev.mu.Lock()
	defer c.ev.mu.Unlock()
	i := 0
	for ; i < len(c.ev.changes) && (all || c.ev.changes[i].req <= answered); i++ {
	}
	if i == 0 {
		return nil
	}
	out := slices.Clone(c.ev.changes[:i])
	n := copy(c.ev.changes, c.ev.changes[i:])
	clear(c.ev.changes[n:])
	c.ev.changes = c.ev.changes[:n]
	return out
}

// offer queues the events of a change that c's watches cover: watches made
// before the change.
func (c *session) offer(m madeBy) {
	ch := m.ch
	if ch.Shared {
		// SAFEDrive events only while the grant holds.
		if a, ok := c.srv.apps.App(c.app.ID); !ok || !a.SharedDrive {
			return
		}
	}
	c.ev.mu.Lock()
	n := 0
	for i := range c.ev.watches {
		w := &c.ev.watches[i]
		if m.seq > w.from && w.matches(c.app, ch) {
			// Never before the watch's own answer.
			c.queueLocked(wire.Event{WatchID: w.id, Kind: ch.Kind, Path: ch.Path, NewPath: ch.NewPath, IsDir: ch.IsDir}, w.since)
			n++
		}
	}
	c.ev.mu.Unlock()
	if n > 0 {
		c.wake()
	}
}

// queueLocked appends an event, or, when the queue is full, drops what it
// holds for one overflow event. c.ev.mu is held.
func (c *session) queueLocked(ev wire.Event, after uint64) {
	if len(c.ev.queue) >= maxEvents {
		clear(c.ev.queue)
		c.ev.queue = append(c.ev.queue[:0], queued{ev: wire.Event{Kind: wire.EventOverflow}})
		return
	}
	c.ev.queue = append(c.ev.queue, queued{ev: ev, after: after})
}

// wake tells the writer events are queued.
func (c *session) wake() {
	select {
	case c.ev.signal <- struct{}{}:
	default:
	}
}

// tellWatches queues an event of kind (access-changed, closing) for every
// watch of c, with an empty path; drop, if not nil, says which watches end
// with it.
func (c *session) tellWatches(kind string, drop func(*watch) bool) {
	c.ev.mu.Lock()
	n := len(c.ev.watches)
	kept := c.ev.watches[:0]
	for _, w := range c.ev.watches {
		c.queueLocked(wire.Event{WatchID: w.id, Kind: kind}, 0)
		if drop == nil || !drop(&w) {
			kept = append(kept, w)
		}
	}
	c.ev.watches = kept
	left := len(kept)
	c.ev.mu.Unlock()
	if n > 0 {
		c.wake()
	}
	if left == 0 && n > 0 {
		c.srv.watching(c, false)
	}
}

// hasWatches reports whether c watches anything.
func (c *session) hasWatches() bool {
	c.ev.mu.Lock()
	defer c.ev.mu.Unlock()
	return len(c.ev.watches) > 0
}

// AccessChanged tells the sessions of appID that its SAFEDrive grant
// changed: each watch gets an access-changed event, and when the grant was
// revoked the SAFEDrive watches end with it. The registry calls it on grant
// and revoke.
func (s *Server) AccessChanged(appID string) {
	a, ok := s.apps.App(appID)
	granted := ok && a.SharedDrive
	for _, sess := range s.sessionsOf(appID) {
		sess.tellWatches(wire.EventAccessChanged, func(w *watch) bool { return w.shared && !granted })
	}
}

// sessionsOf returns the live sessions of appID.
func (s *Server) sessionsOf(appID string) []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*session
	for c := range s.sessions {
		if c.phase == phaseSession && c.appID == appID {
			out = append(out, c)
		}
	}
	return out
}

// takeReady removes and returns the queued events that may be sent once
// answered answers are written, numbering them from *seq.
func (c *session) takeReady(answered uint64, seq *uint64, out []wire.Event) []wire.Event {
	c.ev.mu.Lock()
	defer c.ev.mu.Unlock()
	i := 0
	for ; i < len(c.ev.queue) && c.ev.queue[i].after <= answered; i++ {
		*seq++
		ev := c.ev.queue[i].ev
		ev.Seq = *seq
		out = append(out, ev)
	}
	if i > 0 {
		n := copy(c.ev.queue, c.ev.queue[i:])
		clear(c.ev.queue[n:])
		c.ev.queue = c.ev.queue[:n]
	}
	return out
}
