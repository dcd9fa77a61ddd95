package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/safe-launcher/launcher/wire"
)

// Push events (launcher/watch, v1.1). The receive loop routes each push
// frame by its watch_id to its Watch's buffer, never waiting for a
// consumer: a buffer is bounded, and when it is full what it holds is
// dropped for one overflow event. See docs/sdk.md and docs/protocol.md.

// Event is one change a watch reports (wire.Event): its Kind (one of the
// Event* constants), and the entry's Path (and NewPath for a rename),
// relative to the root the watch named, in the form requests use (no
// leading "/"). Seq counts the session's push frames from 1; an overflow
// the SDK itself made (see Watch) has Seq 0.
type Event = wire.Event

// The kinds of Event (wire.Event*).
const (
	EventCreated       = wire.EventCreated       // an entry was created
	EventModified      = wire.EventModified      // an entry's content or metadata changed
	EventDeleted       = wire.EventDeleted       // an entry was deleted
	EventRenamed       = wire.EventRenamed       // an entry was renamed: NewPath is its new path
	EventAccessChanged = wire.EventAccessChanged // SAFEDrive was granted to or revoked from this app
	EventClosing       = wire.EventClosing       // the app was removed, or the launcher is locking or stopping: the watch ends
	EventOverflow      = wire.EventOverflow      // events were dropped: re-read what is watched
)

// DefaultWatchBuffer is the number of events a Watch holds for its
// consumer when WatchOptions.Buffer is 0 (the launcher's own queue per
// session holds 256 too).
const DefaultWatchBuffer = 256

// unwatchTimeout bounds an unwatch the SDK sends by itself, for a watch
// whose context ended.
const unwatchTimeout = 5 * time.Second

// maxOrphans bounds the events kept for watches whose answer has not come
// yet (see watchState).
const maxOrphans = DefaultWatchBuffer

// ErrUnwatched is what Watch.Next returns once the watch was ended by
// Unwatch. Ranging over Events, the loop just ends.
var ErrUnwatched = errors.New("client: the watch was unwatched")

// WatchOptions say what a Watch reports.
type WatchOptions struct {
	// Shared watches the user's SAFEDrive instead of the app's private
	// root; it needs the user's grant (wire.ErrSharedDenied otherwise).
	Shared bool
	// DirPath is the watched directory; "" or "/" is the root. It need not
	// exist yet: its events start when it is created.
	DirPath string
	// Recursive reports changes below the directory's entries too.
	Recursive bool
	// Buffer is how many events the SDK holds for the consumer
	// (default DefaultWatchBuffer). When it is full, what it holds is
	// dropped and replaced by one overflow event.
	Buffer int
}

// watchState is a Client's part of the watches, guarded by Client.mu.
type watchState struct {
	watches map[string]*Watch // by id, from the answer of watch until the end
	// calls counts the watch requests whose answer is not in yet. While
	// some are, an event for an unknown id may be for one of them (the
	// launcher may push a watch's first event before its answer): it is
	// kept in orphans (at most maxOrphans; past that, orphanLost makes the
	// next watch registered start with an overflow).
	calls      int
	orphans    []Event
	orphanLost bool
}

// takeWatches empties the session's watches and returns them. c.mu is held.
func (c *Client) takeWatches() []*Watch {
	out := make([]*Watch, 0, len(c.watches))
	for _, w := range c.watches {
		out = append(out, w)
	}
	c.watches, c.orphans = nil, nil
	return out
}

// event routes a push event to its watch, on the receive loop. It never
// blocks: a watch's buffer is bounded. An overflow with no watch_id
// concerns every watch; an event no watch takes is counted and dropped.
func (c *Client) event(a answer) {
	if !a.eventOK {
		c.events.Add(1) // not an event this SDK knows how to read
		return
	}
	e := a.event
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.WatchID == "" {
		if e.Kind != EventOverflow || len(c.watches) == 0 && c.calls == 0 {
			c.events.Add(1)
			return
		}
		for _, w := range c.watches {
			w.push(e)
		}
		if c.calls > 0 {
			c.orphanLost = true
		}
		return
	}
	if w := c.watches[e.WatchID]; w != nil {
		w.push(e)
		return
	}
	if c.calls > 0 {
		if len(c.orphans) < maxOrphans {
			c.orphans = append(c.orphans, e)
		} else {
			c.orphanLost = true
		}
		return
	}
	c.events.Add(1) // a watch unwatched meanwhile, or one the SDK gave up
}

// Watch is a directory watch: the launcher pushes an Event for each change
// of the directory's entries (and, when recursive, of everything below it)
// made by any session of the app, or, for a SAFEDrive watch, of any app.
// Range over Events (or call Next) to receive them, from one goroutine at
// a time.
//
// A Watch ends:
//   - when the context given to Client.Watch ends: the iteration ends with
//     ctx.Err() at once, and the SDK unwatches in the background;
//   - by Unwatch: the iteration ends without an error (Next: ErrUnwatched);
//   - when the session ends (Close, the launcher locking or stopping, the
//     app removed): the events received are delivered, then the iteration
//     ends with the session's error, which wraps ErrClosed, and matches
//     ErrLocked when the launcher locked. A "closing" event comes first
//     when the launcher ends the session in order.
//
// The SDK never lets a slow consumer hold up the session: a Watch holds at
// most WatchOptions.Buffer events; when an event comes and the buffer is
// full, the events it holds are dropped and replaced by one overflow
// event (WatchID the watch's ID, Seq 0), and the events after it are kept
// again. The launcher does the same with its queue per session (its
// overflow has WatchID "" and reaches every watch of the session). Either
// way, on overflow re-read what is watched: the events after it are
// complete again.
type Watch struct {
	c    *Client
	id   string
	opts WatchOptions
	ctx  context.Context
	max  int

	notify chan struct{} // room for one: an event came or the watch ended

	mu      sync.Mutex
	stop    func() bool // stops the AfterFunc on ctx; nil until it is set
	q       []Event
	dropped uint64
	closing bool  // a closing event came: the launcher dropped the watch
	ended   bool  // the watch ended: err says why
	err     error // ctx.Err(), ErrUnwatched, or the session's error
}

// Watch starts a watch (launcher/watch, v1.1) and returns it; ctx bounds
// the request and the watch's whole life. It needs a counter-nonce session:
// in fixed-nonce mode the launcher answers wire.ErrNeedsCounter. A session
// holds at most 64 watches (wire.ErrLimit).
func (c *Client) Watch(ctx context.Context, opts WatchOptions) (*Watch, error) {
	if opts.Buffer < 0 {
		return nil, fmt.Errorf("client: WatchOptions.Buffer %d is negative", opts.Buffer)
	}
	w := &Watch{c: c, opts: opts, ctx: ctx, max: opts.Buffer, notify: make(chan struct{}, 1)}
	if w.max == 0 {
		w.max = DefaultWatchBuffer
	}
	endpoint := ep11("launcher", "watch")
	frame, err := encodeRequest(endpoint, wire.WatchRequest{IsPathShared: opts.Shared, DirPath: opts.DirPath, Recursive: opts.Recursive})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.calls++
	c.mu.Unlock()
	// An answer that comes after the caller gave up started a watch
	// nobody reads: it is unwatched at once.
	late := func(r result) {
		var resp wire.WatchResponse
		if r.err == nil && decodeData(endpoint, r.data, &resp) == nil && resp.WatchID != "" {
			c.unwatchLater(resp.WatchID)
		}
	}
	sent, err := c.sendHook(ctx, frame, late)
	var res result
	if err != nil {
		res.err = err
	} else {
		res = c.wait(ctx, sent)
	}
	var resp wire.WatchResponse
	if res.err == nil {
		res.err = decodeData(endpoint, res.data, &resp)
		if res.err == nil && resp.WatchID == "" {
			res.err = fmt.Errorf("%w: the launcher answered watch with an empty watch_id", ErrMalformedAnswer)
		}
	}
	c.mu.Lock()
	c.calls--
	if res.err == nil && c.err != nil {
		res.err = c.err
	}
	if res.err != nil {
		c.forgetOrphans()
		c.mu.Unlock()
		return nil, res.err
	}
	w.id = resp.WatchID
	if c.watches == nil {
		c.watches = map[string]*Watch{}
	}
	c.watches[w.id] = w
	if c.orphanLost {
		w.push(Event{WatchID: w.id, Kind: EventOverflow})
	}
	kept := c.orphans[:0]
	for _, e := range c.orphans {
		if e.WatchID == w.id {
			w.push(e)
		} else {
			kept = append(kept, e)
		}
	}
	clear(c.orphans[len(kept):])
	c.orphans = kept
	c.forgetOrphans()
	c.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { w.cancelled(ctx.Err()) })
	w.mu.Lock()
	w.stop = stop
	ended := w.ended
	w.mu.Unlock()
	if ended {
		stop() // the session ended meanwhile
	}
	return w, nil
}

// forgetOrphans drops the events kept for pending watches once none is
// pending. c.mu is held.
func (c *Client) forgetOrphans() {
	if c.calls == 0 {
		c.events.Add(uint64(len(c.orphans))) // for no watch after all
		c.orphans, c.orphanLost = nil, false
	}
}

// ID returns the watch's id, as the launcher named it (its events carry it).
func (w *Watch) ID() string { return w.id }

// Options returns the options the watch was started with.
func (w *Watch) Options() WatchOptions { return w.opts }

// Dropped reports how many events the SDK dropped for this watch because
// its buffer was full (each drop is announced by an overflow event).
func (w *Watch) Dropped() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// push adds an event to the buffer, or, when it is full, drops what the
// buffer holds for one overflow event. A closing event is always kept; the
// watch then takes no more. It never blocks. Called under c.mu.
func (w *Watch) push(e Event) {
	w.mu.Lock()
	switch {
	case w.ended || w.closing:
		w.mu.Unlock()
		return
	case e.Kind == EventClosing:
		w.closing = true
		w.q = append(w.q, e)
	case len(w.q) >= w.max:
		w.dropped += uint64(len(w.q)) + 1
		clear(w.q)
		w.q = append(w.q[:0], Event{WatchID: w.id, Kind: EventOverflow})
	default:
		w.q = append(w.q, e)
	}
	w.mu.Unlock()
	w.wake()
}

func (w *Watch) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// finish ends the watch with err (if it has not ended yet); drain says the
// events held are still delivered before err. It never blocks.
func (w *Watch) finish(err error, drain bool) bool {
	w.mu.Lock()
	if w.ended {
		w.mu.Unlock()
		return false
	}
	w.ended, w.err = true, err
	if !drain {
		clear(w.q)
		w.q = nil
	}
	stop := w.stop
	w.mu.Unlock()
	if stop != nil {
		stop()
	}
	w.wake()
	return true
}

// detach removes the watch from the session's watches and reports whether
// the launcher still holds it (it does not once a closing event came).
func (w *Watch) detach() bool {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watches[w.id] != w {
		return false
	}
	delete(c.watches, w.id)
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.closing
}

// cancelled ends the watch because its context ended, and unwatches it in
// the background. It runs in the goroutine context.AfterFunc starts.
func (w *Watch) cancelled(err error) {
	if !w.finish(err, false) {
		return
	}
	if w.detach() {
		w.c.unwatchLater(w.id)
	}
}

// unwatchLater sends unwatch for id from a goroutine the Client owns
// (Close waits for it), within unwatchTimeout; only while the session
// lives.
func (c *Client) unwatchLater(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return // the session is over: the launcher dropped the watch
	}
	c.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), unwatchTimeout)
		defer cancel()
		_ = c.Call(ctx, ep11("launcher", "unwatch"), wire.UnwatchRequest{WatchID: id}, nil)
	})
}

// Unwatch ends the watch (launcher/unwatch): the iteration over its events
// ends without an error, and the events it held are dropped. It is
// idempotent, and returns nil for a watch that has ended already (its
// context, a closing event, the session's end). An error means the
// unwatch request failed; the watch has ended on the SDK's side all the
// same, and if ctx ended first the SDK unwatches in the background.
func (w *Watch) Unwatch(ctx context.Context) error {
	w.finish(ErrUnwatched, false)
	if !w.detach() {
		return nil
	}
	err := w.c.Call(ctx, ep11("launcher", "unwatch"), wire.UnwatchRequest{WatchID: w.id}, nil)
	switch {
	case err == nil, errors.Is(err, wire.ErrUnknownWatch), errors.Is(err, ErrClosed):
		// Gone either way: the launcher no longer has it, or the session ended.
		return nil
	case ctx.Err() != nil:
		w.c.unwatchLater(w.id)
	}
	return err
}

// Next returns the watch's next event, waiting for it until ctx (or the
// watch's own context) ends. Once the watch has ended it returns why:
// ErrUnwatched, the watch's ctx.Err(), or the session's error (see Watch).
// If ctx ends first, it returns ctx.Err() and the watch goes on.
func (w *Watch) Next(ctx context.Context) (Event, error) {
	for {
		w.mu.Lock()
		if len(w.q) > 0 {
			e := w.q[0]
			w.q[0] = Event{}
			w.q = w.q[1:]
			w.mu.Unlock()
			return e, nil
		}
		if w.ended {
			err := w.err
			w.mu.Unlock()
			return Event{}, err
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Events returns the watch's events to range over:
//
//	for ev, err := range w.Events() {
//		if err != nil {
//			return err // the watch's ctx ended, or the session
//		}
//		fmt.Println(ev.Kind, ev.Path)
//	}
//
// Each element is an event with a nil error, except the last when the
// watch ended with an error (see Watch): then the event is zero. After
// Unwatch the loop just ends. Breaking out of the loop leaves the watch
// open: range again to go on, or Unwatch it.
func (w *Watch) Events() iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for {
			e, err := w.Next(w.ctx)
			switch {
			case errors.Is(err, ErrUnwatched):
				return
			case err != nil:
				yield(Event{}, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}
