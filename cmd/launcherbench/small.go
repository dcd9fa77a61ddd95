package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/internal/sockio"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// Small requests: get-dir of a 10-entry directory, and create-file followed
// by delete-file, against the daemon, the raw echo floor and the net/http peer.

const (
	opGetDir       = "get-dir"
	opCreateDelete = "create+delete"
)

// Paths used by the small requests.
const (
	getDirPath = "gd"
	cdDir      = "cd"
)

// frameSizes are the sizes of the daemon's encrypted frames for each request,
// so that the echo floor moves the same bytes.
type frameSizes struct {
	getDirReq, getDirAns        int
	createReq, deleteReq, okAns int
}

// prepareStore lays out the store in dir: a 10-entry directory to list and an
// empty directory for create+delete. It returns the frame sizes the daemon
// will use for these requests.
func prepareStore(dir string) (frameSizes, error) {
	var fs frameSizes
	store, err := openStore(dir, vfs.SyncBackground)
	if err != nil {
		return fs, err
	}
	defer store.Close()
	ctx := context.Background()
	root := vfs.AppRoot(benchAppRoot)
	mk := func(p ...string) error {
		_, err := store.CreateDir(ctx, root, vfs.Path(p), true, false, nil)
		return err
	}
	if err := mk(getDirPath); err != nil {
		return fs, err
	}
	if err := mk(cdDir); err != nil {
		return fs, err
	}
	for i := range 5 {
		if err := mk(getDirPath, fmt.Sprintf("sub%d", i)); err != nil {
			return fs, err
		}
		if _, err := store.CreateFile(ctx, root, vfs.Path{getDirPath, fmt.Sprintf("file%d.txt", i)}, []byte("meta")); err != nil {
			return fs, err
		}
	}
	l, err := store.GetDir(ctx, root, vfs.Path{getDirPath})
	if err != nil {
		return fs, err
	}
	reqSize := func(request string, data any) int {
		b, _ := json.Marshal(struct {
			Endpoint string `json:"endpoint"`
			Data     any    `json:"data"`
		}{"safe-api/v1.0/nfs/" + request, data})
		return len(b) + handshake.Overhead
	}
	ans, _ := json.Marshal(nfs.Listing(l))
	id := string(bytes.Repeat([]byte{'A'}, wire.IDSize))
	fs.getDirReq = reqSize("get-dir", wire.GetDirRequest{DirPath: getDirPath})
	fs.getDirAns = len(`{"id":"`+id+`","data":}`) + len(ans) + handshake.Overhead
	fs.createReq = reqSize("create-file", wire.CreateFileRequest{FilePath: cdDir + "/w000-000", UserMetadata: wire.Bytes{}})
	fs.deleteReq = reqSize("delete-file", wire.FileRequest{FilePath: cdDir + "/w000-000"})
	fs.okAns = len(wire.AppendError(nil, id, wire.CodeOK, "")) + handshake.Overhead
	return fs, nil
}

// smallConn is one connection (or, for net/http, one client) able to run the
// small operations; it is safe for concurrent use (pipelining).
type smallConn interface {
	getDir(ctx context.Context) error
	createDelete(ctx context.Context, name string) error
	close()
}

// daemonConn is an SDK client.
type daemonConn struct{ c *client.Client }

func (d daemonConn) getDir(ctx context.Context) error {
	l, err := d.c.GetDir(ctx, wire.GetDirRequest{DirPath: getDirPath})
	if err == nil && len(l.SubDirectories)+len(l.Files) != 10 {
		err = fmt.Errorf("get-dir listed %d entries", len(l.SubDirectories)+len(l.Files))
	}
	return err
}

func (d daemonConn) createDelete(ctx context.Context, name string) error {
	p := cdDir + "/" + name
	if err := d.c.CreateFile(ctx, wire.CreateFileRequest{FilePath: p, UserMetadata: wire.Bytes{}}); err != nil {
		return err
	}
	return d.c.DeleteFile(ctx, false, p)
}

func (d daemonConn) close() { d.c.Close() }

// echoConn is a framed TCP connection to the echo floor; answers come back in
// order, so a FIFO of waiters matches them. A connection for one request at
// a time (direct) has no reader goroutine: the caller reads its answer, as
// the SDK's caller does when nobody else reads, so that the floor pays no
// hand-off the SDK does not pay. It reads through a 32 KiB buffered
// reader, as the SDK does, and (raw) through internal/sockio as the SDK does,
// or through the net package's reads and writes.
type echoConn struct {
	nc    net.Conn
	sizes frameSizes
	wmu   sync.Mutex
	queue chan chan error
	done  chan struct{}
	fr    *framing.Reader // direct connections only
	buf   []byte
}

func dialEcho(addr string, sizes frameSizes, direct, raw bool) (*echoConn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if raw {
		nc = sockio.Wrap(nc)
	}
	e := &echoConn{nc: nc, sizes: sizes, queue: make(chan chan error, 4096), done: make(chan struct{})}
	if direct {
		e.fr = framing.NewReader(bufio.NewReaderSize(nc, 32<<10), 1<<20)
		close(e.done)
		return e, nil
	}
	go e.readLoop()
	return e, nil
}

func (e *echoConn) readLoop() {
	defer close(e.done)
	fr := framing.NewReader(bufio.NewReaderSize(e.nc, 32<<10), 1<<20)
	var buf []byte
	for {
		size, err := fr.ReadHeader()
		if err == nil {
			buf, err = fr.ReadBody(buf, size)
		}
		if err != nil {
			// Fail every waiter still queued.
			for {
				select {
				case w := <-e.queue:
					w <- err
				default:
					return
				}
			}
		}
		// The waiter is queued right after its frame is written.
		w := <-e.queue
		w <- nil
	}
}

// roundTrip sends a frame of reqSize bytes asking for ansSize bytes back.
func (e *echoConn) roundTrip(reqSize, ansSize int) error {
	buf := make([]byte, framing.HeaderSize+reqSize)
	binary.LittleEndian.PutUint64(buf[framing.HeaderSize:], uint64(ansSize))
	if e.fr != nil {
		if err := framing.WriteFramed(e.nc, buf); err != nil {
			return err
		}
		size, err := e.fr.ReadHeader()
		if err == nil {
			e.buf, err = e.fr.ReadBody(e.buf, size)
		}
		return err
	}
	w := make(chan error, 1)
	e.wmu.Lock()
	err := framing.WriteFramed(e.nc, buf)
	if err == nil {
		e.queue <- w
	}
	e.wmu.Unlock()
	if err != nil {
		return err
	}
	return <-w
}

func (e *echoConn) getDir(context.Context) error {
	return e.roundTrip(e.sizes.getDirReq, e.sizes.getDirAns)
}

func (e *echoConn) createDelete(context.Context, string) error {
	if err := e.roundTrip(e.sizes.createReq, e.sizes.okAns); err != nil {
		return err
	}
	return e.roundTrip(e.sizes.deleteReq, e.sizes.okAns)
}

func (e *echoConn) close() { e.nc.Close(); <-e.done }

// httpConn is a net/http client with its own transport limited to conns
// connections (HTTP/1.1 does not pipeline: requests wait for a free one).
type httpConn struct {
	base string
	hc   *http.Client
	tr   *http.Transport
}

func newHTTPConn(addr string, conns int) *httpConn {
	tr := &http.Transport{MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns, MaxIdleConns: conns, DisableCompression: true}
	return &httpConn{base: "http://" + addr, hc: &http.Client{Transport: tr}, tr: tr}
}

func (h *httpConn) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (h *httpConn) getDir(ctx context.Context) error {
	var l wire.GetDirResponse
	if err := h.post(ctx, "/nfs/get-dir", wire.GetDirRequest{DirPath: getDirPath}, &l); err != nil {
		return err
	}
	if len(l.SubDirectories)+len(l.Files) != 10 {
		return fmt.Errorf("get-dir listed %d entries", len(l.SubDirectories)+len(l.Files))
	}
	return nil
}

func (h *httpConn) createDelete(ctx context.Context, name string) error {
	p := cdDir + "/" + name
	if err := h.post(ctx, "/nfs/create-file", wire.CreateFileRequest{FilePath: p, UserMetadata: wire.Bytes{}}, nil); err != nil {
		return err
	}
	return h.post(ctx, "/nfs/delete-file", wire.FileRequest{FilePath: p}, nil)
}

func (h *httpConn) close() { h.tr.CloseIdleConnections() }

// servers are the children serving the small requests: the daemon, the
// echo floor (both ways, see kindEchoNet), the net/http peer, and the daemon
// in commit mode.
type servers struct {
	daemon, echo, echoNet, http, commit *child
	sizes                               frameSizes
}

// of returns the child serving kind.
func (s *servers) of(kind string) *child {
	switch kind {
	case kindDaemon:
		return s.daemon
	case kindDaemonCommit:
		return s.commit
	case kindEcho:
		return s.echo
	case kindEchoNet:
		return s.echoNet
	}
	return s.http
}

// dial opens n connections to the server of kind; direct ones (echo only)
// carry one request at a time.
func (s *servers) dial(kind string, n int, direct bool) ([]smallConn, error) {
	out := make([]smallConn, 0, n)
	fail := func(err error) ([]smallConn, error) {
		for _, c := range out {
			c.close()
		}
		return nil, err
	}
	switch kind {
	case kindDaemon, kindDaemonCommit:
		vals, err := s.of(kind).mint(n)
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := client.Dial(ctx, v)
			cancel()
			if err != nil {
				return fail(err)
			}
			out = append(out, daemonConn{c})
		}
	case kindEcho, kindEchoNet:
		for range n {
			e, err := dialEcho(s.of(kind).addr, s.sizes, direct, kind == kindEcho)
			if err != nil {
				return fail(err)
			}
			out = append(out, e)
		}
	case kindHTTP:
		out = append(out, newHTTPConn(s.http.addr, n))
	}
	return out, nil
}

// latencies runs n sequential operations on one connection to each server
// kind, in rounds that go from kind to kind, and returns each kind's p50 and
// p99 round trip, and what the operations cost the server and this client
// in CPU and context switches (where /proc tells).
func (s *servers) latencies(kinds []string, op string, n, rounds int) (map[string]latencyPair, error) {
	conns := map[string]smallConn{}
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	ctx := context.Background()
	run := func(c smallConn) error {
		if op == opGetDir {
			return c.getDir(ctx)
		}
		return c.createDelete(ctx, "lat")
	}
	samples := map[string][]time.Duration{}
	for _, kind := range kinds {
		cs, err := s.dial(kind, 1, true)
		if err != nil {
			return nil, err
		}
		conns[kind] = cs[0]
		for range min(n/10+1, 50) { // warm up
			if err := run(cs[0]); err != nil {
				return nil, fmt.Errorf("%s: %w", kind, err)
			}
		}
	}
	per := max(n/rounds, 1)
	server, client := map[string]usage{}, map[string]usage{}
	counted := true
	for range rounds {
		for _, kind := range kinds {
			c := conns[kind]
			s0, ok1 := readUsage(s.of(kind).pid())
			c0, ok2 := readUsage(0)
			for range per {
				t := time.Now()
				if err := run(c); err != nil {
					return nil, fmt.Errorf("%s: %w", kind, err)
				}
				samples[kind] = append(samples[kind], time.Since(t))
			}
			s1, ok3 := readUsage(s.of(kind).pid())
			c1, ok4 := readUsage(0)
			counted = counted && ok1 && ok2 && ok3 && ok4
			server[kind] = server[kind].plus(s1.since(s0))
			client[kind] = client[kind].plus(c1.since(c0))
		}
	}
	out := map[string]latencyPair{}
	for kind, d := range samples {
		slices.Sort(d)
		lp := latencyPair{P50: d[len(d)/2], P99: d[len(d)*99/100]}
		if counted {
			lp.Cost = perOp(server[kind], client[kind], len(d))
		}
		out[kind] = lp
	}
	return out, nil
}

// throughput runs depth concurrent operations on each of conns connections
// for dur and returns requests per second (create+delete counts two).
func (s *servers) throughput(kind, op string, conns, depth int, dur time.Duration) (float64, error) {
	cs, err := s.dial(kind, conns, false)
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, c := range cs {
			c.close()
		}
	}()
	workers := conns * depth
	perReq := int64(1)
	if op == opCreateDelete {
		perReq = 2
	}
	var count atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx := context.Background()
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for w := range workers {
		c := cs[w%len(cs)]
		name := fmt.Sprintf("w%03d-%03d", w%conns, w/conns)
		wg.Go(func() {
			for time.Now().Before(deadline) {
				var err error
				if op == opGetDir {
					err = c.getDir(ctx)
				} else {
					err = c.createDelete(ctx, name)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				count.Add(perReq)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(count.Load()) / elapsed.Seconds(), nil
}
