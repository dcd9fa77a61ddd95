package dns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// DefaultGatewayAddr is the gateway's default listen address.
const DefaultGatewayAddr = "127.0.0.1:30080"

// LocalSuffix is the last label of every site's host name in the gateway:
// "<service>.<long_name>.localhost". Browsers resolve every *.localhost name
// to the loopback address, so http://www.example.localhost:30080/ opens a
// site with no DNS set-up, and no public name (such as "shop.io", a real
// TLD) can be made to reach the gateway by DNS rebinding.
const LocalSuffix = "localhost"

// IndexFile is served for a directory.
const IndexFile = "index.html"

// Defaults of GatewayOptions.
const (
	defaultShutdownTimeout   = 5 * time.Second
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = 20 * time.Second
	defaultWriteTimeout      = 30 * time.Second
	defaultIdleTimeout       = 60 * time.Second
)

// lockedText is the body of every answer while the launcher is locked.
const lockedText = "the launcher is locked: its user must unlock it (launcher unlock) before its sites are served"

// readChunk is how much of a file the gateway reads from the store at a time.
const readChunk = 256 << 10

// Headers sent with every gateway answer (docs/dns.md explains the choices).
const (
	// siteCSP is the Content-Security-Policy of a site's files. The sandbox
	// keeps scripts and the site's own origin (sites need them: the 2015
	// example's page fetches data.json), forms, pop-ups that leave the
	// sandbox, modal dialogs and downloads; it takes away plugins, pointer
	// and orientation lock, presentation, top navigation from frames and
	// document.domain. frame-ancestors 'none' is X-Frame-Options: DENY for
	// browsers that prefer CSP.
	siteCSP = "sandbox allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads; frame-ancestors 'none'"
	// pdfCSP is for PDF files: a CSP sandbox always blocks plugins, and
	// with them Chromium's PDF viewer.
	pdfCSP = "frame-ancestors 'none'"
	// gatewayCSP is for what the gateway writes itself (errors, redirects,
	// the index page): nothing in them may run or load anything.
	gatewayCSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
)

// ErrBadGatewayOptions: a GatewayOptions field is negative.
var ErrBadGatewayOptions = errors.New("dns: invalid gateway options")

// GatewayOptions configure a Gateway. The zero value is ready to use: every
// zero field takes its documented default; negative values are
// ErrBadGatewayOptions (Validate).
type GatewayOptions struct {
	// Logger receives the gateway's logs (nil: discard).
	Logger *slog.Logger
	// ShutdownTimeout is how long Serve lets requests in progress finish once
	// its context ends (0: 5 s); then their connections are closed.
	ShutdownTimeout time.Duration
	// MaxConns caps the gateway's open connections (0:
	// DefaultGatewayMaxConns(), the process's descriptor limit minus
	// GatewayFDReserve, at most GatewayMaxConnsCeiling). When every slot is
	// taken, a new connection closes the connection idle the longest (one
	// accepted that has not sent a request yet, or a keep-alive connection
	// between requests); if none is idle it waits in the kernel's accept
	// queue until one is, or until a request finishes. So the gateway holds
	// at most MaxConns+1 descriptors, and an idle flood cannot keep a new
	// visitor out.
	MaxConns int
	// ReadHeaderTimeout is how long a connection may take to send a
	// request's line and headers (0: 10 s), the first request or the next
	// one on a keep-alive connection once its first byte arrived.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long reading a whole request may take (0: 20 s).
	// It ends when the handler starts (net/http lifts the read deadline
	// while it watches for the client going away), so it does not limit
	// how long an answer takes.
	ReadTimeout time.Duration
	// WriteTimeout is how long writing an answer may go without progress
	// (0: 30 s): the deadline is set when the request has been read and
	// moved forward each time another chunk (256 KiB) of the file is read
	// for sending, so a long download goes on as long as the client reads
	// 256 KiB per WriteTimeout.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its next
	// request (0: 60 s).
	IdleTimeout time.Duration
	// Locked, if not nil, is asked at every request: while it reports true
	// (the launcher is locked, its keys not loaded) every request is
	// answered 503 Service Unavailable with a short text, before its Host or
	// path is looked at, and nothing is read from the store.
	Locked func() bool
}

// Validate reports a negative field as ErrBadGatewayOptions, naming it.
func (o GatewayOptions) Validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"ShutdownTimeout", int64(o.ShutdownTimeout)},
		{"MaxConns", int64(o.MaxConns)},
		{"ReadHeaderTimeout", int64(o.ReadHeaderTimeout)},
		{"ReadTimeout", int64(o.ReadTimeout)},
		{"WriteTimeout", int64(o.WriteTimeout)},
		{"IdleTimeout", int64(o.IdleTimeout)},
	} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s is negative (%d); 0 means the default", ErrBadGatewayOptions, f.name, f.v)
		}
	}
	return nil
}

// withDefaults fills the zero fields.
func (o GatewayOptions) withDefaults() GatewayOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.ShutdownTimeout, defaultShutdownTimeout)
	def(&o.ReadHeaderTimeout, defaultReadHeaderTimeout)
	def(&o.ReadTimeout, defaultReadTimeout)
	def(&o.WriteTimeout, defaultWriteTimeout)
	def(&o.IdleTimeout, defaultIdleTimeout)
	if o.MaxConns == 0 {
		o.MaxConns = DefaultGatewayMaxConns()
	}
	return o
}

// Gateway serves registered sites over HTTP: a request for
// http://<service>.<long_name>.localhost[:port]/<path> is answered from the
// service's home directory. It is an http.Handler; Serve runs it on a
// listener, with its connection cap and timeouts.
//
// Rules (docs/dns.md has the reasons):
//   - The Host header decides the site, and must be
//     "<service>.<long_name>.localhost" (any port, any case, an optional
//     trailing dot) for a registered service; anything else gets 421
//     Misdirected Request with a fixed message, except the address the
//     connection came to (e.g. "127.0.0.1:30080"), whose "/" is a fixed
//     text page saying how to reach the sites (404 for other paths). A
//     DNS-rebinding page makes the browser send its own name, so a web page
//     of another origin can never read through the gateway. A request in
//     absolute form ("GET http://host/ HTTP/1.1") is 400: net/http would let
//     its host replace the Host header.
//   - Only GET and HEAD (405 otherwise). Conditional requests and at most
//     MaxRanges ranges (after merging) are honoured, through
//     http.ServeContent; a Range header with more, with more than
//     MaxRangeSpecs specs, malformed or in another unit is ignored (200, the
//     whole file).
//   - A directory is served as its index.html; a directory URL without a
//     trailing slash is redirected to one with it; there are no listings.
//   - 404 for what does not exist, including a deleted home directory;
//     403 for a private directory (the home directory or any directory on the
//     path), which is never served.
//   - Content-Type comes from the file's extension (a fixed table first, then
//     mime.TypeByExtension, else application/octet-stream).
//   - While GatewayOptions.Locked reports true, every request is 503 with a
//     fixed text saying the launcher is locked.
//   - Every answer has X-Content-Type-Options: nosniff, X-Frame-Options:
//     DENY, Referrer-Policy: no-referrer and a Content-Security-Policy with a
//     sandbox (none for PDF files).
type Gateway struct {
	m    *Module
	opts GatewayOptions // with defaults
	err  error          // from opts.Validate, returned by Serve
	gate *connGate
}

var _ http.Handler = (*Gateway)(nil)

// NewGateway returns a gateway serving the sites of m. Invalid options are
// reported by Serve (check them first with GatewayOptions.Validate).
func NewGateway(m *Module, opts GatewayOptions) *Gateway {
	err := opts.Validate()
	if err != nil {
		opts = GatewayOptions{Logger: opts.Logger, Locked: opts.Locked}
	}
	opts = opts.withDefaults()
	return &Gateway{m: m, opts: opts, err: err, gate: newConnGate(opts.MaxConns)}
}

// Stats returns the gateway's connection counters.
func (g *Gateway) Stats() GatewayStats { return g.gate.stats() }

// ListenGateway listens on addr ("host:port"), which must be a loopback
// address ("localhost", 127.0.0.0/8 or ::1); anything else is ErrNotLoopback.
func ListenGateway(ctx context.Context, addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dns: gateway address %q: %w", addr, err)
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("%w: %q", ErrNotLoopback, addr)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dns: gateway: %w", err)
	}
	if !isLoopback(ln.Addr()) { // "localhost" resolved elsewhere
		ln.Close()
		return nil, fmt.Errorf("%w: %q listens on %s", ErrNotLoopback, addr, ln.Addr())
	}
	return ln, nil
}

func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return !ok || t.IP.IsLoopback()
}

// Serve answers HTTP requests on ln until ctx ends, then closes ln, lets the
// requests in progress finish (for GatewayOptions.ShutdownTimeout at most,
// then closes their connections) and waits for every handler to return. It
// returns nil after such a shutdown, or the listener's error if it failed
// first (then it closes the connections at once). A TCP listener must be on
// a loopback address (else ErrNotLoopback), and the options valid (else
// ErrBadGatewayOptions); either way ln is closed.
//
// Connections are held to GatewayOptions.MaxConns, shared by every Serve of
// g, and the http.Server has the options' timeouts.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	if g.err != nil {
		ln.Close()
		return g.err
	}
	if !isLoopback(ln.Addr()) {
		ln.Close()
		return fmt.Errorf("%w: %s", ErrNotLoopback, ln.Addr())
	}
	log := g.opts.Logger
	var handlers sync.WaitGroup
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handlers.Add(1)
			defer handlers.Done()
			g.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: g.opts.ReadHeaderTimeout,
		ReadTimeout:       g.opts.ReadTimeout,
		WriteTimeout:      g.opts.WriteTimeout,
		IdleTimeout:       g.opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ConnState:         g.gate.connState,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	gl := &gateListener{Listener: ln, gate: g.gate, done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(gl) }()
	select {
	case err := <-errc:
		srv.Close() // the listener failed: end the connections too
		handlers.Wait()
		return fmt.Errorf("dns: gateway: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), g.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("gateway: requests still running at shutdown; closing them", "err", err)
		srv.Close()
	}
	<-errc // http.ErrServerClosed
	handlers.Wait()
	return nil
}

// SiteHost returns the site's host name under the .localhost suffix,
// "<service>.<long_name>.localhost", for URLs a browser can open.
func SiteHost(longName, service string) string {
	return strings.ToLower(service) + "." + strings.ToLower(longName) + "." + LocalSuffix
}

// siteOf returns the long and service names that the Host header names, or
// ok false if it is not of the form <service>.<long_name>.localhost[.][:port].
func siteOf(hostHeader string) (long, svc string, ok bool) {
	h := hostHeader
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.ToLower(h)
	h = strings.TrimSuffix(h, ".")
	h, ok = strings.CutSuffix(h, "."+LocalSuffix)
	if !ok {
		return "", "", false
	}
	long, svc, err := SplitHost(h)
	return long, svc, err == nil
}

// isOwnAddr reports whether host is the address the request's connection
// came to, e.g. "127.0.0.1:30080".
func isOwnAddr(r *http.Request, host string) bool {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ok && host != "" && strings.EqualFold(host, a.String())
}

// absoluteForm reports whether the request line had an absolute URI
// ("GET http://host/ HTTP/1.1"): net/http then takes r.Host from it and
// drops the Host header.
func absoluteForm(r *http.Request) bool {
	return r.URL.Host != "" || r.URL.IsAbs() || (r.RequestURI != "" && !strings.HasPrefix(r.RequestURI, "/"))
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", gatewayCSP)
	if g.opts.Locked != nil && g.opts.Locked() {
		plain(w, http.StatusServiceUnavailable, lockedText)
		return
	}
	if absoluteForm(r) {
		plain(w, http.StatusBadRequest, "bad request: send the path alone on the request line and the site in the Host header")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "method not allowed: the gateway serves GET and HEAD")
		return
	}
	long, svc, ok := siteOf(r.Host)
	if !ok {
		if isOwnAddr(r, r.Host) {
			g.index(w, r)
			return
		}
		misdirected(w)
		return
	}
	ctx := r.Context()
	rel, err := vfs.ParsePath(r.URL.Path)
	if err != nil {
		plain(w, http.StatusNotFound, "not found")
		return
	}
	slash := strings.HasSuffix(r.URL.Path, "/")

	var t target
	err = g.m.withHome(ctx, long, svc, func(res Resolved) error {
		var err error
		t, err = g.m.locate(ctx, res, rel, slash)
		return err
	})
	switch {
	case err == nil:
	case errors.Is(err, wire.ErrNameNotFound), errors.Is(err, wire.ErrServiceNotFound):
		misdirected(w)
		return
	case errors.Is(err, wire.ErrServiceDirGone), errors.Is(err, errNoIndex),
		errors.Is(err, vfs.ErrNotFound), errors.Is(err, vfs.ErrNotDir), errors.Is(err, vfs.ErrNotFile), errors.Is(err, vfs.ErrInvalidPath):
		plain(w, http.StatusNotFound, "not found")
		return
	case errors.Is(err, ErrServiceDirPrivate):
		plain(w, http.StatusForbidden, "forbidden: private directories are never served")
		return
	case errors.Is(err, wire.ErrBusy):
		plain(w, http.StatusServiceUnavailable, "the site's directory is moving; try again")
		return
	case ctx.Err() != nil:
		return // the client went away
	default:
		g.opts.Logger.Error("gateway: serving", "host", long, "service", svc, "path", r.URL.Path, "err", err)
		plain(w, http.StatusInternalServerError, "internal error")
		return
	}
	if t.redirect {
		loc := dirURL(rel)
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, loc, http.StatusMovedPermanently)
		return
	}
	ctype := contentType(t.info.Name)
	h.Set("Content-Type", ctype)
	if strings.HasPrefix(ctype, "application/pdf") {
		h.Set("Content-Security-Policy", pdfCSP)
	} else {
		h.Set("Content-Security-Policy", siteCSP)
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", `"`+string(t.info.ID)+"-"+strconv.FormatInt(t.info.Modified.UnixNano(), 36)+`"`)
	switch act, canon := planRange(r.Header.Get("Range"), t.info.Size); act {
	case rangeIgnore:
		r.Header.Del("Range")
	case rangeServe, rangeUnsatisfiable:
		r.Header.Set("Range", canon)
	}
	rc := http.NewResponseController(w)
	rs := &storeReader{ctx: ctx, store: g.m.store, root: t.root, path: t.path, info: t.info,
		onChunk: func() {
			// Progress: another WriteTimeout to send this chunk. (Not
			// supported outside an http.Server, e.g. by a recorder.)
			_ = rc.SetWriteDeadline(time.Now().Add(g.opts.WriteTimeout))
		}}
	http.ServeContent(w, r, t.info.Name, t.info.Modified, rs)
	if rs.err != nil && ctx.Err() == nil {
		g.opts.Logger.Warn("gateway: file changed or failed while being sent", "host", long, "service", svc, "path", r.URL.Path, "err", rs.err)
	}
}

// indexText is the page at the gateway's own address.
const indexText = `This is the launcher's web gateway. It serves the sites that apps publish
with the dns module, each at its own name:

    http://<service>.<long_name>.localhost:%[1]s/

for example http://www.example.localhost:%[1]s/ (browsers resolve every
*.localhost name to this computer). "launcher dns ls" lists the sites.
This address serves this page only.
`

// index answers a request to the gateway's own address: "/" is indexText,
// anything else 404.
func (g *Gateway) index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		plain(w, http.StatusNotFound, "not found")
		return
	}
	_, port, _ := net.SplitHostPort(r.Host)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	fmt.Fprintf(w, indexText, port)
}

var errNoIndex = errors.New("dns: directory without " + IndexFile)

// target is the file a request resolved to, or a redirect to a directory URL.
type target struct {
	redirect bool
	root     vfs.Root
	path     vfs.Path
	info     vfs.FileInfo
}

// locate finds the file a gateway request names below res's home directory,
// refusing private directories on the way.
func (m *Module) locate(ctx context.Context, res Resolved, rel vfs.Path, slash bool) (target, error) {
	if len(rel) > 0 {
		if err := m.checkPublic(ctx, res, rel[:len(rel)-1]); err != nil {
			return target{}, err
		}
		full := join(res.Path, rel)
		fi, err := m.store.StatFile(ctx, res.Root, full)
		switch {
		case err == nil:
			if slash {
				return target{}, fmt.Errorf("%w: a file with a trailing slash", vfs.ErrNotFound)
			}
			return target{root: res.Root, path: full, info: fi}, nil
		case !errors.Is(err, vfs.ErrNotFile):
			return target{}, err
		}
		// A directory.
		if err := m.checkPublic(ctx, res, rel); err != nil {
			return target{}, err
		}
		if !slash {
			return target{redirect: true}, nil
		}
	} else if res.Dir.Private {
		return target{}, m.checkPublic(ctx, res, nil)
	}
	idx := join(join(res.Path, rel), vfs.Path{IndexFile})
	fi, err := m.store.StatFile(ctx, res.Root, idx)
	if errors.Is(err, vfs.ErrNotFound) || errors.Is(err, vfs.ErrNotFile) {
		return target{}, errNoIndex
	}
	if err != nil {
		return target{}, err
	}
	return target{root: res.Root, path: idx, info: fi}, nil
}

// dirURL is the absolute URL path of directory rel with a trailing slash,
// built from the parsed segments (so "//host" can never come out of it).
func dirURL(rel vfs.Path) string {
	var b strings.Builder
	for _, s := range rel {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	b.WriteByte('/')
	return b.String()
}

// contentType returns the Content-Type for a file name: a fixed table first,
// so that answers do not depend on the host's mime.types files, then
// mime.TypeByExtension, else application/octet-stream.
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".html", ".htm":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".json":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	case ".svg":
		return "image/svg+xml"
	case ".ico":
		return "image/x-icon"
	case ".wasm":
		return "application/wasm"
	case ".woff2":
		return "font/woff2"
	case ".pdf":
		return "application/pdf"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// misdirected answers a Host that is not a registered site, with the same
// fixed text whatever the Host was.
func misdirected(w http.ResponseWriter) {
	plain(w, http.StatusMisdirectedRequest, "misdirected request: this gateway serves only registered sites, as http://<service>.<long_name>.localhost:<port>/")
}

// errChanged: the file was replaced or rewritten while it was being sent.
var errChanged = errors.New("dns: the file changed while it was being sent")

// storeReader is an io.ReadSeeker over one version of a store file, read in
// chunks by path. It fails with errChanged rather than mix two versions.
type storeReader struct {
	ctx   context.Context
	store *vfs.Store
	root  vfs.Root
	path  vfs.Path
	info  vfs.FileInfo
	// onChunk, if set, is called before each chunk is read from the store.
	onChunk func()

	off int64
	buf []byte // content at offset bOf
	bOf int64
	err error
}

func (s *storeReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.off >= s.info.Size {
		return 0, io.EOF
	}
	if s.off < s.bOf || s.off >= s.bOf+int64(len(s.buf)) {
		if s.onChunk != nil {
			s.onChunk()
		}
		b, fi, err := s.store.ReadFile(s.ctx, s.root, s.path, s.off, readChunk)
		if err == nil && (fi.ID != s.info.ID || !fi.Modified.Equal(s.info.Modified) || fi.Size != s.info.Size) {
			err = errChanged
		}
		if err == nil && len(b) == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			s.err = err
			return 0, err
		}
		s.buf, s.bOf = b, s.off
	}
	n := copy(p, s.buf[s.off-s.bOf:])
	s.off += int64(n)
	return n, nil
}

func (s *storeReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = s.off + offset
	case io.SeekEnd:
		abs = s.info.Size + offset
	default:
		return 0, errors.New("dns: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("dns: negative position")
	}
	s.off = abs
	return abs, nil
}
