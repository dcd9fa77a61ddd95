// Command site-uploader publishes a local folder as a site: the Go twin of the
// original launcher's DNS example app.
//
// Started by the launcher (which passes --launcher tcp:<ip>:<port>:<string>),
// it uploads the folder through the SDK (create-dir for each directory,
// create-file then modify-file for each file, several files in flight, with
// a progress bar on stderr), registers <service>.<name> pointing at the
// uploaded folder (dns/register-dns, or add-service if the name is already
// this app's), and prints the gateway URL where a browser can open the site:
//
//	launcher app launch uploader -- -dir ./site -name example
//	(in DIR/logs/uploader.log:) http://www.example.localhost:30080/
//
// The gateway's address comes from the environment variable
// LAUNCHER_GATEWAY_URL, which the launcher sets for the apps it launches to
// the gateway it really bound (its default port moves when taken), or from
// -gateway. Without either (the gateway is off) the site is registered and no
// URL is printed.
//
// Flags:
//
//	-dir DIR        local folder to upload (required)
//	-name NAME      long name to register (required)
//	-service NAME   service name (default "www")
//	-remote NAME    name of the uploaded folder in the app's root (default: DIR's base name)
//	-replace        replace the remote folder and the service if they exist
//	-gateway URL    the launcher's web gateway (default $LAUNCHER_GATEWAY_URL)
//	-jobs N         files uploaded at once (default 8)
//	-timeout D      give up after D (default 5m)
//
// The launcher value may also come from the SAFE_LAUNCHER environment variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/wire"
)

// chunkSize is how much of a file goes in one modify-file request.
const chunkSize = 1 << 20

// envGatewayURL is where the launcher puts its web gateway's base URL
// (apps.EnvGatewayURL; an app does not import the daemon's packages).
const envGatewayURL = "LAUNCHER_GATEWAY_URL"

type config struct {
	dir, name, service, remote, gateway string
	replace                             bool
	jobs                                int
	timeout                             time.Duration
}

func main() {
	if err := run(os.Args[1:], os.Getenv(envGatewayURL), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "site-uploader:", err)
		os.Exit(1)
	}
}

// parseFlags parses the command line; gateway is the default of -gateway
// (LAUNCHER_GATEWAY_URL).
func parseFlags(args []string, gateway string, stderr io.Writer) (config, error) {
	var cfg config
	fset := flag.NewFlagSet("site-uploader", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.String("launcher", "", "launcher value tcp:<host>:<port>:<launcher_string> (passed by the launcher)")
	fset.StringVar(&cfg.dir, "dir", "", "local folder to upload")
	fset.StringVar(&cfg.name, "name", "", "long name to register")
	fset.StringVar(&cfg.service, "service", "www", "service name")
	fset.StringVar(&cfg.remote, "remote", "", "name of the uploaded folder in the app's root (default: the folder's base name)")
	fset.BoolVar(&cfg.replace, "replace", false, "replace the remote folder and the service if they exist")
	fset.StringVar(&cfg.gateway, "gateway", gateway, "the launcher's web gateway, e.g. http://127.0.0.1:30080 (default: $"+envGatewayURL+", set by the launcher)")
	fset.IntVar(&cfg.jobs, "jobs", 8, "files uploaded at once")
	fset.DurationVar(&cfg.timeout, "timeout", 5*time.Minute, "give up after this long")
	if err := fset.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.dir == "" || cfg.name == "" {
		return cfg, errors.New("-dir and -name are required")
	}
	if cfg.remote == "" {
		abs, err := filepath.Abs(cfg.dir)
		if err != nil {
			return cfg, err
		}
		cfg.remote = filepath.Base(abs)
	}
	if cfg.jobs < 1 {
		cfg.jobs = 1
	}
	return cfg, nil
}

func run(args []string, gateway string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, gateway, stderr)
	if err != nil {
		return err
	}
	value, err := client.LauncherValue(args)
	if err != nil {
		return fmt.Errorf("%w (start me from the launcher, or pass --launcher)", err)
	}
	var url string
	if cfg.gateway != "" {
		if url, err = siteURL(cfg.gateway, cfg.service, cfg.name); err != nil {
			return err
		}
	}
	tree, err := scan(cfg.dir)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	c, err := client.Dial(ctx, value)
	if err != nil {
		return fmt.Errorf("connecting to the launcher: %w", err)
	}
	defer c.Close()

	if err := upload(ctx, c, cfg, tree, stderr); err != nil {
		return err
	}
	if err := register(ctx, c, cfg); err != nil {
		return err
	}
	if url == "" {
		fmt.Fprintf(stderr, "registered %s.%s; the launcher's web gateway is off (no %s, no -gateway), so there is no URL to open\n", cfg.service, cfg.name, envGatewayURL)
		return nil
	}
	fmt.Fprintln(stdout, url)
	return nil
}

// siteURL is the gateway URL of <service>.<name>: the gateway's scheme and
// port, with the host <service>.<name>.localhost (browsers resolve *.localhost
// to the loopback address).
func siteURL(gateway, service, name string) (string, error) {
	u, err := url.Parse(gateway)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("-gateway %q is not a URL like http://127.0.0.1:30080", gateway)
	}
	host := strings.ToLower(service + "." + name + ".localhost")
	if p := u.Port(); p != "" {
		host = net.JoinHostPort(host, p)
	}
	return (&url.URL{Scheme: u.Scheme, Host: host, Path: "/"}).String(), nil
}

// tree is what scan found: directories (slash paths relative to the folder,
// parents before children) and regular files.
type tree struct {
	dirs  []string
	files []localFile
	bytes int64
}

type localFile struct {
	rel, abs string
	size     int64
}

func scan(dir string) (tree, error) {
	var t tree
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if rel != "." {
				t.dirs = append(t.dirs, rel)
			}
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			t.files = append(t.files, localFile{rel: rel, abs: p, size: info.Size()})
			t.bytes += info.Size()
		default:
			// Symlinks and special files are not part of a site.
		}
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("reading %s: %w", dir, err)
	}
	return t, nil
}

// upload creates the remote folder and everything in it.
func upload(ctx context.Context, c *client.Client, cfg config, t tree, stderr io.Writer) error {
	mkdir := func(p string) error {
		return c.CreateDir(ctx, wire.CreateDirRequest{DirPath: p, UserMetadata: wire.Bytes{}})
	}
	err := mkdir(cfg.remote)
	if errors.Is(err, wire.ErrAlreadyExists) && cfg.replace {
		if err = c.DeleteDir(ctx, false, cfg.remote); err == nil {
			err = mkdir(cfg.remote)
		}
	}
	if errors.Is(err, wire.ErrAlreadyExists) {
		return fmt.Errorf("the folder %q exists in this app's root already (use -replace, or -remote NAME)", cfg.remote)
	}
	if err != nil {
		return fmt.Errorf("creating %q: %w", cfg.remote, err)
	}

	// Directories level by level: a directory's parent must exist first.
	levels := map[int][]string{}
	for _, d := range t.dirs {
		n := strings.Count(d, "/")
		levels[n] = append(levels[n], d)
	}
	depths := make([]int, 0, len(levels))
	for n := range levels {
		depths = append(depths, n)
	}
	slices.Sort(depths)
	for _, n := range depths {
		if err := parallel(ctx, cfg.jobs, levels[n], func(d string) error {
			if err := mkdir(path.Join(cfg.remote, d)); err != nil {
				return fmt.Errorf("creating directory %s: %w", d, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}

	bar := newProgress(stderr, len(t.files), t.bytes)
	defer bar.stop()
	return parallel(ctx, cfg.jobs, t.files, func(f localFile) error {
		if err := uploadFile(ctx, c, path.Join(cfg.remote, f.rel), f, bar); err != nil {
			return fmt.Errorf("uploading %s: %w", f.rel, err)
		}
		bar.fileDone()
		return nil
	})
}

// uploadFile creates one file and writes its content in chunks.
func uploadFile(ctx context.Context, c *client.Client, remote string, f localFile, bar *progress) error {
	if err := c.CreateFile(ctx, wire.CreateFileRequest{FilePath: remote, UserMetadata: wire.Bytes{}}); err != nil {
		return err
	}
	h, err := os.Open(f.abs)
	if err != nil {
		return err
	}
	defer h.Close()
	buf := make([]byte, chunkSize)
	var off int64
	for {
		n, rerr := io.ReadFull(h, buf)
		if n > 0 {
			content := &wire.FileContent{Bytes: buf[:n]}
			if off > 0 {
				o := off
				content.Offset = &o
			}
			if err := c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: remote, NewValues: wire.FileNewValues{Content: content}}); err != nil {
				return err
			}
			off += int64(n)
			bar.add(int64(n))
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return nil
		case rerr != nil:
			return rerr
		}
	}
}

// parallel runs fn on every item, at most jobs at once, and returns the first
// error (the other calls are cancelled through ctx).
func parallel[T any](ctx context.Context, jobs int, items []T, fn func(T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(it); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

// register points <service>.<name> at the uploaded folder: register-dns for
// a new name, add-service for a name this app owns already (replacing the
// service with -replace).
func register(ctx context.Context, c *client.Client, cfg config) error {
	req := wire.ServiceRequest{LongName: cfg.name, ServiceName: cfg.service, ServiceHomeDirPath: cfg.remote}
	err := c.RegisterDNS(ctx, req)
	if !errors.Is(err, wire.ErrNameTaken) {
		return wrapReg("register-dns", err)
	}
	err = c.AddService(ctx, req)
	if errors.Is(err, wire.ErrServiceExists) && cfg.replace {
		if err = c.DeleteService(ctx, cfg.name, cfg.service); err == nil {
			err = c.AddService(ctx, req)
		}
	}
	if errors.Is(err, wire.ErrServiceExists) {
		return fmt.Errorf("%s.%s exists already (use -replace to point it at the new upload)", cfg.service, cfg.name)
	}
	return wrapReg("add-service", err)
}

func wrapReg(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// progress draws a text progress bar on a terminal line, from its own
// goroutine, until stop.
type progress struct {
	w          io.Writer
	files      int
	total      int64
	doneFiles  atomic.Int64
	doneBytes  atomic.Int64
	quit, done chan struct{}
	once       sync.Once
}

func newProgress(w io.Writer, files int, total int64) *progress {
	p := &progress{w: w, files: files, total: total, quit: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *progress) add(n int64) { p.doneBytes.Add(n) }
func (p *progress) fileDone()   { p.doneFiles.Add(1) }

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.draw()
		case <-p.quit:
			p.draw()
			fmt.Fprintln(p.w)
			return
		}
	}
}

func (p *progress) draw() {
	const width = 30
	b, f := p.doneBytes.Load(), p.doneFiles.Load()
	frac := 1.0
	if p.total > 0 {
		frac = float64(b) / float64(p.total)
	}
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %d/%d files %s/%s", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, f, p.files, size(b), size(p.total))
}

// stop draws the last state and waits for the drawing goroutine.
func (p *progress) stop() {
	p.once.Do(func() { close(p.quit) })
	<-p.done
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
