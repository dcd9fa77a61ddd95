package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/afero"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// Servers run in a child process of the bench binary (re-executed with
// -child KIND), so that their memory is measured apart from the load
// generator's. The child prints "addr HOST:PORT" and then answers commands,
// one per line on stdin: "mint N [APP]" (daemon only: N launcher values for
// the bench app, or for APP, otherAppID being the other one), "mem"
// (memory figures as JSON), "gc" (collect garbage), "resetpeak" (reset
// VmHWM). It exits when stdin closes. This is also the contract a baseline
// build's launcherbench must keep (see -baseline): its "daemon" child is
// measured beside this build's.

// Server kinds: what a child serves.
const (
	kindDaemon = "daemon"
	kindEcho   = "echo"
	kindHTTP   = "http"
	// kindDaemonCommit is the daemon over a store in vfs.SyncCommit mode
	// (every change answered only once fsynced): a reference for changes.
	kindDaemonCommit = "daemon-commit"
)

// The app the benchmarks act as.
const (
	benchAppID   = "id-bench"
	benchAppRoot = "bench-Root-Dir"
	// The second app, for figures of one app's requests while another
	// loads the daemon (the scale section's metadata case).
	otherAppID   = "id-other"
	otherAppRoot = "other-Root-Dir"
)

// memInfo is what a child reports of its memory.
type memInfo struct {
	HWMKiB     int64  `json:"hwm_kib"`
	RSSKiB     int64  `json:"rss_kib"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
}

func readMem() memInfo {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	mi := memInfo{HeapInuse: m.HeapInuse, StackInuse: m.StackInuse, Sys: m.Sys, Goroutines: runtime.NumGoroutine()}
	mi.HWMKiB, mi.RSSKiB = procStatus()
	return mi
}

// procStatus returns VmHWM and VmRSS of this process in KiB.
func procStatus() (hwm, rss int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			hwm = n
		case "VmRSS:":
			rss = n
		}
	}
	return hwm, rss
}

// scaleQuota is the app quota of a store opened with bigQuota (the scale
// section's): no limit on entries or content, 1 GiB of user_metadata.
func scaleQuota() vfs.Quota { return vfs.Quota{Entries: -1, ContentBytes: -1, MetadataBytes: 1 << 30} }

// openStore opens (or creates) the store in dir, in the given sync mode,
// with the shared root and the apps' roots; with bigQuota each app's quota
// is scaleQuota, else the store's defaults. It is the one place a store of
// launcherbench is opened (the children's and the parent's, which lays
// stores out before a child starts on them).
func openStore(dir string, mode vfs.Sync, bigQuota bool) (*vfs.Store, error) {
	opts := vfs.Options{Sync: mode}
	if bigQuota {
		opts.AppQuota = scaleQuota()
	}
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), opts)
	if err != nil {
		return nil, err
	}
	// The store opens locked: unlock it with fixed (zero) keys, the same at every open.
	if err := store.Unlock(&vfs.Keys{}); err != nil {
		return nil, err
	}
	for _, r := range []vfs.Root{vfs.SharedRoot(), vfs.AppRoot(benchAppRoot), vfs.AppRoot(otherAppRoot)} {
		if _, err := store.CreateRoot(r); err != nil && !errors.Is(err, vfs.ErrExists) {
			store.Close()
			return nil, err
		}
	}
	return store, nil
}

// runChild is the child process's main.
func runChild(kind, dir string, maxConns int, bigQuota bool) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mint func(n int, app string) ([]string, error)
	var wait func()
	switch kind {
	case kindDaemon, kindDaemonCommit:
		mode := vfs.SyncBackground
		if kind == kindDaemonCommit {
			mode = vfs.SyncCommit
		}
		store, err := openStore(dir, mode, bigQuota)
		if err != nil {
			return err
		}
		defer store.Close()
		apps := launcher.NewMemApps()
		apps.Put(launcher.App{ID: benchAppID, Name: "bench", RootDir: benchAppRoot})
		apps.Put(launcher.App{ID: otherAppID, Name: "other", RootDir: otherAppRoot})
		srv, err := launcher.New(launcher.Config{MaxConns: maxConns}, apps, nfs.New(store))
		if err != nil {
			return err
		}
		ln, err := launcher.Listen(ctx, "127.0.0.1:0")
		if err != nil {
			return err
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
		wait = func() { cancel(); <-done }
		mint = func(n int, app string) ([]string, error) {
			out := make([]string, n)
			for i := range out {
				s, err := srv.MintLauncherString(app)
				if err != nil {
					return nil, err
				}
				out[i] = launcher.LauncherValue(ln.Addr(), s)
			}
			return out, nil
		}
		fmt.Printf("addr %s\n", ln.Addr())
	case kindEcho:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		es := &echoServer{ln: ln}
		done := make(chan struct{})
		go func() { defer close(done); es.serve() }()
		wait = func() { ln.Close(); es.wg.Wait(); <-done }
		fmt.Printf("addr %s\n", ln.Addr())
	case kindHTTP:
		store, err := openStore(dir, vfs.SyncBackground, bigQuota)
		if err != nil {
			return err
		}
		defer store.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: restHandler(store), ReadHeaderTimeout: 10 * time.Second}
		done := make(chan struct{})
		go func() { defer close(done); _ = hs.Serve(ln) }()
		wait = func() { _ = hs.Close(); <-done }
		fmt.Printf("addr %s\n", ln.Addr())
	default:
		return fmt.Errorf("unknown child kind %q", kind)
	}
	defer wait()

	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "mint":
			n, _ := strconv.Atoi(f[1])
			if mint == nil {
				fmt.Fprintln(out, "error not a daemon")
				break
			}
			app := benchAppID
			if len(f) > 2 {
				app = f[2]
			}
			vals, err := mint(n, app)
			if err != nil {
				fmt.Fprintln(out, "error", err)
				break
			}
			fmt.Fprintln(out, "values", strings.Join(vals, " "))
		case "mem":
			b, _ := json.Marshal(readMem())
			fmt.Fprintln(out, "mem", string(b))
		case "gc":
			// A collection only: the memory it frees goes back to the OS
			// when the runtime's scavenger says (no debug.FreeOSMemory).
			runtime.GC()
			fmt.Fprintln(out, "ok")
		case "resetpeak":
			// Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
			_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
			fmt.Fprintln(out, "ok")
		default:
			fmt.Fprintln(out, "error unknown command")
		}
		out.Flush()
	}
	return nil
}

// echoServer is the echo floor: framed TCP with no crypto and no store.
// Each request's payload starts with the size of the answer to send, as 8
// bytes little-endian; the answer is that many bytes. It reads through a
// bufio.Reader and writes each answer, header and body, in one Write on the
// plain net.Conn.
type echoServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

func (es *echoServer) serve() {
	for {
		nc, err := es.ln.Accept()
		if err != nil {
			return
		}
		es.wg.Go(func() {
			defer nc.Close()
			fr := framing.NewReader(bufio.NewReaderSize(nc, 2<<10), 1<<20)
			var body, answer []byte
			for {
				size, err := fr.ReadHeader()
				if err != nil {
					return
				}
				if body, err = fr.ReadBody(body, size); err != nil || len(body) < 8 {
					return
				}
				n := int(binary.LittleEndian.Uint64(body))
				if n > 1<<20 {
					return
				}
				if cap(answer) < framing.HeaderSize+n {
					answer = make([]byte, framing.HeaderSize+n)
				}
				if framing.WriteFramed(nc, answer[:framing.HeaderSize+n]) != nil {
					return
				}
			}
		})
	}
}

// restHandler is the net/http peer: the same store operations as the nfs
// module, as a local REST server with encoding/json, the way an app
// developer would write one.
func restHandler(store *vfs.Store) http.Handler {
	root := vfs.AppRoot(benchAppRoot)
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": -1, "description": err.Error()})
	}
	ok := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"code":0,"description":""}`)
	}
	mux.HandleFunc("POST /nfs/get-dir", func(w http.ResponseWriter, r *http.Request) {
		var req wire.GetDirRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fail(w, err)
			return
		}
		p, err := vfs.ParsePath(req.DirPath)
		if err != nil {
			fail(w, err)
			return
		}
		l, err := store.GetDir(r.Context(), root, p)
		if err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(nfs.Listing(l))
	})
	mux.HandleFunc("POST /nfs/create-file", func(w http.ResponseWriter, r *http.Request) {
		var req wire.CreateFileRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fail(w, err)
			return
		}
		p, err := vfs.ParsePath(req.FilePath)
		if err != nil {
			fail(w, err)
			return
		}
		if _, err := store.CreateFile(r.Context(), root, p, req.UserMetadata); err != nil {
			fail(w, err)
			return
		}
		ok(w)
	})
	mux.HandleFunc("POST /nfs/delete-file", func(w http.ResponseWriter, r *http.Request) {
		var req wire.FileRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fail(w, err)
			return
		}
		p, err := vfs.ParsePath(req.FilePath)
		if err != nil {
			fail(w, err)
			return
		}
		if err := store.DeleteFile(r.Context(), root, p); err != nil {
			fail(w, err)
			return
		}
		ok(w)
	})
	return mux
}

// child is the parent's handle on a child server.
type child struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	addr string
	mu   sync.Mutex
}

// startChild starts a server of the given kind: exe (a baseline build's
// launcherbench) with -child, or this binary re-executed when exe is "".
func startChild(exe, kind, dir string, maxConns int, extra ...string) (*child, error) {
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(exe, append([]string{"-child", kind, "-dir", dir, "-maxconns", strconv.Itoa(maxConns)}, extra...)...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewReaderSize(outPipe, 1<<20)}
	line, err := c.out.ReadString('\n')
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("child %s: %w", kind, err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if !ok {
		c.stop()
		return nil, fmt.Errorf("child %s said %q", kind, line)
	}
	c.addr = addr
	return c, nil
}

// do sends one command and returns the answer line.
func (c *child) do(cmd string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.in, cmd+"\n"); err != nil {
		return "", err
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(line, "error "); ok {
		return "", fmt.Errorf("child: %s", rest)
	}
	return line, nil
}

func (c *child) mint(n int) ([]string, error) { return c.mintFor(n, benchAppID) }

// mintFor mints n launcher values for app (this build's daemon child only).
func (c *child) mintFor(n int, app string) ([]string, error) {
	cmdline := "mint " + strconv.Itoa(n)
	if app != benchAppID {
		cmdline += " " + app
	}
	line, err := c.do(cmdline)
	if err != nil {
		return nil, err
	}
	return strings.Fields(strings.TrimPrefix(line, "values")), nil
}

func (c *child) mem() (memInfo, error) {
	var mi memInfo
	line, err := c.do("mem")
	if err != nil {
		return mi, err
	}
	err = json.Unmarshal([]byte(strings.TrimPrefix(line, "mem ")), &mi)
	return mi, err
}

// settled collects garbage in the child and returns its memory.
func (c *child) settled() (memInfo, error) {
	if _, err := c.do("gc"); err != nil {
		return memInfo{}, err
	}
	return c.mem()
}

func (c *child) resetPeak() error {
	_, err := c.do("resetpeak")
	return err
}

// stop closes the child's stdin and waits for it to exit.
func (c *child) stop() {
	c.in.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }
