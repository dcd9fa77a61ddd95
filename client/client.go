// Package client is the Go SDK for apps of the launcher.
//
// An app started by the launcher finds its connection value with
// LauncherValue (the --launcher argument or the SAFE_LAUNCHER environment
// variable), connects with Dial, and calls a method per endpoint. A Client is
// safe for concurrent use: requests are pipelined on one connection and answers
// are matched by id. Errors from the launcher are *wire.Error values; test them
// with errors.Is against the wire.Err* sentinels (for example
// errors.Is(err, wire.ErrPathNotFound)).
//
// The SDK asks for counter nonce mode by default (a fresh nonce per message);
// WithFixedNonce selects the original protocol's fixed nonce, which a launcher
// may refuse.
//
// The package shares wire types with the daemon through package wire and never
// imports server packages.
package client

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/internal/bigbuf"
	"github.com/safe-launcher/launcher/internal/sockio"
	"github.com/safe-launcher/launcher/wire"
)

// EnvLauncher is the environment variable that may carry the launcher value
// instead of the command line.
const EnvLauncher = "SAFE_LAUNCHER"

var (
	// ErrClosed is returned by calls on a closed client or after the connection broke.
	ErrClosed = errors.New("client: connection closed")
	// ErrNoLauncher is returned by LauncherValue when the app was not given one.
	ErrNoLauncher = errors.New("client: no --launcher argument or " + EnvLauncher + " variable")
	// ErrBadLauncherValue is returned for a value that is not tcp:<host>:<port>:<launcher_string>.
	ErrBadLauncherValue = errors.New("client: launcher value is not tcp:<host>:<port>:<launcher_string>")
)

// Target is a parsed launcher value.
type Target struct {
	Host, Port     string
	LauncherString string
}

// Addr returns host:port.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, t.Port) }

// ParseLauncherValue parses "tcp:<host>:<port>:<launcher_string>". The launcher
// string is everything after the port (it may itself contain ':'); the host may
// be a name.
func ParseLauncherValue(v string) (Target, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 4 || parts[0] != "tcp" || parts[1] == "" || parts[2] == "" {
		return Target{}, ErrBadLauncherValue
	}
	t := Target{Host: parts[1], Port: parts[2], LauncherString: strings.Join(parts[3:], ":")}
	if t.LauncherString == "" {
		return Target{}, ErrBadLauncherValue
	}
	return t, nil
}

// LauncherValue finds the launcher value in args (usually os.Args[1:]):
// "--launcher VALUE" or "--launcher=VALUE"; failing that, in the SAFE_LAUNCHER
// environment variable.
func LauncherValue(args []string) (string, error) {
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--launcher="); ok {
			return v, nil
		}
		if a == "--launcher" && i+1 < len(args) {
			return args[i+1], nil
		}
	}
	if v := os.Getenv(EnvLauncher); v != "" {
		return v, nil
	}
	return "", ErrNoLauncher
}

// Option configures Dial.
type Option func(*options)

type options struct {
	mode     handshake.Mode
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	rand     io.Reader
	maxFrame uint64
}

// WithFixedNonce selects the original fixed-nonce mode (for compatibility tests).
func WithFixedNonce() Option { return func(o *options) { o.mode = handshake.Fixed } }

// WithDialer replaces the dialer (default net.Dialer.DialContext).
func WithDialer(d func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(o *options) { o.dial = d }
}

// WithRand replaces the randomness source (default crypto/rand), for tests.
func WithRand(r io.Reader) Option { return func(o *options) { o.rand = r } }

// WithMaxFrame sets the largest answer frame accepted (default 300 MiB).
func WithMaxFrame(n uint64) Option { return func(o *options) { o.maxFrame = n } }

// Client is a session with the launcher.
type Client struct {
	nc   net.Conn
	ch   *handshake.Channel
	mode handshake.Mode

	// writeMu orders sealing (SealInPlace, PrepareSeal) and writing, and
	// guards lastOut; end closes the channel under it.
	writeMu sync.Mutex
	lastOut int // length of the last request sealed (writeMu)
	// lastIn is the length of the last answer opened (the reader role's).
	lastIn int
	in     *bufio.Reader // under fr

	mu      sync.Mutex
	pending map[string][]waiter // by id; FIFO for identical ids
	err     error               // set when the reader stops
	hashing int                 // large requests sent whose id is still being computed
	hashed  *sync.Cond          // signalled (with mu) when one of them is registered
	// unhashed is the one large request (counter mode only) sent without
	// computing its id: an answer whose id matches no other pending request
	// is its answer. Only one at a time, so no answer can be mistaken for
	// another's; counter-mode boxes never repeat, so no id is shared.
	unhashed chan result

	// Reading answers (see await). One goroutine at a time holds the
	// reader role and reads from the connection: a caller waiting for its
	// own answer, or a background reader while requests wait whose callers
	// do not read, or while the session is idle (to notice its end).
	fr          *framing.Reader // used only by the holder of the role
	reading     bool            // the role is held (mu)
	readGen     uint64          // changes whenever the role changes hands (mu)
	interrupted bool            // a read deadline was set to stop the holder (mu)
	ended       bool            // the session has ended: err is set, done closed (mu)
	closing     bool            // Close was called (mu)
	bgTurn      bool            // the role was handed to the background reader (mu)
	wake        chan struct{}   // wakes the background reader (capacity 1)
	idle        *time.Timer     // wakes the background reader once the session is idle
	bgDone      chan struct{}   // closed when the background reader has stopped

	done chan struct{} // closed when the session has ended

	// big keeps the last large request's frame buffer for a moment, for the
	// next one: a burst of uploads then encodes into memory already faulted
	// in instead of allocating, zeroing and faulting in each frame's size.
	big *bigbuf.Cache
	// frames holds small request frame buffers (*[]byte) once sent, for
	// the next requests.
	frames sync.Pool
}

// maxPooledFrame is the largest request frame buffer kept in frames.
const maxPooledFrame = 16 << 10

// bigFrame is the frame size from which its buffer is kept for the next
// large request; bigKeep is how long it is kept unused.
const (
	bigFrame = 1 << 20
	bigKeep  = 2 * time.Second
)

type result struct {
	data json.RawMessage
	err  error
	// dir, if not nil, is the answer's data, decoded by the reader for a
	// waiter that asked for a get-dir answer (data is then nil).
	dir *wire.GetDirResponse
}

// waiter is a request waiting for its answer: its caller's channel, and
// whether the caller decodes the data as a get-dir answer, which the reader
// then decodes itself when it can in one pass (see readOne).
type waiter struct {
	ch     chan result
	getDir bool
}

// Dial connects to the launcher named by value ("tcp:<host>:<port>:<launcher_string>")
// and completes the handshake. ctx bounds the dial and the handshake.
func Dial(ctx context.Context, value string, opts ...Option) (*Client, error) {
	o := options{mode: handshake.Counter, rand: rand.Reader, maxFrame: framing.DefaultMaxSize}
	for _, f := range opts {
		f(&o)
	}
	if o.dial == nil {
		// No TCP keep-alive: the launcher is on loopback (see launcher.Listen).
		d := net.Dialer{KeepAlive: -1}
		o.dial = d.DialContext
	}
	t, err := ParseLauncherValue(value)
	if err != nil {
		return nil, err
	}
	nc, err := o.dial(ctx, "tcp", t.Addr())
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", t.Addr(), err)
	}
	c, err := handshakeOn(ctx, nc, t.LauncherString, o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func handshakeOn(ctx context.Context, nc net.Conn, launcherString string, o options) (*Client, error) {
	nc = sockio.Wrap(nc)
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo) })
	defer stop()
	app, req, err := handshake.NewApp(o.rand, launcherString, wire.V1_0.String(), o.mode)
	if err != nil {
		return nil, err
	}
	if err := framing.WriteFrame(nc, req); err != nil {
		return nil, fmt.Errorf("client: sending handshake: %w", err)
	}
	fr := framing.NewReader(nc, o.maxFrame)
	answer, err := fr.ReadFrame()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("client: handshake: %w", ctx.Err())
		}
		return nil, fmt.Errorf("client: reading handshake answer: %w", err)
	}
	ch, err := app.Finish(answer)
	if err != nil {
		var re *handshake.RefusedError
		if errors.As(err, &re) {
			return nil, &wire.Error{Code: wire.Code(re.Code), Description: re.Description}
		}
		return nil, fmt.Errorf("client: %w", err)
	}
	if !stop() {
		return nil, fmt.Errorf("client: handshake: %w", ctx.Err())
	}
	_ = nc.SetDeadline(timeZero)
	c := &Client{nc: nc, ch: ch, mode: o.mode, pending: map[string][]waiter{}, done: make(chan struct{}),
		big: bigbuf.New(bigKeep, nil)}
	c.hashed = sync.NewCond(&c.mu)
	// Answers are read through a buffer: a small answer's header and body
	// come in one read (a large body bypasses the buffer).
	c.in = bufio.NewReaderSize(nc, 32<<10)
	c.fr = framing.NewReader(c.in, o.maxFrame)
	c.wake, c.bgDone = make(chan struct{}, 1), make(chan struct{})
	c.idle = time.AfterFunc(time.Hour, c.nudge)
	c.idle.Stop()
	// The session starts idle: the background reader holds the role.
	c.reading, c.bgTurn = true, true
	c.nudge()
	go c.background()
	return c, nil
}

// Mode reports the session's nonce mode ("counter" or "fixed").
func (c *Client) Mode() string { return c.mode.String() }

// Close ends the session and waits until it has ended. It is idempotent.
func (c *Client) Close() error {
	err := c.nc.Close()
	c.mu.Lock()
	c.closing = true
	free := !c.reading && !c.ended
	if free {
		c.reading = true // nobody reads: end the session here
	}
	c.mu.Unlock()
	if free {
		c.end(net.ErrClosed)
	}
	<-c.done
	<-c.bgDone
	c.idle.Stop()
	c.big.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Done is closed when the session has ended (closed by either side).
func (c *Client) Done() <-chan struct{} { return c.done }

// Reading answers.
//
// No goroutine is dedicated to reading: handing each answer from a reader
// goroutine to its caller costs a goroutine wake-up, and on the 2-core
// virtual machines here wake-ups are dear (BenchmarkRoundTrip, SDK and
// daemon in one process: 55 µs with the hand-off, 30 µs without; between
// two processes a get-dir p50 gains about 10 µs). A caller that finds
// nobody reading reads itself (await) until its own answer comes,
// delivering the answers of other requests on the way. When it stops,
// requests still waiting get the background reader (a goroutine of the
// Client's, parked while callers read); with none waiting, the role is
// free, and once the session has been idle for idleRead the background
// reader takes it to notice the session's end (Done), and keeps it until
// an answer comes. A caller whose context ends while it reads is stopped by
// a read deadline; the frame it was reading is finished by the next holder
// (framing.Reader.Next resumes it).

// idleRead is how long the connection may go unread while no request waits.
const idleRead = 10 * time.Millisecond

// await returns the answer that comes on w, reading it itself if nobody
// holds the reader role.
func (c *Client) await(ctx context.Context, w <-chan result) result {
	select {
	case r := <-w: // delivered while another request's caller read
		return r
	default:
	}
	c.mu.Lock()
	if c.reading || c.ended {
		c.mu.Unlock()
		select {
		case r := <-w:
			return r
		case <-ctx.Done():
			return result{err: ctx.Err()}
		}
	}
	c.reading = true
	c.readGen++
	gen := c.readGen
	c.mu.Unlock()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			c.mu.Lock()
			if c.reading && c.readGen == gen && !c.ended {
				c.interrupted = true
				_ = c.nc.SetReadDeadline(aLongTimeAgo)
			}
			c.mu.Unlock()
		})
		defer stop()
	}
	for {
		// The answer may have come between the check above and taking the
		// role; after that, only this loop delivers.
		select {
		case r := <-w:
			c.release()
			return r
		default:
		}
		switch c.readOne() {
		case readEnded:
			return <-w // end failed every waiting request
		case readInterrupted:
			c.release()
			return result{err: ctx.Err()}
		}
	}
}

// background is the background reader, owned by the Client and stopped
// when the session ends. Woken by nudge, it reads while it holds the role:
// handed to it (bgTurn), or taken when free (the idle timer's wake-up).
func (c *Client) background() {
	defer close(c.bgDone)
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		c.mu.Lock()
		mine := c.bgTurn
		c.bgTurn = false
		if !mine && !c.reading && !c.ended {
			c.reading = true
			c.readGen++
			mine = true
		}
		c.mu.Unlock()
		if mine {
			c.readFor()
		}
	}
}

// nudge wakes the background reader.
func (c *Client) nudge() {
	select {
	case c.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// readFor reads while holding the role in the background: while requests
// wait, or (taken when idle) until the next answer.
func (c *Client) readFor() {
	for {
		switch c.readOne() {
		case readEnded:
			return
		case readInterrupted:
			// Only a caller's context interrupts, and never once the role
			// has changed hands; read on.
			continue
		}
		c.mu.Lock()
		if !c.waiting() && !c.closing {
			c.readGen++
			c.reading = false
			c.idle.Reset(idleRead)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// waiting reports whether a request sent waits for its answer. Caller holds
// c.mu.
func (c *Client) waiting() bool {
	return len(c.pending) > 0 || c.unhashed != nil || c.hashing > 0
}

// release gives up the reader role (see releaseLocked).
func (c *Client) release() {
	c.mu.Lock()
	c.releaseLocked()
	c.mu.Unlock()
}

// releaseLocked gives up the reader role held by a caller: to a background
// reader if requests still wait (or the session is closing), else to
// nobody, arming the idle timer. Caller holds c.mu.
func (c *Client) releaseLocked() {
	if c.interrupted {
		c.interrupted = false
		_ = c.nc.SetReadDeadline(timeZero)
	}
	c.readGen++
	if c.ended {
		return
	}
	if c.waiting() || c.closing {
		c.bgTurn = true // the role stays held, by the background reader
		c.nudge()
		return
	}
	c.reading = false
	c.idle.Reset(idleRead)
}

type readResult int

const (
	readOK          readResult = iota // an answer was delivered
	readInterrupted                   // the holder's context ended; the role is still held
	readEnded                         // the session ended
)

// readOne reads one answer and delivers it. Only the holder of the reader
// role calls it.
func (c *Client) readOne() readResult {
	if c.in.Buffered() == 0 {
		c.prepare()
	}
	body, err := c.fr.Next()
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.mu.Lock()
			intr := c.interrupted
			if intr {
				c.interrupted = false
				_ = c.nc.SetReadDeadline(timeZero)
			}
			c.mu.Unlock()
			if intr {
				return readInterrupted
			}
		}
		c.end(err)
		return readEnded
	}
	// The answer is opened and parsed in its own buffer: the data handed
	// to the caller points into it (each frame gets a new buffer).
	plain, err := c.ch.OpenInPlace(body)
	c.lastIn = len(plain)
	if err != nil {
		// An unencrypted frame here is the launcher's plain error (e.g.
		// frame too large) just before it closes. (A small box that fails
		// to open is left as received.)
		if r, perr := wire.ParseResponse(body); perr == nil && r.Err() != nil {
			err = r.Err()
		}
		c.end(err)
		return readEnded
	}
	r, perr := wire.ParseResponse(plain)
	if perr != nil {
		c.end(fmt.Errorf("client: malformed answer: %w", perr))
		return readEnded
	}
	c.deliver(r.ID, result{data: r.Data, err: r.Err()})
	return readOK
}

// prepare computes the key material of the next answer and of the next
// request (handshake.Channel.PrepareOpen and PrepareSeal), sized like the
// last ones, while the reader is about to wait for an answer: that work is
// then done while the launcher executes the request, rather than once the
// answer is here. The holder of the reader role calls it when nothing is
// buffered; the request's part is skipped while a caller sends.
func (c *Client) prepare() {}

// end ends the session because of err: every waiting request fails with
// it. Only the holder of the reader role calls it (or Close, taking the
// free role).
func (c *Client) end(err error) {
	c.nc.Close()
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = ErrClosed
	} else {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	c.err = err
	for id, q := range c.pending {
		for _, w := range q {
			w.ch <- result{err: err}
		}
		delete(c.pending, id)
	}
	if c.unhashed != nil {
		c.unhashed <- result{err: err}
		c.unhashed = nil
	}
	c.mu.Unlock()
	c.idle.Stop()
	// A sender may be sealing: its write fails now that the connection is
	// closed, and the keys go once it is done.
	c.writeMu.Lock()
	c.ch.Close()
	c.writeMu.Unlock()
	close(c.done)
}

// waitsForGetDir reports whether the first request waiting for answer id
// decodes it as a get-dir answer. Only the holder of the reader role calls
// it; the queue's head cannot change until that holder delivers.
func (c *Client) waitsForGetDir(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.pending[id]
	return len(q) > 0 && q[0].getDir
}

// deliver hands r to the first request waiting for id (an answer nobody
// waits for is dropped).
func (c *Client) deliver(id string, r result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.pending[id]
	for len(q) == 0 && c.hashing > 0 {
		// The answer may be to a large request whose id is still being
		// computed; it is registered before its writer returns.
		c.hashed.Wait()
		q = c.pending[id]
	}
	if len(q) == 0 {
		if c.unhashed != nil {
			c.unhashed <- r
			c.unhashed = nil
		}
		return // else an answer nobody waits for
	}
	q[0].ch <- r
	if len(q) == 1 {
		delete(c.pending, id)
	} else {
		c.pending[id] = q[1:]
	}
}

type envelope struct {
	Endpoint string `json:"endpoint"`
	Data     any    `json:"data,omitempty"`
}

// Call sends a request to endpoint with data (marshalled as JSON; nil for none)
// and decodes the answer's data into out (if out is non-nil). It returns a
// *wire.Error for an error answer. Calls may run concurrently.
//
// Request types of package wire are encoded by their own encoders straight
// into the frame (the same bytes encoding/json would make); answers of types
// that implement wire.Decoder are decoded in the answer's buffer.
func (c *Client) Call(ctx context.Context, endpoint string, data, out any) error {
	frame, err := c.envelopeFrame(endpoint, data)
	if err != nil {
		return fmt.Errorf("client: encoding %s: %w", endpoint, err)
	}
	dir, getDir := out.(*wire.GetDirResponse)
	res := c.call(ctx, frame, getDir && dir != nil)
	if res.dir != nil {
		*dir = *res.dir // decoded by the reader (see readOne)
		return nil
	}
	raw, err := res.data, res.err
	if err != nil {
		return err
	}
	if out != nil {
		if len(raw) == 0 {
			return fmt.Errorf("client: %s answered without data", endpoint)
		}
		if d, ok := out.(wire.Decoder); ok {
			// raw points into this answer's own buffer, which nothing else uses.
			err = wire.DecodeOwned(raw, d)
		} else {
			err = json.Unmarshal(raw, out)
		}
		if err != nil {
			return fmt.Errorf("client: decoding %s answer: %w", endpoint, err)
		}
	}
	return nil
}

// sealRoom is the room a message is built behind: the frame header, then the
// secretbox tag, so that it is sealed and sent where it was written.
const sealRoom = framing.HeaderSize + handshake.Overhead

type sizeHinter interface{ EncodedSize() int }

// envelopeFrame builds {"endpoint":E,"data":D} behind sealRoom bytes, as
// json.Marshal(envelope{E, D}) would write it.
func (c *Client) envelopeFrame(endpoint string, data any) ([]byte, error) {
	msg, err := json.Marshal(envelope{Endpoint: endpoint, Data: data})
	if err != nil {
		return nil, err
	}
	return append(make([]byte, sealRoom, sealRoom+len(msg)), msg...), nil
}

// plainASCII reports whether s is printable ASCII that JSON (with
// encoding/json's HTML escaping) writes unescaped.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// CallRaw sends one request message (the plain JSON envelope) and returns the
// answer's raw data (nil for success without data).
func (c *Client) CallRaw(ctx context.Context, msg []byte) (json.RawMessage, error) {
	r := c.call(ctx, append(make([]byte, sealRoom, sealRoom+len(msg)), msg...), false)
	return r.data, r.err
}

// hashAside is the request size from which the request's id (the SHA-512 of
// the box) is computed while the frame is being sent rather than before.
const hashAside = 1 << 20

// call seals the message in frame[sealRoom:] in place, sends it and waits
// for its answer; getDir: see waiter.
func (c *Client) call(ctx context.Context, frame []byte, getDir bool) result {
	w, err := c.send(frame, getDir)
	if err != nil {
		return result{err: err}
	}
	// On ctx's end the slot stays queued, so that a later answer with the
	// same id (fixed mode) still goes to the right caller; this one is
	// dropped.
	return c.await(ctx, w)
}

// send seals the message in frame[sealRoom:] in place and sends it. The
// answer (or the error that ended the session) comes on the returned channel.
// Requests are sent in the order of send calls. getDir says the caller
// decodes the answer as a get-dir answer (see waiter).
func (c *Client) send(frame []byte, getDir bool) (<-chan result, error) {
	ch := make(chan result, 1)
	w := waiter{ch: ch, getDir: getDir}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	box := frame[framing.HeaderSize:]
	c.ch.SealInPlace(box)
	c.lastOut = len(box) - handshake.Overhead
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	var err error
	switch {
	case len(box) < hashAside:
		id := wire.ID(box)
		c.pending[id] = append(c.pending[id], w)
		c.mu.Unlock()
		err = framing.WriteFramed(c.nc, frame)
	case c.mode == handshake.Counter && c.unhashed == nil:
		// The launcher hashes the request to make the answer's id; this
		// side need not (see unhashed), which on two cores leaves the
		// launcher both of them.
		c.unhashed = ch
		c.mu.Unlock()
		err = framing.WriteFramed(c.nc, frame)
	default:
		// Hash on one core while the frame goes out (and the launcher reads,
		// hashes and opens it) on the other. The reader waits for the id
		// before it gives up on an answer.
		c.hashing++
		c.mu.Unlock()
		var wg sync.WaitGroup
		wg.Go(func() {
			id := wire.ID(box)
			c.mu.Lock()
			if c.err != nil {
				ch <- result{err: c.err} // the reader is gone
			} else {
				c.pending[id] = append(c.pending[id], w)
			}
			c.hashing--
			c.hashed.Broadcast()
			c.mu.Unlock()
		})
		err = framing.WriteFramed(c.nc, frame)
		wg.Wait()
	}
	if err != nil {
		// A partial write desynchronises the stream; the reader then fails
		// every pending request, this one included.
		c.nc.Close()
	}
	switch {
	case cap(frame) >= bigFrame:
		c.big.Put(frame) // sent (and hashed): free for the next large request
	case cap(frame) <= maxPooledFrame:
		frame = frame[:0] // written or copied: free for the next request
		c.frames.Put(&frame)
	}
	return ch, nil
}
