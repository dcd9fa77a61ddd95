package dns_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

type env struct {
	d     *launchertest.Daemon
	store *vfs.Store
	dns   *dns.Module
	dir   string
}

// newEnv starts the real daemon with the nfs and dns modules on a real
// on-disk store.
func newEnv(t testing.TB) *env {
	t.Helper()
	store, dir := launchertest.Store(t)
	m, err := dns.New(store)
	require.NoError(t, err)
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store), m)
	return &env{d: d, store: store, dns: m, dir: dir}
}

// startWith starts a daemon with nfs and m over store.
func startWith(t testing.TB, store *vfs.Store, m *dns.Module) *launchertest.Daemon {
	t.Helper()
	return launchertest.Start(t, launcher.Config{}, nfs.New(store), m)
}

// app registers an app with its root and returns a connected client.
func (e *env) app(t testing.TB, name string, shared bool) (launcher.App, *client.Client) {
	t.Helper()
	a := e.d.AddAppWithRoot(t, e.store, name, shared)
	return a, e.d.Dial(t, a.ID)
}

// gateway serves e's sites on a real loopback listener until the test ends
// and returns its address and an HTTP client that sends every request to it,
// whatever the URL's host, as a browser with *.localhost resolution would.
func (e *env) gateway(t testing.TB) (string, *http.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := dns.ListenGateway(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	g := dns.NewGateway(e.dns, dns.GatewayOptions{})
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("gateway did not stop")
		}
	})
	addr := ln.Addr().String()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
	}
	hc := &http.Client{
		Transport:     tr,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(tr.CloseIdleConnections)
	return addr, hc
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func strp(s string) *string { return &s }

func i64p(n int64) *int64 { return &n }

// mkdir creates a public directory.
func mkdir(t testing.TB, c *client.Client, shared bool, p string) {
	t.Helper()
	require.NoError(t, c.CreateDir(ctxT(t), wire.CreateDirRequest{IsPathShared: shared, DirPath: p, UserMetadata: wire.Bytes{}}))
}

// put creates a file with content.
func put(t testing.TB, c *client.Client, shared bool, p string, content []byte) {
	t.Helper()
	ctx := ctxT(t)
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{IsPathShared: shared, FilePath: p, UserMetadata: wire.Bytes{}}))
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{IsPathShared: shared, FilePath: p, NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: content}}}))
}

// uploadDir copies a local folder to remote (which it creates) in c's root.
func uploadDir(t testing.TB, c *client.Client, local, remote string) {
	t.Helper()
	mkdir(t, c, false, remote)
	err := filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(local, p)
		if err != nil || rel == "." {
			return err
		}
		dst := path.Join(remote, filepath.ToSlash(rel))
		if d.IsDir() {
			mkdir(t, c, false, dst)
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		put(t, c, false, dst, b)
		return nil
	})
	require.NoError(t, err)
}

// service is a register-dns / add-service request in the app's own root.
func service(long, svc, home string) wire.ServiceRequest {
	return wire.ServiceRequest{LongName: long, ServiceName: svc, ServiceHomeDirPath: home}
}

// code returns err's wire code, or 1 if it is not a *wire.Error.
func code(err error) wire.Code {
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return 1
}
