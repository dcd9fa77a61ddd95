package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/safe-launcher/launcher/wire"
)

// errNoMetadata is returned when a get-file answer asked for metadata has none.
var errNoMetadata = errors.New("client: get-file answered without metadata")

// ReadFile returns the whole content of the file at path (in SAFEDrive if
// shared, else in the app's private root). A file that fits in one chunk
// (DefaultChunkSize) takes one request; a larger one is read in chunks,
// DefaultWindow of them in flight (as NewFileReader), so a file of any
// size can be read. If the file changes while it is being read, ReadFile
// returns ErrFileChanged rather than a mix of two versions.
func (c *Client) ReadFile(ctx context.Context, path string, shared bool) ([]byte, error) {
	r := c.NewFileReader(ctx, path, StreamOptions{Shared: shared})
	defer r.Close()
	err := r.fill()
	if err == io.EOF {
		return []byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	if int64(len(r.cur)) == r.size {
		return r.cur, nil // one chunk: its buffer is ours alone
	}
	out := make([]byte, 0, r.size)
	for {
		out = append(out, r.cur...)
		r.cur = nil
		switch err := r.fill(); {
		case err == io.EOF:
			return out, nil
		case err != nil:
			return nil, err
		}
	}
}

// WriteFile creates the file at path (in SAFEDrive if shared, else in the
// app's private root) or, if it exists, replaces its content, with
// content. Its parent directory must exist. See WriteFileFrom.
func (c *Client) WriteFile(ctx context.Context, path string, shared bool, content []byte) error {
	return c.WriteFileFrom(ctx, path, shared, bytes.NewReader(content))
}

// WriteFileFrom creates the file at path or, if it exists, replaces its
// content, with everything read from content until io.EOF. It sends a
// create-file (an existing file is kept, as wire.ErrAlreadyExists is not an
// error here), then the content as a FileWriter does: one modify-file for
// content up to DefaultChunkSize, else chunk after chunk, DefaultWindow of
// them in flight, so memory stays bounded whatever the size.
//
// A large file is replaced chunk by chunk: a reader may see it part
// written, and if a request fails (or content returns an error) the file
// is left with the chunks written so far. The error of the first failed
// request is returned, the create-file's before the content's.
func (c *Client) WriteFileFrom(ctx context.Context, path string, shared bool, content io.Reader) error {
	frame, err := encodeRequest(ep10("nfs", "create-file"), wire.CreateFileRequest{IsPathShared: shared, FilePath: path, UserMetadata: wire.Bytes{}})
	if err != nil {
		return err
	}
	// The create is not waited for before the content goes: the launcher
	// executes a session's requests in order.
	created, err := c.send(ctx, frame)
	if err != nil {
		return err
	}
	w := c.NewFileWriter(ctx, path, StreamOptions{Shared: shared})
	_, rerr := io.Copy(w, content)
	if rerr != nil && !errors.Is(rerr, w.err) {
		w.abort()
	} else {
		rerr = nil
	}
	werr := w.Close()
	if res := c.wait(ctx, created); res.err != nil && !errors.Is(res.err, wire.ErrAlreadyExists) {
		return res.err
	}
	if rerr != nil {
		return fmt.Errorf("client: reading the content of %s: %w", path, rerr)
	}
	return werr
}
