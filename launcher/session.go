package launcher

import (
	"bufio"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/wire"
)

// A session is one TCP connection, read top to bottom:
//
//  1. run: the peer's user is checked (Config.PeerCheck), then the
//     authenticate-app handshake (handshake) gives the session its app and
//     its sealed channel;
//  2. read (the connection's goroutine) takes frames off the connection in
//     order: each body is read as it arrives, holding in-flight budget for
//     the bytes received (frame), opened in place, routed and executed
//     (dispatch), and its answer is queued for the writer;
//  3. write (the session's second goroutine) owns everything sent after the
//     handshake, and so the launcher's nonce order: it takes the answers in
//     request order, waits for a change's durability first when the result
//     asks for it (route.Result.Durable, while the reader already runs the
//     next requests), encodes, seals and writes them, coalescing answers
//     that are ready together into one write.
//
// A session has these two goroutines and no other.
type session struct {
	srv *Server
	nc  net.Conn
	log *slog.Logger

	// ctx is what requests run under: cancelled by kill, not by a shutdown,
	// which lets in-flight requests finish.
	ctx    context.Context
	cancel context.CancelFunc

	// Guarded by srv.mu.
	seq      uint64 // accept order
	phase    phase
	uid      uint32 // the peer's user, once phase >= phaseHandshake
	reserved bool   // holds a launcher string (never evicted then)
	evicted  bool
	appID    string

	// Set by the handshake, read-only afterwards.
	app  App
	ch   *handshake.Channel
	mode handshake.Mode

	dl  *deadlineReader // the connection, with a frame body's deadlines
	in  *bufio.Reader   // dl, buffered
	br  *budgetReader   // in, holding budget for a body's bytes
	fr  *framing.Reader // frames from br
	out chan answer     // reader to writer, in request order
	ev  events          // watches and the push events queued for the writer

	since    time.Time
	requests atomic.Int64
	bytesIn  atomic.Int64
	bytesOut atomic.Int64

	// done is closed when the session's goroutine has ended (Lock waits
	// for it).
	done chan struct{}
	// lastWord, if set, is sent as a last unassociated encrypted error
	// frame once the session's answers are written (the launcher locks).
	lastWord atomic.Pointer[wire.Error]
	// bye is set by launcher/bye: once its answer is written, no push frame
	// follows.
	bye atomic.Bool

	stopOnce sync.Once
	stopping atomic.Bool
	// killed is set by kill: the session is over for Sessions and Stats even
	// while its goroutines are still unwinding.
	killed atomic.Bool
}

// phase is how far a connection got.
type phase int

const (
	phaseNew       phase = iota // accepted; peer not checked yet
	phaseHandshake              // peer checked; handshake not done
	phaseSession                // authenticated
)

// answer is what the reader hands the writer for one request.
type answer struct {
	id  string
	res route.Result
	err error
	// plain is an unassociated plaintext error frame (the frame length was
	// over the maximum: the stream cannot be read on).
	plain bool
	// last ends the session once written (a counter-mode message that did
	// not open: the peer's nonces can no longer be trusted).
	last bool
}

// maxQueued is how many answers a session holds for its writer before its
// reader waits: the bound on one session's unacknowledged changes.
const maxQueued = 64

func newSession(parent context.Context, s *Server, nc net.Conn, seq uint64) *session {
	c := &session{srv: s, nc: nc, seq: seq, log: s.log.With("remote", nc.RemoteAddr().String()), since: s.cfg.Now()}
	c.ev.signal = make(chan struct{}, 1)
	c.done = make(chan struct{})
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(parent))
	return c
}

// stopReading makes the session end after the request it is executing: its
// writer then writes the answers it owes and the session ends.
func (c *session) stopReading() {
	c.stopping.Store(true)
	_ = c.nc.SetReadDeadline(time.Now())
}

// kill ends the connection now: the request context is cancelled and the
// socket closed (the writer drops what it had left to write).
func (c *session) kill() {
	c.stopOnce.Do(func() {
		c.killed.Store(true)
		c.stopping.Store(true)
		c.cancel()
		c.nc.Close()
	})
}

// live reports whether c is an authenticated session that has not been
// killed. The caller holds srv.mu.
func (c *session) live() bool { return c.phase == phaseSession && !c.killed.Load() }

func (c *session) info() SessionInfo {
	return SessionInfo{
		AppID: c.appID, Remote: c.nc.RemoteAddr().String(), Mode: c.mode.String(), Since: c.since,
		Requests: c.requests.Load(), BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
	}
}

func (c *session) run() {
	defer close(c.done)
	defer c.kill()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in session", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	if !c.checkPeer() || !c.handshake() {
		return
	}
	c.log.Info("session started", "app", c.appID, "mode", c.mode.String())
	c.out = make(chan answer, maxQueued)
	written := make(chan struct{})
	go func() {
		defer close(written)
		c.write()
	}()
	func() {
		// However reading ends, the writer finishes what it owes (or drops
		// it once the connection is gone) before the keys go.
		defer func() {
			close(c.out)
			<-written
			c.ch.Close()
		}()
		c.read()
	}()
	c.log.Info("session ended", "app", c.appID, "requests", c.requests.Load())
}

// checkPeer refuses a connection from another user's process (see
// PeerCheck) and counts the peer's handshakes against
// Config.MaxHandshakesPerUser. It reports whether the handshake may begin.
func (c *session) checkPeer() bool {
	s := c.srv
	uid := unknownUID
	if pc := s.cfg.PeerCheck; pc != nil {
		got, err := pc.Owner.PeerUID(c.nc)
		switch {
		case err != nil:
			s.rejected.Add(1)
			// Most often the peer is gone already (its socket is no longer
			// established): it is closed without an answer.
			s.peerLog.info("connection refused: its peer's user could not be found", "remote", c.nc.RemoteAddr().String(), "err", err)
			return false
		case got != pc.UID:
			s.rejected.Add(1)
			s.peerLog.info("connection refused: it comes from another user", "remote", c.nc.RemoteAddr().String(), "uid", got)
			refuse(c.nc, wire.CodePeerRefused, "this launcher serves only its own user's apps")
			return false
		}
		uid = got
	}
	s.mu.Lock()
	evicted := c.evicted
	started := !evicted && s.handshakeStartLocked(uid)
	if started {
		c.uid, c.phase = uid, phaseHandshake
	}
	s.mu.Unlock()
	if !started && !evicted {
		s.rejected.Add(1)
		s.refusedLog.info("connection refused: too many handshakes open for its user", "uid", uid)
		refuse(c.nc, wire.CodeBusy, "too many connections are handshaking; retry")
	}
	return started
}

// plainError writes an unassociated plaintext error frame, before a session
// has a writer.
func (c *session) plainError(code wire.Code, desc string) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	_ = framing.WriteFrame(c.nc, wire.AppendError(nil, "", code, desc))
}

// handshake runs the authenticate-app exchange under the handshake deadline.
// The launcher string is reserved while it runs and used up only once its
// answer is written: a connection that dies before (evicted, reset, timed
// out) gives it back.
func (c *session) handshake() bool {
	s := c.srv
	cfg := &s.cfg
	_ = c.nc.SetReadDeadline(time.Now().Add(cfg.HandshakeTimeout))
	body, err := framing.NewReader(c.nc, cfg.MaxHandshakeFrame).ReadFrame()
	if err != nil {
		switch {
		case errors.Is(err, framing.ErrTooLarge):
			c.plainError(wire.CodeFrameTooLarge, fmt.Sprintf("handshake frame is over %d bytes", cfg.MaxHandshakeFrame))
		case isTimeout(err):
			s.refusedLog.info("handshake timed out", "remote", c.nc.RemoteAddr().String())
		}
		return false
	}
	c.bytesIn.Add(int64(len(body) + framing.HeaderSize))
	req, err := handshake.ParseRequest(body)
	if err != nil {
		c.plainError(wire.CodeHandshake, err.Error())
		return false
	}
	ep, err := wire.ParseEndpoint(req.Endpoint)
	if err != nil {
		c.plainError(wire.CodeHandshake, err.Error())
		return false
	}
	if ep.Module != handshake.Module || ep.Request != handshake.Request {
		c.plainError(wire.CodeHandshake, fmt.Sprintf("the first message must be %s/%s, not %s/%s", handshake.Module, handshake.Request, ep.Module, ep.Request))
		return false
	}
	if !s.table.Serves(ep.Version) {
		c.plainError(wire.CodeUnknownVersion, fmt.Sprintf("version %s is not served", ep.Version))
		return false
	}
	if req.Data.NonceMode != handshake.ModeCounter && cfg.RefuseFixedNonce {
		c.plainError(wire.CodeFixedRefused, handshake.ErrFixedRefused.Error())
		return false
	}
	if s.Locked() {
		c.refuseLocked()
		return false
	}
	appID, tk, err := s.tokens.reserve(req.Data.LauncherString)
	if err != nil {
		s.refusedLog.info("handshake refused", "remote", c.nc.RemoteAddr().String(), "reason", err)
		c.plainError(wire.CodeLauncherString, "the launcher string is unknown, used or expired")
		return false
	}
	used := false
	defer func() {
		if !used {
			s.tokens.release(tk)
		}
	}()
	s.mu.Lock()
	evicted := c.evicted
	c.reserved = !evicted
	s.mu.Unlock()
	if evicted {
		return false
	}
	app, ok := s.apps.App(appID)
	if !ok {
		c.plainError(wire.CodeLauncherString, "the app of this launcher string is no longer registered")
		return false
	}
	answer, ch, err := handshake.Accept(cfg.Rand, req, !cfg.RefuseFixedNonce)
	if err != nil {
		if errors.Is(err, handshake.ErrMalformed) {
			s.refusedLog.info("handshake refused", "remote", c.nc.RemoteAddr().String(), "reason", err)
			c.plainError(wire.CodeHandshake, err.Error())
			return false
		}
		c.log.Error("handshake failed", "err", err)
		c.plainError(wire.CodeInternal, "internal error")
		return false
	}
	c.ch, c.mode, c.app = ch, ch.Mode(), app
	s.mu.Lock()
	// Re-check under the lock that EndApp scans with: an app removed since
	// its string was reserved must not get a session that EndApp missed.
	if _, still := s.apps.App(appID); s.closing || s.locked || c.evicted || !still {
		locked := s.locked
		s.mu.Unlock()
		ch.Close()
		if locked {
			c.refuseLocked()
		}
		return false
	}
	s.handshakeDoneLocked(c.uid)
	c.phase, c.appID, c.reserved = phaseSession, appID, false
	s.mu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
	if err := framing.WriteFrame(c.nc, answer); err != nil {
		ch.Close()
		return false
	}
	s.tokens.commit(tk)
	used = true
	c.bytesOut.Add(int64(len(answer) + framing.HeaderSize))
	// A small buffer lets a small request's header and body come in one
	// read; large bodies bypass it.
	c.dl = &deadlineReader{c: c}
	c.in = bufio.NewReaderSize(c.dl, 2<<10)
	c.br = &budgetReader{c: c}
	c.fr = framing.NewReader(c.br, cfg.MaxFrame)
	c.setReadDeadline(time.Time{})
	return true
}

// read takes requests off the connection until the peer leaves, the session
// is ended, or a protocol error that ends it.
func (c *session) read() {
	for !c.stopping.Load() {
		size, err := c.fr.ReadHeader()
		if err != nil {
			if errors.Is(err, framing.ErrTooLarge) {
				c.out <- answer{plain: true, err: wire.Errorf(wire.CodeFrameTooLarge, "frame length is over the maximum of %d bytes; closing", c.srv.cfg.MaxFrame)}
			}
			return
		}
		if !c.frame(size) {
			return
		}
	}
}

// frame reads one request body of size bytes, runs it and queues its answer.
// It reports false when the session must end.
func (c *session) frame(size uint64) bool {
	c.br.start(size)
	body, err := c.fr.ReadBody(nil, size)
	held := c.br.stop()
	defer c.srv.budget.give(c.appID, held)
	if errors.Is(err, errNoBudget) {
		return c.refuseFrame(body, size)
	}
	if err != nil {
		if isTimeout(err) && !c.stopping.Load() {
			c.log.Info("frame body stalled: ending the session", "app", c.appID, "claimed", size, "received", len(body))
		}
		return false
	}
	c.bytesIn.Add(int64(size) + framing.HeaderSize)
	c.took()

	// The answer id is the SHA-512 of the body as received.
	id := wire.ID(body)
	plain, err := c.ch.OpenInPlace(body)
	if err != nil {
		c.log.Info("message did not decrypt", "app", c.appID, "bytes", len(body))
		last := c.mode != handshake.Fixed
		c.out <- answer{id: id, err: &wire.Error{Code: wire.CodeDecrypt, Description: "the message could not be decrypted or authenticated"}, last: last}
		return !last
	}
	start := time.Now()
	res, err := c.dispatch(plain)
	if c.log.Enabled(c.ctx, slog.LevelDebug) {
		c.log.Debug("request", "app", c.appID, "err", err, "took", time.Since(start))
	}
	c.out <- answer{id: id, res: res, err: err}
	return true
}

// took counts a request taken off the connection, which will have an answer.
func (c *session) took() {
	c.requests.Add(1)
	c.srv.touch()
	c.ev.mu.Lock()
	c.ev.reqs++
	c.ev.mu.Unlock()
}

// refuseFrame answers a frame whose bytes did not fit the in-flight budget:
// the rest of its body is read and discarded while hashed, and a busy error
// is queued.
func (c *session) refuseFrame(got []byte, size uint64) bool {
	h := sha512.New()
	h.Write(got)
	c.br.startDiscard(size)
	_, err := io.CopyN(h, c.in, int64(size)-int64(len(got)))
	c.br.stop()
	if err != nil {
		return false
	}
	c.ch.Skip()
	c.took()
	c.srv.refusedLog.info("frame refused: in-flight budget exhausted", "app", c.appID, "bytes", size)
	id := base64.StdEncoding.EncodeToString(h.Sum(nil))
	c.out <- answer{id: id, err: wire.Errorf(wire.CodeBusy, "the launcher is busy: a %d-byte frame did not fit the in-flight budget; retry later", size)}
	return true
}

// dispatch decodes the envelope, routes it and runs the handler, turning a
// panic into an internal error.
func (c *session) dispatch(plain []byte) (res route.Result, err error) {
	req, err := wire.ParseRequestLimit(plain, c.srv.cfg.MaxJSONDepth)
	if err != nil {
		return route.Result{}, err
	}
	ep, err := wire.ParseEndpoint(req.Endpoint)
	if err != nil {
		return route.Result{}, err
	}
	if ep.Module == handshake.Module {
		return route.Result{}, wire.Errorf(wire.CodeHandshakeAgain, "the handshake is already done; %s is not allowed in a session", req.Endpoint)
	}
	h, err := c.srv.table.Lookup(ep)
	if err != nil {
		return route.Result{}, err
	}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in handler", "endpoint", ep.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			res, err = route.Result{}, &wire.Error{Code: wire.CodeInternal, Description: "internal error"}
		}
	}()
	res, err = h(c.ctx, caller{c}, req.Data)
	if err != nil {
		wire.ReleaseAnswer(res.Answer)
		res.Answer = nil
	}
	return res, err
}

// write sends the session's frames until the reader is done: the answers,
// in request order, and the push events of its watches between them (an
// event of a change this session made after that request's answer). Once a
// write fails it goes on draining the queue (a change's durability clean-up
// still runs) but writes nothing more.
func (c *session) write() {
	w := &outWriter{c: c}
	// However the writer ends, the changes its requests made are offered
	// to the watches (they were made, answered or not).
	defer func() {
		for _, m := range c.takeChanges(0, true) {
			c.srv.fanOut(m)
		}
	}()
	broken := false
	var buf []byte
	defer func() { c.srv.putBuf(buf) }()
	var answered, seq uint64
	var evs []wire.Event
	fail := func() {
		broken = true
		c.kill()
	}
	for {
		var a answer
		var ok, isAnswer bool
		select {
		case a, ok = <-c.out:
			if !ok {
				// The reader is done: the events already due go out last
				// (a closing event, when the session ends in order).
				if !broken {
					evs = evs[:0]
					if !c.bye.Load() {
						evs = c.takeReady(answered, &seq, evs)
					}
					if buf, ok = c.writeEvents(w, buf, evs); !ok {
						fail()
					} else if we := c.lastWord.Load(); we != nil {
						buf = wire.AppendError(c.srv.frameBuf(buf), "", we.Code, we.Description)
						c.ch.SealInPlace(buf[framing.HeaderSize:])
						_ = framing.WriteFramed(w, buf)
					}
					_ = w.Flush()
				}
				return
			}
			isAnswer = true
		case <-c.ev.signal:
		}
		if isAnswer {
			answered++
			if d := a.res.Durable; d != nil {
				if !broken && w.Buffered() > 0 && w.Flush() != nil {
					fail()
				}
				if err := d(); err != nil && a.err == nil {
					c.log.Error("change not durable", "app", c.appID, "err", err)
					wire.ReleaseAnswer(a.res.Answer)
					a.res.Answer, a.err = nil, err
				}
			}
			if broken {
				wire.ReleaseAnswer(a.res.Answer)
				continue
			}
			var err error
			if buf, err = c.writeAnswer(w, buf, a); err != nil || a.last {
				if err == nil {
					_ = w.Flush()
				}
				fail()
				continue
			}
			if chs := c.takeChanges(answered, false); len(chs) > 0 {
				// The answer goes out before anyone hears of its change.
				if w.Flush() != nil {
					fail()
				}
				for _, m := range chs {
					c.srv.fanOut(m)
				}
			}
		}
		if broken {
			continue
		}
		evs = evs[:0]
		if !c.bye.Load() || len(c.out) > 0 {
			evs = c.takeReady(answered, &seq, evs)
		}
		if buf, ok = c.writeEvents(w, buf, evs); !ok {
			fail()
			continue
		}
		if len(c.out) == 0 {
			// Nothing more to send for now: what is buffered goes out,
			// and an idle session keeps no buffer.
			if w.Flush() != nil {
				fail()
			}
			c.srv.putBuf(buf)
			buf = nil
		}
	}
}

// writeEvents seals and writes push frames into w.
func (c *session) writeEvents(w *outWriter, buf []byte, evs []wire.Event) ([]byte, bool) {
	for _, ev := range evs {
		var err error
		buf = c.srv.frameBuf(buf)
		if buf, err = wire.AppendPush(buf, ev); err != nil {
			c.log.Error("encoding an event", "err", err)
			return buf, false
		}
		c.ch.SealInPlace(buf[framing.HeaderSize:])
		if framing.WriteFramed(w, buf) != nil {
			return buf, false
		}
	}
	return buf, true
}

// sealRoom is the room an answer's JSON is built behind: the frame header,
// then the secretbox tag.
const sealRoom = framing.HeaderSize + handshake.Overhead

// largeAnswer is the answer size from which an answer holds in-flight budget.
const largeAnswer = 64 << 10

// writeAnswer encodes, seals and writes one answer into w, building it in
// buf (returned for reuse).
func (c *session) writeAnswer(w *outWriter, buf []byte, a answer) ([]byte, error) {
	if a.plain {
		we, _ := toWire(a.err)
		_, err := w.Write(framing.AppendFrame(nil, wire.AppendError(nil, "", we.Code, we.Description)))
		return buf, err
	}
	buf = c.srv.frameBuf(buf)
	err := a.err
	if err == nil {
		if n := wire.AnswerSize(a.res.Answer); n > largeAnswer {
			// Large answers (file content) are held to the same limits as
			// requests: at most MaxFrame, and within the in-flight budget.
			switch {
			case uint64(n) > c.srv.cfg.MaxFrame:
				err = wire.Errorf(wire.CodeLimit, "the answer would be about %d bytes, over the maximum frame of %d bytes; read the file in ranges with offset and length", n, c.srv.cfg.MaxFrame)
			case !c.srv.budget.take(c.ctx, c.appID, n, false, c.srv.cfg.BudgetWait):
				err = wire.Errorf(wire.CodeBusy, "the launcher is busy: a %d-byte answer did not fit the in-flight budget; retry later or read a smaller range", n)
			default:
				defer c.srv.budget.give(c.appID, n)
			}
		}
	}
	if err == nil {
		var encErr error
		if buf, encErr = c.encode(buf, a); encErr != nil {
			// An answer that reads what it encodes (a file's content
			// streamed from the store) fails like a handler.
			buf, err = buf[:sealRoom], encErr
		}
	} else {
		wire.ReleaseAnswer(a.res.Answer)
	}
	if err != nil {
		we, known := toWire(err)
		if !known {
			c.log.Error("request failed", "app", c.appID, "err", err)
		}
		buf = wire.AppendError(buf, a.id, we.Code, we.Description)
	}
	c.ch.SealInPlace(buf[framing.HeaderSize:])
	return buf, framing.WriteFramed(w, buf)
}

// encode appends the answer's JSON to buf, turning a panic into an error so
// that it cannot end the daemon.
func (c *session) encode(buf []byte, a answer) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic encoding answer", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			out, err = buf, errors.New("panic encoding an answer")
		}
	}()
	return wire.AppendAnswer(buf, a.id, a.res.Answer)
}

// deadlineReader reads the connection. While a frame body is read (on),
// every Read first moves the read deadline to FrameIdleTimeout from now (but
// never past the body's overall deadline), so a body must keep arriving at a
// minimum average rate; between frames it adds no deadline, and an idle
// session may stay open.
type deadlineReader struct {
	c   *session
	on  bool
	end time.Time // the whole body must have arrived by then
}

// minFrameRate is the slowest a frame body may arrive on average: a body of n
// bytes gets FrameIdleTimeout plus n/minFrameRate seconds in all.
const minFrameRate = 1 << 20 // bytes per second

func (r *deadlineReader) Read(p []byte) (int, error) {
	if r.on {
		d := time.Now().Add(r.c.srv.cfg.FrameIdleTimeout)
		if r.end.Before(d) {
			d = r.end
		}
		r.c.setReadDeadline(d)
	}
	return r.c.nc.Read(p)
}

// budgetReader is what the frame reader reads through: during a body it
// takes in-flight budget for each chunk before reading it, and gives back
// what did not arrive, so that a frame holds budget for the bytes received,
// never for what its header claims. When the budget has no room for the
// next chunk within Config.BudgetWait, Read fails with errNoBudget.
type budgetReader struct {
	c     *session
	body  bool
	small bool  // the frame claims at most smallFrame bytes
	held  int64 // taken for this frame
}

// errNoBudget: the in-flight budget had no room for a body's next bytes.
var errNoBudget = errors.New("launcher: in-flight budget exhausted")

// budgetChunk is the most taken from the budget ahead of one read.
const budgetChunk = 64 << 10

// start begins a body of size bytes.
func (r *budgetReader) start(size uint64) {
	r.body, r.small, r.held = true, size <= smallFrame, 0
	r.c.dl.start(size)
}

// startDiscard keeps the body's deadlines while its rest is discarded
// (which holds no budget).
func (r *budgetReader) startDiscard(size uint64) {
	r.body = false
	r.c.dl.start(size)
}

// stop ends a body and returns the budget it holds, for the caller to give
// back once the request has run.
func (r *budgetReader) stop() int64 {
	held := r.held
	r.body, r.held = false, 0
	r.c.dl.stop()
	return held
}

func (r *budgetReader) Read(p []byte) (int, error) {
	if !r.body {
		return r.c.in.Read(p)
	}
	if len(p) > budgetChunk {
		p = p[:budgetChunk]
	}
	c := r.c
	if !c.srv.budget.take(c.ctx, c.appID, int64(len(p)), r.small, c.srv.cfg.BudgetWait) {
		return 0, errNoBudget
	}
	n, err := c.in.Read(p)
	c.srv.budget.give(c.appID, int64(len(p)-n))
	r.held += int64(n)
	return n, err
}

// start arms the deadlines for a body of size bytes; stop disarms them.
func (r *deadlineReader) start(size uint64) {
	r.on = true
	r.end = time.Now().Add(r.c.srv.cfg.FrameIdleTimeout + time.Duration(size)*time.Second/minFrameRate)
}

func (r *deadlineReader) stop() {
	r.on = false
	r.c.setReadDeadline(time.Time{})
}

// setReadDeadline sets the read deadline without undoing stopReading: once
// the session is stopping, reads are interrupted at once. stopReading sets
// the flag before its deadline, so checking the flag after ours closes the
// race.
func (c *session) setReadDeadline(t time.Time) {
	_ = c.nc.SetReadDeadline(t)
	if c.stopping.Load() {
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

// outWriter buffers a session's frames so that answers ready together go
// out in one write. Its buffer comes from the server's pool when there is
// something to write and goes back once flushed, so an idle session holds
// none (a flushed buffer holds only sealed bytes).
type outWriter struct {
	c *session
	w *bufio.Writer // nil while nothing is buffered
}

// outBufSize is the size of the buffer answers are coalesced in; larger
// frames are written directly.
const outBufSize = 16 << 10

func (o *outWriter) Write(p []byte) (int, error) {
	if o.w == nil {
		if w, _ := o.c.srv.writers.Get().(*bufio.Writer); w != nil {
			o.w = w
			o.w.Reset(&deadlineWriter{c: o.c})
		} else {
			o.w = bufio.NewWriterSize(&deadlineWriter{c: o.c}, outBufSize)
		}
	}
	return o.w.Write(p)
}

// Buffered reports how many bytes wait to be written.
func (o *outWriter) Buffered() int {
	if o.w == nil {
		return 0
	}
	return o.w.Buffered()
}

// Flush writes what is buffered and gives the buffer back.
func (o *outWriter) Flush() error {
	if o.w == nil {
		return nil
	}
	if err := o.w.Flush(); err != nil {
		return err
	}
	o.w.Reset(nil)
	o.c.srv.writers.Put(o.w)
	o.w = nil
	return nil
}

// frameBuf returns buf (or a buffer from the pool when buf is nil), emptied
// and extended by the sealRoom bytes a frame is built behind.
func (s *Server) frameBuf(buf []byte) []byte {
	if buf == nil {
		if p, _ := s.bufs.Get().(*[]byte); p != nil {
			buf = *p
		}
	}
	return append(buf[:0], make([]byte, sealRoom)...)
}

// maxPooledBuf is the largest frame buffer kept in the pool.
const maxPooledBuf = 64 << 10

// putBuf gives a frame buffer back to the pool, cleared first: it may hold
// plaintext past what was sealed (an answer whose encoding failed part way),
// and another session may get it next.
func (s *Server) putBuf(buf []byte) {
	if buf == nil || cap(buf) > maxPooledBuf {
		return
	}
	clear(buf[:cap(buf)])
	buf = buf[:0]
	s.bufs.Put(&buf)
}

// deadlineWriter writes to the connection, each write bounded by
// Config.WriteTimeout, and counts what it wrote.
type deadlineWriter struct{ c *session }

func (w *deadlineWriter) Write(p []byte) (int, error) {
	_ = w.c.nc.SetWriteDeadline(time.Now().Add(w.c.srv.cfg.WriteTimeout))
	n, err := w.c.nc.Write(p)
	w.c.bytesOut.Add(int64(n))
	return n, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// caller is the route.Caller of a session.
type caller struct{ c *session }

func (k caller) AppID() string   { return k.c.app.ID }
func (k caller) RootDir() string { return k.c.app.RootDir }
func (k caller) SharedAllowed() bool {
	a, ok := k.c.srv.apps.App(k.c.app.ID)
	return ok && a.SharedDrive
}
