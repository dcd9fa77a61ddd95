package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/safe-launcher/launcher/wire"
)

// Streaming: a file moved in chunks, so that an app can move a file far
// bigger than one frame (or than it wants to hold in memory). A FileReader
// reads with get-file at successive offsets, a FileWriter writes with
// modify-file at successive content offsets; each keeps up to Window chunk
// requests in flight on the session, so that its memory is bounded by about
// ChunkSize x Window (plus the base64 the wire adds).
//
// The requests of one stream are sent in order on the session, and this
// project's launcher executes a session's requests in the order it receives
// them: a FileWriter relies on that to append chunk after chunk without
// waiting for each answer.

// Stream defaults: a chunk of 2 MiB of file (about 2.7 MB on the wire with
// its base64), and 4 chunk requests in flight, so a stream holds about
// 8 MiB of file on each side at most.
const (
	DefaultChunkSize = 2 << 20
	DefaultWindow    = 4
)

// ErrFileChanged is returned by a FileReader when the file's size or
// modification time changed between two of its chunks.
var ErrFileChanged = errors.New("client: file changed while being read")

// StreamOptions configure a FileReader or FileWriter. Zero values take the defaults.
type StreamOptions struct {
	// Shared selects SAFEDrive instead of the app's private root.
	Shared bool
	// ChunkSize is the number of file bytes per request (default 2 MiB).
	ChunkSize int
	// Window is the number of chunk requests in flight (default 4).
	Window int
	// Create makes a FileWriter create the file first; if the name is taken,
	// Close reports the error and nothing is written.
	Create bool
}

func (o StreamOptions) withDefaults() StreamOptions {
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	return o
}

// FileReader is an io.ReadCloser over a file's content. It is not safe for
// concurrent use.
type FileReader struct {
	c    *Client
	ctx  context.Context
	path string
	opt  StreamOptions

	size     int64 // -1 until the first chunk has answered
	modified wire.Times
	next     int64     // offset of the next chunk to request
	inflight []*waiter // in request order
	cur      []byte    // unread bytes of the current chunk
	err      error     // sticky
}

// NewFileReader returns a reader of the file at path. ctx bounds every
// request of the stream.
func (c *Client) NewFileReader(ctx context.Context, path string, opt StreamOptions) *FileReader {
	return &FileReader{c: c, ctx: ctx, path: path, opt: opt.withDefaults(), size: -1}
}

// Size returns the file's size, or -1 before the first Read.
func (r *FileReader) Size() int64 { return r.size }

// request sends the get-file of the chunk at r.next.
func (r *FileReader) request() error {
	req := wire.GetFileRequest{IsPathShared: r.opt.Shared, FilePath: r.path, Offset: r.next, Length: int64(r.opt.ChunkSize), IncludeMetadata: true}
	frame, err := encodeRequest(ep10("nfs", "get-file"), req)
	if err != nil {
		return err
	}
	w, err := r.c.send(r.ctx, frame)
	if err != nil {
		return err
	}
	r.inflight = append(r.inflight, w)
	r.next += int64(r.opt.ChunkSize)
	return nil
}

// Read implements io.Reader.
func (r *FileReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.err = r.fill(); r.err != nil && len(r.cur) == 0 {
			return 0, r.err
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// fill tops up the window and takes the next chunk's answer.
func (r *FileReader) fill() error {
	if r.size < 0 && len(r.inflight) == 0 {
		if err := r.request(); err != nil { // the first chunk tells the size
			return err
		}
	}
	for r.size >= 0 && len(r.inflight) < r.opt.Window && r.next < r.size {
		if err := r.request(); err != nil {
			return err
		}
	}
	if len(r.inflight) == 0 {
		return io.EOF
	}
	res := r.c.wait(r.ctx, r.inflight[0])
	if err := r.ctx.Err(); err != nil && res.err == err {
		return err
	}
	r.inflight = r.inflight[1:]
	if res.err != nil {
		return res.err
	}
	var gf wire.GetFileResponse
	if len(res.data) == 0 {
		return errors.New("client: get-file answered without data")
	}
	if err := wire.DecodeOwned(res.data, &gf); err != nil {
		return fmt.Errorf("client: decoding get-file answer: %w", err)
	}
	if gf.Metadata == nil {
		return errors.New("client: get-file answered without metadata")
	}
	if r.size < 0 {
		r.size, r.modified = gf.Metadata.Size, gf.Metadata.Times
	} else if gf.Metadata.Size != r.size || gf.Metadata.Times != r.modified {
		return ErrFileChanged
	}
	r.cur = gf.Content
	if len(r.cur) == 0 && len(r.inflight) == 0 && r.next >= r.size {
		return io.EOF
	}
	return nil
}

// Close stops the stream. Answers still in flight are dropped when they
// arrive. It always returns nil.
func (r *FileReader) Close() error {
	r.inflight, r.cur = nil, nil
	if r.err == nil {
		r.err = errors.New("client: read from a closed FileReader")
	}
	return nil
}

// FileWriter is an io.WriteCloser that replaces a file's content: the first
// chunk replaces the content, the next ones are written at their offsets.
// Close must be called to write the last chunk and learn the outcome. It is
// not safe for concurrent use.
type FileWriter struct {
	c    *Client
	ctx  context.Context
	path string
	opt  StreamOptions

	buf      []byte // the chunk being filled
	off      int64  // file offset of buf[0]
	started  bool   // a chunk (or the create) has been sent
	inflight []*waiter
	err      error // sticky
	closed   bool
}

// NewFileWriter returns a writer of the file at path (which must exist,
// unless opt.Create). ctx bounds every request of the stream.
func (c *Client) NewFileWriter(ctx context.Context, path string, opt StreamOptions) *FileWriter {
	return &FileWriter{c: c, ctx: ctx, path: path, opt: opt.withDefaults()}
}

// Write implements io.Writer. Errors of earlier chunks may be reported by a
// later Write or by Close.
func (w *FileWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("client: write to a closed FileWriter")
	}
	n := 0
	for len(p) > 0 {
		if w.err != nil {
			return n, w.err
		}
		// The chunk buffer grows with what is written, up to ChunkSize: a
		// small file does not cost a whole chunk.
		k := min(len(p), w.opt.ChunkSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == w.opt.ChunkSize {
			w.err = w.flush()
		}
	}
	return n, w.err
}

// flush sends the buffered chunk (even if empty), keeping at most Window
// requests in flight.
func (w *FileWriter) flush() error {
	if !w.started && w.opt.Create {
		// The create is waited for: if the name is taken, nothing is written.
		if err := w.sendReq("create-file", wire.CreateFileRequest{IsPathShared: w.opt.Shared, FilePath: w.path, UserMetadata: wire.Bytes{}}); err != nil {
			return err
		}
		if err := w.wait(); err != nil {
			return err
		}
	}
	content := &wire.FileContent{Bytes: w.buf}
	if w.started {
		off := w.off
		content.Offset = &off
	}
	req := wire.ModifyFileRequest{IsPathShared: w.opt.Shared, FilePath: w.path, NewValues: wire.FileNewValues{Content: content}}
	if err := w.sendReq("modify-file", req); err != nil {
		return err
	}
	w.started = true
	w.off += int64(len(w.buf))
	w.buf = w.buf[:0] // encoded into the frame already: reusable
	return nil
}

// sendReq sends one request after making room in the window.
func (w *FileWriter) sendReq(request string, data any) error {
	for len(w.inflight) >= w.opt.Window {
		if err := w.wait(); err != nil {
			return err
		}
	}
	frame, err := encodeRequest(ep10("nfs", request), data)
	if err != nil {
		return err
	}
	ch, err := w.c.send(w.ctx, frame)
	if err != nil {
		return err
	}
	w.inflight = append(w.inflight, ch)
	return nil
}

// wait takes the oldest answer in flight.
func (w *FileWriter) wait() error {
	res := w.c.wait(w.ctx, w.inflight[0])
	if err := w.ctx.Err(); err != nil && res.err == err {
		return err
	}
	w.inflight = w.inflight[1:]
	return res.err
}

// abort stops the stream without writing what is buffered; answers still
// in flight are dropped when they arrive.
func (w *FileWriter) abort() {
	w.closed = true
	if w.err == nil {
		w.err = errors.New("client: FileWriter aborted")
	}
	w.inflight, w.buf = nil, nil
}

// Close writes the last chunk (the whole, possibly empty, content if nothing
// was flushed yet), waits for every answer and returns the first error.
func (w *FileWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err == nil && (len(w.buf) > 0 || !w.started) {
		w.err = w.flush()
	}
	for w.err == nil && len(w.inflight) > 0 {
		w.err = w.wait()
	}
	w.inflight, w.buf = nil, nil
	return w.err
}

var (
	_ io.ReadCloser  = (*FileReader)(nil)
	_ io.WriteCloser = (*FileWriter)(nil)
)
