package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/apps"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
)

func TestSiteURL(t *testing.T) {
	for _, tc := range []struct{ gw, want string }{
		{"http://127.0.0.1:30080", "http://www.example.localhost:30080/"},
		{"http://127.0.0.1:30080/", "http://www.example.localhost:30080/"},
		{"http://localhost", "http://www.example.localhost/"},
	} {
		got, err := siteURL(tc.gw, "WWW", "Example")
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
	_, err := siteURL("127.0.0.1:30080", "www", "example")
	require.Error(t, err)
}

// TestUploaderAsChild builds the example, runs it as the launcher would (a
// child process with --launcher), and checks that the gateway serves the site.
func TestUploaderAsChild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "site-uploader")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	// The daemon with nfs and dns on a real on-disk store, and the gateway.
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()), vfs.Options{})
	require.NoError(t, err)
	require.NoError(t, store.Unlock(&vfs.Keys{})) // the store opens locked; fixed (zero) test keys
	t.Cleanup(func() { store.Close() })
	_, err = store.CreateRoot(vfs.SharedRoot())
	require.NoError(t, err)
	m, err := dns.New(store)
	require.NoError(t, err)
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store), m)
	app := d.AddApp("site-uploader", false)
	_, err = store.CreateRoot(vfs.AppRoot(app.RootDir))
	require.NoError(t, err)

	ln, err := dns.ListenGateway(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	gctx, gcancel := context.WithCancel(ctx)
	gdone := make(chan error, 1)
	go func() { gdone <- dns.NewGateway(m, dns.GatewayOptions{}).Serve(gctx, ln) }()
	t.Cleanup(func() {
		gcancel()
		require.NoError(t, <-gdone)
	})
	gw := "http://" + ln.Addr().String() + "/"
	require.Equal(t, apps.EnvGatewayURL, envGatewayURL, "the uploader reads the variable the launcher sets")

	// The gateway's URL comes from the environment, as the launcher passes it.
	runApp := func(extra ...string) (stdout, stderr string, err error) {
		args := append([]string{"--launcher", d.Value(t, app.ID), "-dir", "site", "-name", "example", "-jobs", "3"}, extra...)
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "SAFE_LAUNCHER=", apps.EnvGatewayURL+"="+gw)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}
	stdout, stderr, err := runApp()
	require.NoError(t, err, "stderr: %s", stderr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	url := "http://www.example.localhost:" + port + "/"
	assert.Equal(t, url+"\n", stdout)
	assert.Contains(t, stderr, "100%", "progress bar")
	assert.Contains(t, stderr, "6/6 files")

	// What the gateway serves is what was uploaded.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, network, ln.Addr().String())
		},
	}}
	get := func(path string) (*http.Response, []byte) {
		req, err := http.NewRequestWithContext(ctx, "GET", url+path, nil)
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}
	for path, ctype := range map[string]string{
		"":              "text/html; charset=utf-8",
		"css/style.css": "text/css; charset=utf-8",
		"img/dot.png":   "image/png",
		"img/logo.svg":  "image/svg+xml",
		"js/app.js":     "text/javascript; charset=utf-8",
		"data.json":     "application/json",
	} {
		resp, body := get(path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, ctype, resp.Header.Get("Content-Type"), path)
		local := path
		if local == "" {
			local = "index.html"
		}
		want, err := os.ReadFile(filepath.Join("site", local))
		require.NoError(t, err)
		assert.Equal(t, want, body, path)
	}

	// A second run needs -replace; with it the service points at the new
	// upload. -gateway overrides the environment; an empty one means the
	// gateway is off: no URL.
	_, stderr, err = runApp()
	require.Error(t, err)
	assert.Contains(t, stderr, "-replace")
	stdout, stderr, err = runApp("-replace", "-gateway", "http://127.0.0.1:1")
	require.NoError(t, err, "stderr: %s", stderr)
	assert.Equal(t, "http://www.example.localhost:1/\n", stdout)
	stdout, stderr, err = runApp("-replace", "-gateway", "")
	require.NoError(t, err, "stderr: %s", stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "web gateway is off")
	resp, body := get("")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.Contains(string(body), "Example site"))
	names, err := m.Names(ctx)
	require.NoError(t, err)
	require.Len(t, names, 1)
	assert.Equal(t, app.ID, names[0].Owner)
	assert.Equal(t, "/site", names[0].Services[0].Path)
}
