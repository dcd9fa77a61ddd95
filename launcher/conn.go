package launcher

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/internal/sockio"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// conn is one TCP connection: the handshake, then the encrypted session.
// Requests are read and executed one at a time, in the order received, and
// answered in that order; a change's answer waits until the store has made
// it durable, while the next requests already run (see acks).
type conn struct {
	srv *Server
	nc  net.Conn
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	// Set under srv.mu: once the handshake succeeds, and when the connection
	// is evicted to make room under the cap before authenticating.
	authenticated bool
	appID         string
	evicted       bool
	seq           uint64 // accept order

	app  App // as of the handshake; RootDir and ID never change
	ch   *handshake.Channel
	mode handshake.Mode
	fr   *framing.Reader // reads through in
	in   *bufio.Reader   // buffers body
	body bodyReader      // the socket, with the frame idle deadline while a body is read
	// idHash hashes each request body for its answer id (reset per frame).
	idHash hash.Hash
	// lastIn is the length of the last request opened (serve goroutine);
	// lastOut that of the last answer sealed (c.wmu). They size the key
	// stream prepared ahead (see prepare).
	lastIn, lastOut int
	// pending holds small answers not yet sent because more requests were
	// already buffered: pipelined answers go out together, in one write,
	// before the connection next reads from the socket (see writeFrame).
	pending []byte

	// wmu serialises sealing and writing: the serve goroutine and the
	// finisher (see acks) both write answers. It guards pending.
	wmu sync.Mutex
	// acks holds answers that must wait, in request order: a change's
	// answer waits for the store to make it durable (vfs.Deferred) while
	// the next requests already run, and every later answer queues behind
	// it. A finisher goroutine, started when the queue fills and ended when
	// it drains, writes them; run waits for it.
	acks      ackQueue
	finishers sync.WaitGroup
	// dctx is the context requests run under; dd collects the durability
	// waits of the changes the current request makes.
	dctx context.Context
	dd   *vfs.Deferred

	since    time.Time
	requests atomic.Int64
	bytesIn  atomic.Int64
	bytesOut atomic.Int64

	stopOnce sync.Once
	stopping atomic.Bool
	// killed is set by kill: the session is over for Sessions and Stats even
	// while its goroutine is still unwinding.
	killed atomic.Bool
}

// newConn makes a connection whose request context is cancelled by kill, not
// by parent: a shutdown lets in-flight requests finish.
func newConn(parent context.Context, s *Server, nc net.Conn, seq uint64) *conn {
	c := &conn{srv: s, nc: sockio.Wrap(nc), seq: seq, log: s.log.With("remote", nc.RemoteAddr().String()), since: s.cfg.Now()}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(parent))
	c.acks.cond.L = &c.acks.mu
	return c
}

// stopReading makes the session end after the request it is executing.
func (c *conn) stopReading() {
	c.stopping.Store(true)
	_ = c.nc.SetReadDeadline(time.Now())
}

// kill ends the connection now: the request context is cancelled and the socket closed.
func (c *conn) kill() {
	c.stopOnce.Do(func() {
		c.killed.Store(true)
		c.stopping.Store(true)
		c.cancel()
		c.nc.Close()
	})
}

// live reports whether c is an authenticated session that has not been killed.
// The caller holds s.mu.
func (c *conn) live() bool { return c.authenticated && !c.killed.Load() }

func (c *conn) info() SessionInfo {
	return SessionInfo{
		AppID: c.appID, Remote: c.nc.RemoteAddr().String(), Mode: c.mode.String(), Since: c.since,
		Requests: c.requests.Load(), BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
	}
}

func (c *conn) run() {
	defer c.kill()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	if !c.handshake() {
		return
	}
	served := false
	defer func() {
		// The keys go only once no finisher can be sealing with them. If
		// serve panicked, the connection is closed first, so that a
		// finisher blocked writing stops at once (its answers are dropped).
		if !served {
			c.kill()
		}
		c.finishers.Wait()
		c.ch.Close()
	}()
	c.log.Info("session started", "app", c.appID, "mode", c.mode.String())
	c.serve()
	served = true
	c.finishers.Wait() // queued answers are written (or dropped) before the keys go
	c.log.Info("session ended", "app", c.appID, "requests", c.requests.Load())
}

// hold says whether a small answer may be held back, to go out in one write
// with the next ones.
type hold int

const (
	holdNo     hold = iota // write now
	holdIfMore             // serve goroutine (it owns c.in): hold while another request is buffered
	holdYes                // finisher: another answer is queued behind this one
)

// writeFrame writes one frame with the write deadline, or holds a small one
// back (see hold). Caller holds c.wmu (or is the handshake, before any other
// writer exists).
func (c *conn) writeFrame(buf []byte, h hold) error {
	if h != holdNo && len(buf) >= framing.HeaderSize && len(buf) <= coalesceMax &&
		(h == holdYes || c.in != nil && c.in.Buffered() > 0) {
		// Another request is already here: this answer goes out with the
		// next ones (flushPending), saving a write per pipelined request.
		binary.LittleEndian.PutUint64(buf[:framing.HeaderSize], uint64(len(buf)-framing.HeaderSize))
		c.pending = append(c.pending, buf...)
		c.bytesOut.Add(int64(len(buf)))
		return nil
	}
	if err := c.flushPending(); err != nil {
		return err
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	err := framing.WriteFramed(c.nc, buf)
	if err == nil {
		c.bytesOut.Add(int64(len(buf)))
	}
	return err
}

// coalesceMax is the largest answer held back to be sent with the next ones.
const coalesceMax = 16 << 10

// lockedFlush is flushPending under c.wmu.
func (c *conn) lockedFlush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushPending()
}

// flushPending sends the answers held back by writeFrame, in one write.
// Caller holds c.wmu.
func (c *conn) flushPending() error {
	if len(c.pending) == 0 {
		return nil
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	_, err := c.nc.Write(c.pending)
	if cap(c.pending) > 4*coalesceMax {
		c.pending = nil // do not keep a large buffer on an idle session
	} else {
		c.pending = c.pending[:0]
	}
	return err
}

// plainError writes an unassociated (or handshake-time) plain error frame.
func (c *conn) plainError(code wire.Code, desc string) {
	buf := wire.AppendError(make([]byte, framing.HeaderSize, 128+len(desc)), "", code, desc)
	c.wmu.Lock()
	_ = c.writeFrame(buf, holdNo)
	c.wmu.Unlock()
}

// handshake runs the authenticate-app exchange under the handshake deadline.
func (c *conn) handshake() bool {
	cfg := &c.srv.cfg
	_ = c.nc.SetReadDeadline(time.Now().Add(cfg.HandshakeTimeout))
	fr := framing.NewReader(c.nc, cfg.MaxHandshakeFrame)
	body, err := fr.ReadFrame()
	if err != nil {
		switch {
		case errors.Is(err, framing.ErrTooLarge):
			c.plainError(wire.CodeFrameTooLarge, fmt.Sprintf("handshake frame is over %d bytes", cfg.MaxHandshakeFrame))
		case isTimeout(err):
			c.log.Info("handshake timed out")
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
	if !c.srv.table.Serves(ep.Version) {
		c.plainError(wire.CodeUnknownVersion, fmt.Sprintf("version %s is not served", ep.Version))
		return false
	}
	if req.Data.NonceMode != handshake.ModeCounter && cfg.RefuseFixedNonce {
		c.plainError(wire.CodeFixedRefused, handshake.ErrFixedRefused.Error())
		return false
	}
	appID, err := c.srv.tokens.redeem(req.Data.LauncherString)
	if err != nil {
		c.log.Info("handshake refused", "reason", err)
		c.plainError(wire.CodeLauncherString, "the launcher string is unknown, used or expired")
		return false
	}
	app, ok := c.srv.apps.App(appID)
	if !ok {
		c.plainError(wire.CodeLauncherString, "the app of this launcher string is no longer registered")
		return false
	}
	answer, ch, err := handshake.Accept(cfg.Rand, req, !cfg.RefuseFixedNonce)
	if err != nil {
		c.log.Error("handshake failed", "err", err)
		c.plainError(wire.CodeInternal, "internal error")
		return false
	}
	c.ch, c.mode, c.app = ch, ch.Mode(), app
	c.srv.mu.Lock()
	// Re-check under the lock that EndApp scans with: an app removed since
	// its string was redeemed must not get a session that EndApp missed.
	if _, still := c.srv.apps.App(appID); c.srv.closing || c.evicted || !still {
		c.srv.mu.Unlock()
		ch.Close()
		return false
	}
	c.authenticated, c.appID = true, appID
	c.srv.mu.Unlock()
	buf := append(make([]byte, framing.HeaderSize, framing.HeaderSize+len(answer)), answer...)
	c.wmu.Lock()
	err = c.writeFrame(buf, holdNo)
	c.wmu.Unlock()
	if err != nil {
		return false
	}
	c.dctx, c.dd = vfs.Defer(c.ctx)
	c.body = bodyReader{c: c}
	// A small buffer lets a small request's header and body come in one read;
	// large bodies bypass it.
	c.in = bufio.NewReaderSize(&c.body, 2<<10)
	c.fr = framing.NewReader(c.in, cfg.MaxFrame)
	_ = c.nc.SetReadDeadline(time.Time{})
	if c.stopping.Load() {
		_ = c.nc.SetReadDeadline(time.Now())
	}
	return true
}

// bodyReader reads from the socket. While on, every Read first moves the read
// deadline to FrameIdleTimeout from now (but never past the body's overall
// deadline), so a frame body must keep arriving at a minimum average rate;
// between frames it adds no deadline. Only the connection's goroutine uses it.
type bodyReader struct {
	c   *conn
	on  bool
	end time.Time // the whole body must have arrived by then
}

// minFrameRate is the slowest a frame body may arrive on average: a body of n
// bytes gets FrameIdleTimeout plus n/minFrameRate seconds in all, so a peer
// that trickles a byte just inside the idle timeout cannot hold the in-flight
// budget its frame claimed for ever.
const minFrameRate = 1 << 20 // bytes per second

func (b *bodyReader) Read(p []byte) (int, error) {
	// Answers held back are sent before the socket is read (it may block).
	if err := b.c.lockedFlush(); err != nil {
		return 0, err
	}
	if b.on {
		d := time.Now().Add(b.c.srv.cfg.FrameIdleTimeout)
		if b.end.Before(d) {
			d = b.end
		}
		b.c.setReadDeadline(d)
	}
	return b.c.nc.Read(p)
}

// start arms the deadlines for a body of size bytes; stop disarms them.
func (b *bodyReader) start(size uint64) {
	b.on = true
	b.end = time.Now().Add(b.c.srv.cfg.FrameIdleTimeout + time.Duration(size)*time.Second/minFrameRate)
}

func (b *bodyReader) stop() {
	b.on = false
	b.c.setReadDeadline(time.Time{})
}

// setReadDeadline sets the read deadline without undoing stopReading: once the
// session is stopping, reads are interrupted at once. stopReading sets the flag
// before its deadline, so checking the flag after ours closes the race.
func (c *conn) setReadDeadline(t time.Time) {
	_ = c.nc.SetReadDeadline(t)
	if c.stopping.Load() {
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// serve reads, executes and answers requests until the peer leaves, the
// session is ended, or a fatal protocol error.
func (c *conn) serve() {
	defer c.lockedFlush() //nolint:errcheck // the session is ending either way
	for {
		if c.stopping.Load() {
			return
		}
		if c.in.Buffered() == 0 {
			c.prepare()
		}
		size, err := c.fr.ReadHeader()
		if err != nil {
			if errors.Is(err, framing.ErrTooLarge) {
				c.plainError(wire.CodeFrameTooLarge, fmt.Sprintf("frame length is over the maximum of %d bytes; closing", c.srv.cfg.MaxFrame))
			}
			return
		}
		if !c.frame(size) {
			return
		}
	}
}

// prepare computes the key material of the next request and of the next
// answer (handshake.Channel.PrepareOpen and PrepareSeal), sized like the
// last ones, while the session is about to wait for a request: on one
// connection waiting for each answer, that work is then done while the app
// reads the answer and sends its next request, rather than between the
// request's arrival and its answer. The serve goroutine calls it when
// nothing is buffered; the answer's part is skipped while the finisher
// writes (it would only wait for the lock).
func (c *conn) prepare() {
	c.ch.PrepareOpen(c.lastIn)
	if c.wmu.TryLock() {
		c.ch.PrepareSeal(c.lastOut)
		c.wmu.Unlock()
	}
}

// frame reads one request body of size bytes and answers it. It reports false
// when the session must end.
func (c *conn) frame(size uint64) bool {
	cfg := &c.srv.cfg
	n := int64(size)
	if !c.srv.budget.acquire(c.ctx, n, cfg.BudgetWait) {
		return c.refuseFrame(size)
	}
	// A body opened aside (see asideMin) holds twice its size: the body and
	// its plaintext.
	aside := size >= asideMin && size <= asideMax && c.srv.budget.tryAcquire(n)
	held := n
	if aside {
		held = 2 * n
	}
	// The frame holds its budget, and its buffer, until its answer is
	// written (its answer may wait for the store, and may point into it):
	// release runs then, once, on every path.
	var buf []byte
	switch {
	case aside:
		// Read into the last large message's buffer if it is free and has
		// room for the plaintext too.
		buf = c.srv.big.Get(int(2 * size))
	case size >= bigFrame:
		buf = c.srv.big.Get(int(size))
	}
	// hashed is closed when the hash of a body opened aside is done: it
	// reads buf until then.
	var hashed chan struct{}
	var released atomic.Bool
	release := func() {
		if released.Swap(true) {
			return
		}
		if hashed != nil {
			<-hashed
		}
		c.srv.budget.release(held)
		if cap(buf) >= bigFrame {
			c.srv.big.Put(buf)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			release() // the connection's recover logs the panic and ends it
			panic(r)
		}
	}()
	c.body.start(size)
	body, err := c.fr.ReadBody(buf, size)
	buf = body
	c.body.stop()
	if err != nil {
		release()
		if isTimeout(err) && !c.stopping.Load() {
			c.log.Info("frame body stalled: ending the session", "app", c.appID, "claimed", size, "received", len(body))
		}
		return false
	}
	c.bytesIn.Add(n + framing.HeaderSize)
	c.requests.Add(1)

	// The answer id is the SHA-512 of the body as received.
	if c.idHash == nil {
		c.idHash = sha512.New()
	}
	h := c.idHash
	h.Reset()
	aid := answerID{h: h}
	var plain []byte
	var openErr error
	if aside {
		// Opened into the second half of the buffer, leaving the body as
		// received, so that the hash (the slowest pass) runs beside the
		// request rather than before it.
		if cap(body) < 2*len(body) {
			// The first large message, or the held buffer was too small:
			// move the body into one with room (kept for the next).
			nb := make([]byte, len(body), 2*len(body))
			copy(nb, body)
			body = nb
		}
		buf = body
		plain, openErr = c.ch.OpenAside(body[len(body):2*len(body)-handshake.Overhead], body)
		hashed = make(chan struct{})
		aid.hashed = hashed
		go func() {
			defer close(hashed)
			h.Write(body)
		}()
	} else {
		// Hashed and opened in place in one pass (for large bodies the hash
		// leads on one core, the MAC follows on the other, and both decrypt
		// what both have read).
		plain, openErr = c.ch.OpenInPlace(body, h)
	}
	c.lastIn = len(plain)
	if openErr != nil {
		c.log.Info("message did not decrypt", "app", c.appID, "bytes", len(body))
		ok := c.reply(aid.get(), nil, &wire.Error{Code: wire.CodeDecrypt, Description: "the message could not be decrypted or authenticated"}, release)
		// In counter mode the peer's nonce sequence can no longer be trusted.
		return ok && c.mode == handshake.Fixed
	}
	return c.execute(aid, plain, release)
}

// Request bodies of asideMin to asideMax bytes are opened into a second
// buffer (handshake.Channel.OpenAside) rather than in place: the MAC and
// the decryption then use both cores at once, and the SHA-512 of the body
// for the answer id runs while the request executes (for an upload: while
// its content is decoded, written and synced) instead of before it: a 1 MiB
// upload takes about 1.3 ms less (of 10). It costs a second buffer the size
// of the body, which at 16 MiB gained 8% for 22 MB more memory; larger
// bodies, where memory matters more than the milliseconds, are opened in
// place, and so is a body whose second buffer the in-flight budget cannot
// take at once.
const (
	asideMin = 512 << 10
	asideMax = 4 << 20
)

// answerID is a request's answer id: the SHA-512 of its body as received, in
// base64, from h once hashed (if not nil) is closed.
type answerID struct {
	h      hash.Hash
	hashed <-chan struct{}
}

// get waits for the hash and returns the id. The serve goroutine calls it
// before the next request reuses h.
func (a answerID) get() string {
	if a.hashed != nil {
		<-a.hashed
	}
	var sum [sha512.Size]byte
	return base64.StdEncoding.EncodeToString(a.h.Sum(sum[:0]))
}

// bigFrame is the message size from which a request body's or an answer's
// buffer is kept for the next large message (Server.big) rather than left to
// the collector: a burst of uploads or downloads then uses memory already
// faulted in, instead of allocating, zeroing and faulting in the size of
// each. It is let go after bigKeep without a large message, and the memory
// is then collected and returned to the operating system at once
// (debug.FreeOSMemory), so that an idle daemon is back to its idle size.
const (
	bigFrame = 1 << 20
	bigKeep  = 2 * time.Second
)

// refuseFrame answers a frame that could not get in-flight budget: its body is
// read and discarded while hashed, and a busy error is sent.
func (c *conn) refuseFrame(size uint64) bool {
	h := sha512.New()
	c.body.start(size)
	_, err := io.CopyN(h, c.in, int64(size))
	c.body.stop()
	if err != nil {
		return false
	}
	c.ch.Skip()
	id := base64.StdEncoding.EncodeToString(h.Sum(nil))
	c.log.Warn("frame refused: in-flight budget exhausted", "app", c.appID, "bytes", size)
	return c.reply(id, nil, &wire.Error{Code: wire.CodeBusy, Description: fmt.Sprintf("the launcher is busy: a %d-byte frame did not fit the in-flight budget; retry later", size)}, nil)
}

// execute routes and runs one decrypted request and answers it (or queues
// its answer, see acks); the answer's id is taken once the request has run.
// release gives the request's buffer back; it runs once the answer, which
// may refer to it, is written.
func (c *conn) execute(aid answerID, plain []byte, release func()) bool {
	start := time.Now()
	answer, err := c.dispatch(plain)
	id := aid.get()
	if err != nil {
		if _, known := toWire(err); !known {
			c.log.Error("request failed", "app", c.appID, "err", err)
		}
	}
	if c.log.Enabled(c.ctx, slog.LevelDebug) {
		code := int64(0)
		if err != nil {
			we, _ := toWire(err)
			code = int64(we.Code)
		}
		c.log.Debug("request", "app", c.appID, "code", code, "took", time.Since(start))
	}
	if c.dd.Pending() {
		// The request changed the store: it is applied, and visible to the
		// next requests, which run now; its answer waits until it is durable.
		d := c.dd
		c.dctx, c.dd = vfs.Defer(c.ctx)
		a := ack{d: d, id: id, answer: answer, err: err, release: release}
		if c.in.Buffered() == 0 && c.acks.idle() {
			// No other request is here to run meanwhile: wait on this
			// goroutine rather than hand the answer to a finisher.
			return c.finishOne(a, false, false)
		}
		return c.queue(a)
	}
	return c.reply(id, answer, err, release)
}

// reply answers a request from the serve goroutine: at once if no answer is
// queued, else behind the queued ones, keeping the answers in request order.
// release, if not nil, runs once the answer is written.
func (c *conn) reply(id string, answer any, err error, release func()) bool {
	if !c.acks.idle() {
		return c.queue(ack{id: id, answer: answer, err: err, release: release})
	}
	ok := c.write(id, answer, err, holdIfMore)
	if release != nil {
		release()
	}
	return ok
}

// write encodes, seals and writes the answer to a request: err's code, or
// answer. h: see writeFrame.
func (c *conn) write(id string, answer any, err error, h hold) bool {
	if err != nil {
		closeAnswer(answer)
		we, _ := toWire(err)
		return c.answerError(id, we, h)
	}
	if sh, ok := answer.(sizeHinter); ok && !isNil(answer) {
		// Large answers (file content) are held to the same limits as
		// requests: at most MaxFrame, and within the in-flight budget.
		size := int64(sh.EncodedSize()) + 256
		if uint64(size) > c.srv.cfg.MaxFrame {
			closeAnswer(answer)
			return c.answerError(id, wire.Errorf(wire.CodeLimit, "the answer would be about %d bytes, over the maximum frame of %d bytes; read the file in ranges with offset and length", size, c.srv.cfg.MaxFrame), h)
		}
		if !c.srv.budget.acquire(c.ctx, size, c.srv.cfg.BudgetWait) {
			closeAnswer(answer)
			return c.answerError(id, wire.Errorf(wire.CodeBusy, "the launcher is busy: a %d-byte answer did not fit the in-flight budget; retry later or read a smaller range", size), h)
		}
		defer c.srv.budget.release(size)
	}
	buf, err := c.encodeAnswer(id, answer)
	if err != nil {
		// An answer that reads what it encodes (a file's content streamed
		// from the store) fails like a handler; anything else is internal.
		we, known := toWire(err)
		if !known {
			c.log.Error("encoding answer", "app", c.appID, "err", err)
		}
		return c.answerError(id, we, h)
	}
	if buf == nil {
		return c.answerError(id, &wire.Error{Code: wire.CodeOK}, h)
	}
	return c.send(buf, h)
}

// ack is a queued answer; d, if not nil, must be waited for first; release,
// if not nil, runs once the answer is written (or dropped).
type ack struct {
	d       *vfs.Deferred
	id      string
	answer  any
	err     error
	release func()
}

// maxAcks is how many answers a session queues before the serve goroutine
// waits for the finisher: the bound on one session's unacknowledged changes.
const maxAcks = 64

// ackQueue is the queue of answers that must wait (conn.acks).
type ackQueue struct {
	mu      sync.Mutex
	cond    sync.Cond // signalled when an answer leaves the queue
	items   []ack
	running bool // a finisher is draining items
}

// idle reports whether no answer is queued or being written by a finisher.
func (q *ackQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) == 0 && !q.running
}

// queue appends an answer behind the queued ones, starting a finisher if
// none runs, and waits while the queue is full. It reports false once the
// session is ending.
func (c *conn) queue(a ack) bool {
	q := &c.acks
	q.mu.Lock()
	for len(q.items) >= maxAcks {
		q.cond.Wait()
	}
	q.items = append(q.items, a)
	if !q.running {
		q.running = true
		c.finishers.Add(1)
		go c.finish()
	}
	q.mu.Unlock()
	return !c.stopping.Load()
}

// finishOne waits for a's change and writes its answer unless broken (held
// back if more is true and it is small). It reports whether the session can
// go on; a panic ends it.
func (c *conn) finishOne(a ack, broken, more bool) (ok bool) {
	if a.release != nil {
		defer a.release()
	}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic answering a request", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	if a.d != nil {
		if !a.d.Ready() && c.lockedFlush() != nil {
			broken = true // answers held back go out before a wait
		}
		if err := a.d.Wait(); err != nil && a.err == nil {
			closeAnswer(a.answer)
			a.answer, a.err = nil, err
			c.log.Error("change not durable", "app", c.appID, "err", err)
		}
	}
	if broken {
		closeAnswer(a.answer)
		return false
	}
	h := holdNo
	if more {
		h = holdYes
	}
	return c.write(a.id, a.answer, a.err, h)
}

// finish writes the queued answers in order, each once its change is
// durable, until the queue is empty. A change that could not be made
// durable is answered with its error instead. After a failed write it keeps
// draining (the changes' durability clean-up still runs) but writes nothing
// more, and ends the session.
func (c *conn) finish() {
	defer c.finishers.Done()
	q := &c.acks
	broken := false
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			// Send what was held back, then stop unless more came meanwhile.
			q.mu.Unlock()
			if c.lockedFlush() != nil && !broken {
				broken = true
				c.kill()
			}
			q.mu.Lock()
			if len(q.items) == 0 {
				q.running = false
				q.items = nil
				q.mu.Unlock()
				return
			}
		}
		a, more := q.items[0], len(q.items) > 1
		q.mu.Unlock()
		if !c.finishOne(a, broken, more) {
			broken = true
			c.kill()
		}
		q.mu.Lock()
		q.items[0] = ack{}
		q.items = q.items[1:]
		q.cond.Signal()
		q.mu.Unlock()
	}
}

// nullData is how an answer whose data encodes as JSON null ends.
var nullData = []byte(`,"data":null}`)

// encodeAnswer builds a data answer behind sealRoom. It returns nil (success
// without data: error code 0) for a nil answer, typed or not, and for one that
// encodes as JSON null: apps test error.code and never expect "data":null. A
// panic while encoding (an answer type's AppendJSON) becomes an error, so it
// cannot end the session.
func (c *conn) encodeAnswer(id string, answer any) (buf []byte, err error) {
	if isNil(answer) {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic encoding answer", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			buf, err = nil, fmt.Errorf("panic encoding a %T answer", answer)
		}
	}()
	buf, err = wire.AppendData(c.srv.answerBuf(sealRoom+sizeHint(answer)), id, answer)
	if err != nil {
		return nil, err
	}
	if bytes.HasSuffix(buf, nullData) {
		return nil, nil
	}
	return buf, nil
}

// isNil reports whether v is nil or a nil pointer, map, slice or interface.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

type sizeHinter interface{ EncodedSize() int }

// closeAnswer releases what an answer that is not going to be encoded holds
// (an open file's content).
func closeAnswer(answer any) {
	if c, ok := answer.(io.Closer); ok && !isNil(answer) {
		_ = c.Close()
	}
}

func sizeHint(v any) int {
	if h, ok := v.(sizeHinter); ok {
		return h.EncodedSize() + 128
	}
	return 512
}

// dispatch decodes the envelope, routes it and runs the handler, turning a
// panic into an internal error.
func (c *conn) dispatch(plain []byte) (answer any, err error) {
	req, err := wire.ParseRequestLimit(plain, c.srv.cfg.MaxJSONDepth)
	if err != nil {
		return nil, err
	}
	ep, err := wire.ParseEndpoint(req.Endpoint)
	if err != nil {
		return nil, err
	}
	if ep.Module == handshake.Module {
		return nil, wire.Errorf(wire.CodeHandshakeAgain, "the handshake is already done; %s is not allowed in a session", req.Endpoint)
	}
	h, err := c.srv.table.Lookup(ep)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in handler", "endpoint", ep.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			answer, err = nil, &wire.Error{Code: wire.CodeInternal, Description: "internal error"}
		}
	}()
	return h(c.dctx, caller{c}, req.Data)
}

// answerError sends an error answer (code 0 for success without data).
func (c *conn) answerError(id string, we *wire.Error, h hold) bool {
	buf := wire.AppendError(c.srv.answerBuf(sealRoom+192+len(we.Description)), id, we.Code, we.Description)
	return c.send(buf, h)
}

// sealRoom is the room an answer's JSON is built behind: the frame header,
// then the secretbox tag.
const sealRoom = framing.HeaderSize + handshake.Overhead

// send seals the JSON in buf[sealRoom:] in place and writes the frame.
func (c *conn) send(buf []byte, h hold) bool {
	c.wmu.Lock()
	c.ch.SealInPlace(buf[framing.HeaderSize:])
	c.lastOut = len(buf) - sealRoom
	ok := c.writeFrame(buf, h) == nil
	c.wmu.Unlock()
	// buf has been written or copied: it is free from here.
	if cap(buf) >= bigFrame {
		c.srv.big.Put(buf) // a large answer's buffer serves the next large message
	} else {
		c.srv.recycle(buf)
	}
	return ok
}

// Answer buffers are recycled through the server's pool: a small answer's
// buffer is free once it has been written (or copied to the held-back
// answers), so the next answer on any connection can reuse it. Only sent
// buffers go back, so the pool holds ciphertext, never another session's
// plain answer.
const (
	minAnswerBuf = 8 << 10  // the smallest buffer made: most answers fit
	maxAnswerBuf = 64 << 10 // the largest buffer kept
)

// answerBuf returns an empty buffer of at least n bytes' capacity, extended
// to the sealRoom bytes an answer is built behind.
func (s *Server) answerBuf(n int) []byte {
	if p, _ := s.bufs.Get().(*[]byte); p != nil && cap(*p) >= n {
		return (*p)[:sealRoom]
	}
	if n > maxAnswerBuf {
		if b := s.big.Get(n); b != nil {
			return b[:sealRoom]
		}
		return make([]byte, sealRoom, n)
	}
	return make([]byte, sealRoom, max(n, minAnswerBuf))
}

// recycle gives a buffer made by answerBuf back to the pool.
func (s *Server) recycle(buf []byte) {
	if c := cap(buf); c >= minAnswerBuf && c <= maxAnswerBuf {
		s.bufs.Put(&buf)
	}
}

// caller is the route.Caller of a session.
type caller struct{ c *conn }

func (k caller) AppID() string   { return k.c.app.ID }
func (k caller) RootDir() string { return k.c.app.RootDir }
func (k caller) SharedAllowed() bool {
	a, ok := k.c.srv.apps.App(k.c.app.ID)
	return ok && a.SharedDrive
}
