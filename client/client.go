package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/wire"
)

// EnvLauncher is the environment variable that may carry the launcher value
// instead of the command line.
const EnvLauncher = "SAFE_LAUNCHER"

var (
	// ErrClosed is returned by calls on a closed client or after the
	// connection broke; the cause, if any, is wrapped with it.
	ErrClosed = errors.New("client: connection closed")
	// ErrNoLauncher is returned by LauncherValue when the app was not given one.
	ErrNoLauncher = errors.New("client: no --launcher argument or " + EnvLauncher + " variable")
	// ErrBadLauncherValue is returned for a value that is not tcp:<host>:<port>:<launcher_string>.
	ErrBadLauncherValue = errors.New("client: launcher value is not tcp:<host>:<port>:<launcher_string>")
	// ErrMalformedAnswer is wrapped (with ErrClosed) by the error that ends
	// a session whose launcher sent a frame that is not an answer.
	ErrMalformedAnswer = errors.New("client: malformed answer")
	// ErrLocked is the launcher's error -134: the launcher is locked (the
	// user's keys are not loaded). Dial to a locked launcher returns an error
	// that errors.Is matches with it, and so does the end of a session the
	// launcher ended by locking: its pending calls, Err, and the iteration
	// of its watches. It is wire.ErrLocked itself: either matches.
	ErrLocked = wire.ErrLocked
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

// WithMaxFrame sets the largest answer frame accepted (default 300 MiB, the
// launcher's default). A larger answer ends the session: calls fail with an
// error wrapping ErrClosed and framing.ErrTooLarge.
func WithMaxFrame(n uint64) Option { return func(o *options) { o.maxFrame = n } }

// Client is a session with the launcher. It is safe for concurrent use.
//
// A Client owns one goroutine, its receive loop, started by Dial and
// stopped by Close or by the end of the connection; Close waits for it.
// Callers write their own requests, one at a time, and wait for their
// answers, which the loop delivers by id.
type Client struct {
	nc   net.Conn
	ch   *handshake.Channel
	mode handshake.Mode

	// wlock is the write lock: a request is sealed (taking the next nonce
	// in counter mode) and written while holding it, so frames go out in
	// nonce order. A channel with room for one token, so that a caller
	// waiting for it can give up when its context ends.
	wlock chan struct{}

	mu         sync.Mutex
	pending    map[string][]*waiter // by id; FIFO for identical ids (fixed mode)
	err        error                // why the session ended; set once, by end
	cause      error                // why a sender broke the connection (fail), for end
	watchState                      // the session's watches (watch.go), under mu

	// Frames that answer no request: push events no watch takes, and
	// answers whose id nobody waits for (their caller gave up). Counted,
	// then dropped.
	events atomic.Uint64
	stray  atomic.Uint64

	fr *framing.Reader // the receive loop's only
	// lastWord is the error of an unassociated error frame when it is the
	// last frame read: the launcher's reason for closing (a lock). The
	// receive loop's only.
	lastWord error
	done     chan struct{} // closed when the session has ended
	loopDone chan struct{} // closed when the receive loop has returned

	// bg tracks the goroutines that send unwatch for watches the app gave
	// up (watch.go); Close waits for them. They start only while the
	// session lives (c.err nil, under mu).
	bg      sync.WaitGroup
	byeOnce sync.Once
}

// waiter is a request waiting for its answer.
type waiter struct {
	id string
	ch chan result // room for one answer
	// gone is set (under mu) when the caller gave up; its answer is then
	// dropped. In fixed mode its slot stays queued, so that a later
	// answer to an identical request still goes to that request's caller.
	gone bool
	// late, if not nil, is given the answer of a caller that gave up,
	// on the receive loop: it must not block.
	late func(result)
}

// result is what a caller waiting for an answer gets: the answer's raw data
// (pointing into the answer's own buffer) and its error, or the error that
// ended the session.
type result struct {
	data json.RawMessage
	err  error
}

// Dial connects to the launcher named by value ("tcp:<host>:<port>:<launcher_string>")
// and completes the handshake. ctx bounds the dial and the handshake; the
// session lives until Close or the connection's end.
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
	ch, err := handshakeOn(ctx, nc, t.LauncherString, o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c := &Client{
		nc: nc, ch: ch, mode: o.mode,
		wlock:   make(chan struct{}, 1),
		pending: map[string][]*waiter{},
		// Answers are read through a buffer: a small answer's header and
		// body come in one read (a large body bypasses the buffer).
		fr:       framing.NewReader(bufio.NewReaderSize(nc, 32<<10), o.maxFrame),
		done:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	go c.receive()
	return c, nil
}

// handshakeOn runs the authenticate-app exchange on nc within ctx and
// returns the session's channel. It reads exactly the answer's frame, so
// nothing of the session is left buffered.
func handshakeOn(ctx context.Context, nc net.Conn, launcherString string, o options) (*handshake.Channel, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo()) })
	defer stop()
	app, req, err := handshake.NewApp(o.rand, launcherString, wire.V1_0.String(), o.mode)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if err := framing.WriteFrame(nc, req); err != nil {
		return nil, fmt.Errorf("client: sending handshake: %w", err)
	}
	answer, err := framing.NewReader(nc, o.maxFrame).ReadFrame()
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
		ch.Close()
		return nil, fmt.Errorf("client: handshake: %w", ctx.Err())
	}
	_ = nc.SetDeadline(time.Time{})
	return ch, nil
}

// Mode reports the session's nonce mode ("counter" or "fixed").
func (c *Client) Mode() string { return c.mode.String() }

// byeTimeout bounds how long Close waits for the launcher's goodbye.
const byeTimeout = time.Second

// Close ends the session in order and waits until its receive loop has
// stopped. While the session lives, it first sends launcher/bye (v1.1) and
// waits for its answer and for the launcher to close the connection, at
// most one second in all (a launcher that does not know bye, -113, or that
// does not answer in time, is simply disconnected); then it closes the
// connection. Calls still waiting fail with ErrClosed, and the iterations
// of open watches end with it. It is idempotent.
func (c *Client) Close() error {
	c.byeOnce.Do(c.bye)
	err := c.nc.Close()
	<-c.loopDone
	c.bg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// bye says goodbye: launcher/bye, then the launcher closes the
// connection; both within byeTimeout. Any failure (an older launcher's
// -113, the session already ended, the time up) leaves Close to close.
func (c *Client) bye() {
	if c.sessionErr() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := c.Call(ctx, ep11("launcher", "bye"), nil, nil); err != nil {
		return
	}
	select {
	case <-c.done: // the launcher closed the connection after the answer
	case <-ctx.Done():
	}
}

// Done is closed when the session has ended (closed by either side).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the session ended, or nil while it lives. The error
// wraps ErrClosed, and the launcher's reason when it gave one before
// closing: errors.Is(err, ErrLocked) when the launcher locked.
func (c *Client) Err() error { return c.sessionErr() }

// receive is the session's receive loop, owned by the Client: it reads
// each frame, opens it, parses the answer envelope and delivers the answer
// to the caller waiting for its id, and each push event to its watch. It
// returns when the connection ends (Close closes it), after failing every
// waiting call and ending every watch.
func (c *Client) receive() {
	defer close(c.loopDone)
	for {
		body, err := c.fr.ReadFrame()
		if err != nil {
			c.end(err)
			return
		}
		c.lastWord = nil // a frame came after it: it was not the last
		if perr := plainError(body); perr != nil {
			// The launcher's unencrypted error (a frame over its limit)
			// just before it closes.
			c.end(perr)
			return
		}
		plain, err := c.ch.OpenInPlace(body)
		if err != nil {
			c.end(fmt.Errorf("client: an answer did not open: %w", err))
			return
		}
		a, err := parseAnswer(plain)
		if err != nil {
			c.end(err)
			return
		}
		switch a.kind {
		case kindEvent:
			c.event(a)
		case kindReply:
			c.deliver(a.id, result{data: a.data, err: a.err})
		default:
			// An unassociated answer: its error, if it is the last frame
			// before the launcher closes, is why the session ends.
			c.lastWord = a.err
			c.stray.Add(1)
		}
	}
}

// plainError returns the error of an unencrypted error answer, or nil if
// body is not one. A sealed box starts with a random tag, so a body that
// starts with '{', ends with '}' and parses as an error answer is the
// launcher's plain error frame.
func plainError(body []byte) error {
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' {
		return nil
	}
	r, err := wire.ParseResponse(body)
	if err != nil || r.Err() == nil {
		return nil
	}
	return r.Err()
}

// answerKind tells what an opened frame is.
type answerKind int

const (
	kindReply answerKind = iota // an answer to a request: it has an id
	kindEvent                   // a push event: an "event" member and no "id"
	kindStray                   // neither: an unassociated answer ("id":"")
)

// answer is an opened frame, parsed.
type answer struct {
	kind answerKind
	id   string
	data json.RawMessage // points into the frame
	err  error           // the answer's error (*wire.Error), nil for success
	// For kindEvent: the event, and whether its "event" member decoded as
	// one (an object of the known fields with their types).
	event   wire.Event
	eventOK bool
}

// parseAnswer parses an opened frame: an answer envelope (wire.ParseResponse)
// or a push event, whose event is decoded (wire.Event). The data is only
// delimited here: the caller's decoder validates it. A frame that is
// neither is an error wrapping ErrMalformedAnswer.
func parseAnswer(plain []byte) (answer, error) {
	r, err := wire.ParseResponse(plain)
	if err != nil {
		return answer{}, fmt.Errorf("%w: %w", ErrMalformedAnswer, err)
	}
	if r.ID != "" {
		return answer{kind: kindReply, id: r.ID, data: r.Data, err: r.Err()}, nil
	}
	if o := wire.NewObject("answer", plain); o.Err() == nil && o.Has("event") && !o.Has("id") {
		a := answer{kind: kindEvent, data: r.Data}
		sub := o.Object("event")
		if sub.Err() == nil {
			a.event.DecodeFrom(sub)
			a.eventOK = sub.Err() == nil
		}
		return a, nil
	}
	return answer{kind: kindStray, data: r.Data, err: r.Err()}, nil
}

// deliver hands r to the first caller waiting for id. An answer nobody
// waits for (its caller gave up) is counted and dropped.
func (c *Client) deliver(id string, r result) {
	c.mu.Lock()
	q := c.pending[id]
	if len(q) == 0 {
		c.mu.Unlock()
		c.stray.Add(1)
		return
	}
	w := q[0]
	if len(q) == 1 {
		delete(c.pending, id)
	} else {
		q[0] = nil
		c.pending[id] = q[1:]
	}
	gone := w.gone
	c.mu.Unlock()
	if gone {
		c.stray.Add(1)
		if w.late != nil {
			w.late(r)
		}
		return
	}
	w.ch <- r // room for one: never blocks
}

// end ends the session because of err: every waiting call fails with
// ErrClosed (wrapping err; or the launcher's last word, an unassociated
// error frame just before the end; or the cause a sender recorded), every
// watch ends with it, the keys are zeroed and Done is closed. Only the
// receive loop calls it, once.
func (c *Client) end(err error) {
	c.mu.Lock()
	switch {
	case c.lastWord != nil:
		// The launcher said why it closes (it locks): that is the
		// session's end, whatever a read or a write met after it.
		err = c.lastWord
	case c.cause != nil:
		err = c.cause
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = ErrClosed
	} else {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	c.err = err
	pending := c.pending
	c.pending = nil
	watches := c.takeWatches()
	c.mu.Unlock()
	c.nc.Close() // after err is set: a sender's write failing now is no cause
	for _, q := range pending {
		for _, w := range q {
			w.ch <- result{err: err}
		}
	}
	for _, w := range watches {
		w.finish(err, true)
	}
	// A sender may be sealing: its write fails now that the connection is
	// closed, and the keys go once it lets go of the write lock.
	c.wlock <- struct{}{}
	c.ch.Close()
	<-c.wlock
	close(c.done)
}

// fail breaks the connection because a request could not be written whole
// (the stream and, in counter mode, the nonce sequence are lost); err is
// recorded as the cause the receive loop reports.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.cause == nil && c.err == nil {
		c.cause = err
	}
	c.mu.Unlock()
	c.nc.Close()
}

// sessionErr returns why the session ended, or nil while it lives.
func (c *Client) sessionErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

type envelope struct {
	Endpoint string `json:"endpoint"`
	Data     any    `json:"data,omitempty"`
}

// sealRoom is the room a message is built behind: the frame header, then the
// secretbox tag, so that it is sealed and sent where it was written.
const sealRoom = framing.HeaderSize + handshake.Overhead

// encodeRequest builds the frame of a request {"endpoint":E,"data":D}
// (json.Marshal's bytes) behind sealRoom bytes.
func encodeRequest(endpoint string, data any) ([]byte, error) {
	if r, ok := data.(wire.ModifyFileRequest); ok && r.NewValues.Content != nil {
		return encodeModifyFile(endpoint, r)
	}
	buf := bytes.NewBuffer(make([]byte, sealRoom, sealRoom+256))
	if err := json.NewEncoder(buf).Encode(envelope{Endpoint: endpoint, Data: data}); err != nil {
		return nil, fmt.Errorf("client: encoding %s: %w", endpoint, err)
	}
	frame := buf.Bytes()
	return frame[:len(frame)-1], nil // without Encode's newline
}

// encodeModifyFile is encodeRequest for a modify-file with content: the
// same bytes as json.Marshal (tests compare them), but the content's
// base64 is written straight into the frame, made once at its full size.
// Through encoding/json a 64 MiB content took its base64 string, the
// encoder's copy of it (checked byte by byte) and a growing buffer: three
// copies of 85 MiB, most of an upload's time on the app's side.
func encodeModifyFile(endpoint string, r wire.ModifyFileRequest) ([]byte, error) {
	nv, c := r.NewValues, r.NewValues.Content
	size := sealRoom + 128 + len(endpoint) + 6*len(r.FilePath) + base64.StdEncoding.EncodedLen(len(c.Bytes))
	if nv.Name != nil {
		size += 16 + 6*len(*nv.Name)
	}
	if nv.UserMetadata != nil {
		size += 24 + base64.StdEncoding.EncodedLen(len(*nv.UserMetadata))
	}
	b := make([]byte, sealRoom, size)
	str := func(s string) error {
		q, err := json.Marshal(s)
		b = append(b, q...)
		return err
	}
	b = append(b, `{"endpoint":`...)
	if err := str(endpoint); err != nil {
		return nil, err
	}
	b = append(b, `,"data":{"is_path_shared":`...)
	b = strconv.AppendBool(b, r.IsPathShared)
	b = append(b, `,"file_path":`...)
	if err := str(r.FilePath); err != nil {
		return nil, err
	}
	b = append(b, `,"new_values":{`...)
	if nv.Name != nil {
		b = append(b, `"name":`...)
		if err := str(*nv.Name); err != nil {
			return nil, err
		}
		b = append(b, ',')
	}
	b = append(b, `"content":{`...)
	if c.Offset != nil {
		b = append(b, `"offset":`...)
		b = strconv.AppendInt(b, *c.Offset, 10)
		b = append(b, ',')
	}
	b = append(b, `"bytes":`...)
	b = wire.AppendBase64String(b, c.Bytes)
	b = append(b, '}')
	if nv.UserMetadata != nil {
		b = append(b, `,"user_metadata":`...)
		b = wire.AppendBase64String(b, *nv.UserMetadata)
	}
	return append(b, "}}}"...), nil
}

// Call sends a request to endpoint with data (marshalled as JSON; nil for none)
// and decodes the answer's data into out (if out is non-nil). It returns a
// *wire.Error for an error answer, ctx.Err() if ctx ends first (the answer,
// when it comes, is dropped), and an error wrapping ErrClosed once the
// session has ended. Calls may run concurrently.
//
// Answers into types that implement wire.Decoder are decoded strictly, in
// the answer's buffer (wire.DecodeOwned); others with encoding/json.
func (c *Client) Call(ctx context.Context, endpoint string, data, out any) error {
	frame, err := encodeRequest(endpoint, data)
	if err != nil {
		return err
	}
	res := c.roundTrip(ctx, frame)
	if res.err != nil {
		return res.err
	}
	if out == nil {
		return nil
	}
	return decodeData(endpoint, res.data, out)
}

// decodeData decodes an answer's data into out.
func decodeData(endpoint string, raw json.RawMessage, out any) error {
	if len(raw) == 0 {
		return fmt.Errorf("client: %s answered without data", endpoint)
	}
	var err error
	if d, ok := out.(wire.Decoder); ok {
		// raw points into this answer's own buffer, which nothing else uses.
		err = wire.DecodeOwned(raw, d)
	} else {
		err = json.Unmarshal(raw, out)
	}
	if err != nil {
		return fmt.Errorf("client: decoding %s answer: %w", endpoint, err)
	}
	return nil
}

// CallRaw sends one request message (the plain JSON envelope) and returns the
// answer's raw data (nil for success without data).
func (c *Client) CallRaw(ctx context.Context, msg []byte) (json.RawMessage, error) {
	r := c.roundTrip(ctx, append(make([]byte, sealRoom, sealRoom+len(msg)), msg...))
	return r.data, r.err
}

// roundTrip sends the request in frame[sealRoom:] and waits for its answer.
func (c *Client) roundTrip(ctx context.Context, frame []byte) result {
	w, err := c.sendHook(ctx, frame, nil)
	if err != nil {
		return result{err: err}
	}
	return c.wait(ctx, w)
}

// wait returns the answer to w, or ctx.Err() if ctx ends first (the
// answer is then dropped when it comes).
func (c *Client) wait(ctx context.Context, w *waiter) result {
	select {
	case r := <-w.ch:
		return r
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case r := <-w.ch: // delivered meanwhile: the answer wins
		return r
	default:
	}
	w.gone = true
	if c.mode == handshake.Counter && w.late == nil {
		// Ids never repeat in counter mode: the slot can go at once
		// (unless the answer has a late hook to go to).
		q := c.pending[w.id]
		if i := slices.Index(q, w); i >= 0 {
			q = slices.Delete(q, i, i+1)
			if len(q) == 0 {
				delete(c.pending, w.id)
			} else {
				c.pending[w.id] = q
			}
		}
	}
	return result{err: ctx.Err()}
}

// send seals the message in frame[sealRoom:] in place, registers its id
// (base64 of the SHA-512 of the sealed body, as the launcher computes it)
// and writes the frame, all under the write lock, so requests go out in the
// order of their nonces. The answer, or the error that ended the session,
// comes on the returned channel. It returns ctx.Err() if ctx ends while it
// waits for the write lock; if ctx ends while the frame is being written,
// the write is stopped and the session ends (a frame cannot be taken back
// half sent).
func (c *Client) send(ctx context.Context, frame []byte) (*waiter, error) {
	return c.sendHook(ctx, frame, nil)
}

// sendHook is send with a late hook for the waiter (see waiter.late).
func (c *Client) sendHook(ctx context.Context, frame []byte, late func(result)) (*waiter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // not sent: select below could take the lock anyway
	}
	select {
	case c.wlock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.sessionErr()
	}
	defer func() { <-c.wlock }()
	if err := c.sessionErr(); err != nil {
		return nil, err // the keys may be gone
	}
	box := frame[framing.HeaderSize:]
	c.ch.SealInPlace(box)
	w := &waiter{id: wire.ID(box), ch: make(chan result, 1), late: late}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.pending[w.id] = append(c.pending[w.id], w)
	c.mu.Unlock()
	if err := c.write(ctx, frame); err != nil {
		// The receive loop fails every waiting call, this one included.
		c.fail(err)
	}
	return w, nil
}

// write writes frame, stopping the write with a deadline if ctx ends
// meanwhile. Only the holder of the write lock calls it.
func (c *Client) write(ctx context.Context, frame []byte) error {
	if ctx.Done() == nil {
		return framing.WriteFramed(c.nc, frame)
	}
	var (
		mu                    sync.Mutex
		finished, interrupted bool
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			interrupted = true
			_ = c.nc.SetWriteDeadline(aLongTimeAgo())
		}
	})
	err := framing.WriteFramed(c.nc, frame)
	if stop() {
		return err
	}
	mu.Lock()
	finished = true
	mu.Unlock()
	if interrupted {
		if err == nil {
			_ = c.nc.SetWriteDeadline(time.Time{}) // written whole all the same
		} else {
			err = fmt.Errorf("client: writing a request: %w", ctx.Err())
		}
	}
	return err
}

// aLongTimeAgo returns a deadline in the past: it stops a blocked read or write.
func aLongTimeAgo() time.Time { return time.Unix(1, 0) }
