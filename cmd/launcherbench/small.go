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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/internal/benchfloor"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// Small requests: get-dir of a 10-entry directory, and create-file followed
// by delete-file, through the SDK and through the minimal client against the
// daemon (and a baseline build's), against the echo floor, the in-process
// compute floor and the net/http peer.

const (
	opGetDir       = "get-dir"
	opCreateDelete = "create+delete"
)

// Paths used by the small requests.
const (
	getDirPath    = "gd"
	getDirEntries = 10
	cdDir         = "cd"
)

// Load kinds: who sends the small requests to whom. Each figure of the
// small section is keyed by one.
const (
	// kindDaemon (the SDK to this build's daemon), kindEcho, kindHTTP
	// and kindDaemonCommit are also server kinds (child.go).

	// kindMini is the minimal client (mini.go) to this build's daemon.
	kindMini = "mini"
	// kindCompute is the in-process compute floor of the requests
	// (benchfloor.Small): no network, no store.
	kindCompute = "compute"
	// kindBefore is the SDK to the baseline build's daemon (-baseline).
	kindBefore = "before"
	// kindMiniBefore is the minimal client to the baseline build's daemon.
	kindMiniBefore = "mini-before"
)

// prepareStore lays out the store in dir (see layoutStore).
func prepareStore(dir string) error {
	store, err := openStore(dir, vfs.SyncBackground, false)
	if err != nil {
		return err
	}
	defer store.Close()
	return layoutStore(context.Background(), store)
}

// prepareFor lays out the store in dir for the daemon of exe ("" for this
// build). This build's is laid out through its vfs API (prepareStore); a
// baseline build's through the protocol, by a daemon child of that build,
// so that the store is in that build's own format, whatever this build's
// format is: the layout is the same (layout's), byte for byte in the
// answers.
func prepareFor(exe, dir string) error {
	if exe == "" {
		return prepareStore(dir)
	}
	ch, err := startChild(exe, kindDaemon, dir, 16)
	if err != nil {
		return err
	}
	defer ch.stop()
	c, err := dialOne(ch)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	return layout(func(p ...string) error {
		return c.CreateDir(ctx, wire.CreateDirRequest{DirPath: strings.Join(p, "/"), IsPrivate: true, UserMetadata: wire.Bytes{}})
	}, func(meta []byte, p ...string) error {
		return c.CreateFile(ctx, wire.CreateFileRequest{FilePath: strings.Join(p, "/"), UserMetadata: meta})
	})
}

// layoutStore lays out, in the bench app's root of store, what layout says.
func layoutStore(ctx context.Context, store *vfs.Store) error {
	root := vfs.AppRoot(benchAppRoot)
	return layout(func(p ...string) error {
		_, err := store.CreateDir(ctx, root, vfs.Path(p), true, false, nil)
		return err
	}, func(meta []byte, p ...string) error {
		_, err := store.CreateFile(ctx, root, vfs.Path(p), meta)
		return err
	})
}

// layout makes, with mkdir (a private directory) and mkfile, a 10-entry
// directory to list and an empty directory for create+delete.
func layout(mkdir func(p ...string) error, mkfile func(meta []byte, p ...string) error) error {
	if err := mkdir(getDirPath); err != nil {
		return err
	}
	if err := mkdir(cdDir); err != nil {
		return err
	}
	for i := range getDirEntries / 2 {
		if err := mkdir(getDirPath, fmt.Sprintf("sub%d", i)); err != nil {
			return err
		}
		if err := mkfile([]byte("meta"), getDirPath, fmt.Sprintf("file%d.txt", i)); err != nil {
			return err
		}
	}
	return nil
}

// smallConn is one connection (or, for net/http, one client) able to run the
// small operations. The SDK's, the echo's (not direct) and net/http's are
// safe for concurrent use (pipelining); the minimal client's, the compute
// floor's and a direct echo connection carry one request at a time.
type smallConn interface {
	getDir(ctx context.Context) error
	createDelete(ctx context.Context, name string) error
	close()
}

// daemonConn is an SDK client.
type daemonConn struct{ c *client.Client }

func (d daemonConn) getDir(ctx context.Context) error {
	l, err := d.c.GetDir(ctx, wire.GetDirRequest{DirPath: getDirPath})
	if err == nil && len(l.SubDirectories)+len(l.Files) != getDirEntries {
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

// echoConn is a framed TCP connection to the echo floor; answers come back
// in order, so a FIFO of waiters matches them. A connection for one request
// at a time (direct) has no reader goroutine: the caller reads its answer,
// as the SDK's and the minimal client's callers do, so that the floor pays
// no hand-off they do not pay. It reads through a 32 KiB bufio.Reader and
// writes each frame in one Write on the plain net.Conn.
type echoConn struct {
	nc    net.Conn
	sizes benchfloor.FrameSizes
	wmu   sync.Mutex
	queue chan chan error
	done  chan struct{}
	fr    *framing.Reader // direct connections only
	buf   []byte
}

func dialEcho(addr string, sizes benchfloor.FrameSizes, direct bool) (*echoConn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
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
	return e.roundTrip(e.sizes.GetDirRequest, e.sizes.GetDirAnswer)
}

func (e *echoConn) createDelete(context.Context, string) error {
	if err := e.roundTrip(e.sizes.CreateRequest, e.sizes.OKAnswer); err != nil {
		return err
	}
	return e.roundTrip(e.sizes.DeleteRequest, e.sizes.OKAnswer)
}

func (e *echoConn) close() { e.nc.Close(); <-e.done }

// computeConn is the in-process compute floor as a connection: each
// operation does both sides' work of its requests, with no network. It
// carries one request at a time.
type computeConn struct{ f *benchfloor.Small }

func (c computeConn) getDir(context.Context) error { return c.f.GetDir(getDirPath) }

func (c computeConn) createDelete(_ context.Context, name string) error {
	return c.f.CreateDelete(cdDir + "/" + name)
}

func (c computeConn) close() {}

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
	if len(l.SubDirectories)+len(l.Files) != getDirEntries {
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
// baseline build's daemon (nil without -baseline), the echo floor, the
// net/http peer, and the daemon in commit mode; and the in-process floor.
type servers struct {
	daemon, before, echo, http, commit *child
	floor                              *benchfloor.Small
	sizes                              benchfloor.FrameSizes
}

// of returns the child serving kind (nil: in-process).
func (s *servers) of(kind string) *child {
	switch kind {
	case kindDaemon, kindMini:
		return s.daemon
	case kindBefore, kindMiniBefore:
		return s.before
	case kindDaemonCommit:
		return s.commit
	case kindEcho:
		return s.echo
	case kindHTTP:
		return s.http
	}
	return nil
}

// dial opens n connections of kind; direct ones (echo only) carry one
// request at a time. The minimal client and the compute floor carry one
// request at a time whatever direct says.
func (s *servers) dial(kind string, n int, direct bool) ([]smallConn, error) {
	out := make([]smallConn, 0, n)
	fail := func(err error) ([]smallConn, error) {
		for _, c := range out {
			c.close()
		}
		return nil, err
	}
	switch kind {
	case kindDaemon, kindDaemonCommit, kindBefore, kindMini, kindMiniBefore:
		vals, err := s.of(kind).mint(n)
		if err != nil {
			return nil, err
		}
		mini := kind == kindMini || kind == kindMiniBefore
		for _, v := range vals {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var c smallConn
			if mini {
				c, err = dialMini(ctx, v)
			} else {
				var sc *client.Client
				if sc, err = client.Dial(ctx, v); err == nil {
					c = daemonConn{sc}
				}
			}
			cancel()
			if err != nil {
				return fail(err)
			}
			out = append(out, c)
		}
	case kindEcho:
		for range n {
			e, err := dialEcho(s.echo.addr, s.sizes, direct)
			if err != nil {
				return fail(err)
			}
			out = append(out, e)
		}
	case kindHTTP:
		out = append(out, newHTTPConn(s.http.addr, n))
	case kindCompute:
		for range n {
			out = append(out, computeConn{s.floor})
		}
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
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
	roundP50 := map[string][]time.Duration{}
	counted := true
	serverUsage := func(kind string) (usage, bool) {
		if ch := s.of(kind); ch != nil {
			return readUsage(ch.pid())
		}
		return usage{}, true // in-process: no server
	}
	for range rounds {
		for _, kind := range kinds {
			c := conns[kind]
			s0, ok1 := serverUsage(kind)
			c0, ok2 := readUsage(0)
			from := len(samples[kind])
			for range per {
				t := time.Now()
				if err := run(c); err != nil {
					return nil, fmt.Errorf("%s: %w", kind, err)
				}
				samples[kind] = append(samples[kind], time.Since(t))
			}
			s1, ok3 := serverUsage(kind)
			c1, ok4 := readUsage(0)
			counted = counted && ok1 && ok2 && ok3 && ok4
			server[kind] = server[kind].plus(s1.since(s0))
			client[kind] = client[kind].plus(c1.since(c0))
			round := slices.Clone(samples[kind][from:])
			slices.Sort(round)
			roundP50[kind] = append(roundP50[kind], round[len(round)/2])
		}
	}
	out := map[string]latencyPair{}
	for kind, d := range samples {
		slices.Sort(d)
		rp := roundP50[kind]
		slices.Sort(rp)
		lp := latencyPair{P50: d[len(d)/2], P99: d[len(d)*99/100], RoundMin: rp[0], RoundMax: rp[len(rp)-1]}
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
