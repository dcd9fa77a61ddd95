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

// LocalSuffix is the optional last label of a site's host name. Browsers
// resolve every *.localhost name to the loopback address, so
// http://www.example.localhost:30080/ opens a site with no DNS set-up.
const LocalSuffix = "localhost"

// IndexFile is served for a directory.
const IndexFile = "index.html"

// defaultShutdownTimeout bounds how long Serve waits for requests in progress
// once its context ends, before it closes their connections.
const defaultShutdownTimeout = 5 * time.Second

// readChunk is how much of a file the gateway reads from the store at a time.
const readChunk = 256 << 10

// GatewayOptions configure a Gateway. The zero value is ready to use.
type GatewayOptions struct {
	// Logger receives the gateway's logs (nil: discard).
	Logger *slog.Logger
	// ShutdownTimeout is how long Serve lets requests in progress finish once
	// its context ends (0: 5 s); then their connections are closed.
	ShutdownTimeout time.Duration
}

// Gateway serves registered sites over HTTP: a request for
// http://<service>.<long_name>[.localhost][:port]/<path> is answered from the
// service's home directory. It is an http.Handler; Serve runs it on a
// listener.
//
// Rules (docs/dns.md has the reasons):
//   - The Host header decides the site. A Host that is not a registered
//     "<service>.<long_name>", with or without the ".localhost" suffix, gets
//     421 Misdirected Request: an IP address, "localhost", or any other name
//     a DNS-rebinding page could make the browser send. So a web page of
//     another origin can never read through the gateway.
//   - Only GET and HEAD (405 otherwise). Range and conditional requests are
//     honoured (http.ServeContent).
//   - A directory is served as its index.html; a directory URL without a
//     trailing slash is redirected to one with it; there are no listings.
//   - 404 for what does not exist, including a deleted home directory;
//     403 for a private directory (the home directory or any directory on the
//     path), which is never served.
//   - Content-Type comes from the file's extension (a fixed table first, then
//     mime.TypeByExtension, else application/octet-stream), with
//     X-Content-Type-Options: nosniff.
type Gateway struct {
	m        *Module
	log      *slog.Logger
	shutdown time.Duration
}

var _ http.Handler = (*Gateway)(nil)

// NewGateway returns a gateway serving the sites of m.
func NewGateway(m *Module, opts GatewayOptions) *Gateway {
	g := &Gateway{m: m, log: opts.Logger, shutdown: opts.ShutdownTimeout}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.shutdown <= 0 {
		g.shutdown = defaultShutdownTimeout
	}
	return g
}

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
// first. A TCP listener must be on a loopback address (else ErrNotLoopback,
// and ln is closed).
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	if !isLoopback(ln.Addr()) {
		ln.Close()
		return fmt.Errorf("%w: %s", ErrNotLoopback, ln.Addr())
	}
	var handlers sync.WaitGroup
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handlers.Add(1)
			defer handlers.Done()
			g.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		handlers.Wait()
		return fmt.Errorf("dns: gateway: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), g.shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		g.log.Warn("gateway: requests still running at shutdown; closing them", "err", err)
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
// ok false if it is not of the form <service>.<long_name>[.localhost][:port].
func siteOf(hostHeader string) (long, svc string, ok bool) {
	h := hostHeader
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.ToLower(h)
	h = strings.TrimSuffix(h, ".")
	h = strings.TrimSuffix(h, "."+LocalSuffix)
	long, svc, err := SplitHost(h)
	return long, svc, err == nil
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "method not allowed: the gateway serves GET and HEAD")
		return
	}
	long, svc, ok := siteOf(r.Host)
	if !ok {
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
		g.log.Error("gateway: serving", "host", long, "service", svc, "path", r.URL.Path, "err", err)
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
	h.Set("Content-Type", contentType(t.info.Name))
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", `"`+string(t.info.ID)+"-"+strconv.FormatInt(t.info.Modified.UnixNano(), 36)+`"`)
	rs := &storeReader{ctx: ctx, store: g.m.store, root: t.root, path: t.path, info: t.info}
	http.ServeContent(w, r, t.info.Name, t.info.Modified, rs)
	if rs.err != nil && ctx.Err() == nil {
		g.log.Warn("gateway: file changed or failed while being sent", "host", long, "service", svc, "path", r.URL.Path, "err", rs.err)
	}
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
