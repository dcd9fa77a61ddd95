package dns_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/wire"
)

// siteEnv is a small site for "www.example", served by a gateway.
type siteEnv struct {
	*env
	clk  *testClock
	c    *client.Client
	g    *dns.Gateway
	addr string
	hc   *http.Client
	big  []byte
}

// newSite uploads the site and serves it with the default options.
func newSite(t *testing.T) *siteEnv { return newSiteOpts(t, dns.GatewayOptions{}) }

// newSiteOpts uploads the site and serves it with opts.
func newSiteOpts(t *testing.T, opts dns.GatewayOptions) *siteEnv {
	clk := newTestClock()
	e := newEnvClock(t, clk)
	_, c := e.app(t, "alpha", false)
	ctx := ctxT(t)
	mkdir(t, c, false, "site")
	put(t, c, false, "site/index.html", []byte("<!DOCTYPE html><title>home</title><p>home page</p>"))
	put(t, c, false, "site/style.css", []byte("body{}"))
	put(t, c, false, "site/app.js", []byte("1"))
	put(t, c, false, "site/data.json", []byte(`{"a":1}`))
	put(t, c, false, "site/logo.png", []byte("\x89PNG\r\n\x1a\nnot really"))
	put(t, c, false, "site/logo.svg", []byte("<svg/>"))
	put(t, c, false, "site/readme.txt", []byte("text"))
	put(t, c, false, "site/blob.qqqzzz", []byte("<html><script>alert(1)</script>"))
	put(t, c, false, "site/Page.HTM", []byte("<p>upper</p>"))
	mkdir(t, c, false, "site/docs")
	put(t, c, false, "site/docs/index.html", []byte("docs index"))
	mkdir(t, c, false, "site/empty")
	mkdir(t, c, false, "site/with space")
	put(t, c, false, "site/with space/a b.txt", []byte("spaced"))
	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "site/priv", IsPrivate: true, UserMetadata: wire.Bytes{}}))
	put(t, c, false, "site/priv/secret.txt", []byte("secret"))
	put(t, c, false, "site/priv/index.html", []byte("secret index"))
	mkdir(t, c, false, "site/priv/pub")
	put(t, c, false, "site/priv/pub/x.txt", []byte("below a private dir"))
	big := make([]byte, 700<<10) // several of the gateway's read chunks
	_, _ = rand.Read(big)
	put(t, c, false, "site/big.bin", big)
	require.NoError(t, c.RegisterDNS(ctx, service("example", "www", "site")))
	g, addr := runGateway(t, e, opts)
	return &siteEnv{env: e, clk: clk, c: c, g: g, addr: addr, hc: httpClient(t, addr, false), big: big}
}

func (s *siteEnv) port() string {
	_, p, _ := net.SplitHostPort(s.addr)
	return p
}

// do sends method to http://<host>/<path> through the gateway.
func (s *siteEnv) do(t *testing.T, method, host, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, "http://"+s.addr+path, nil)
	require.NoError(t, err)
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func (s *siteEnv) host() string { return "www.example.localhost:" + s.port() }

func TestGatewayContentTypes(t *testing.T) {
	s := newSite(t)
	for _, tc := range []struct{ path, ctype, body string }{
		{"/", "text/html; charset=utf-8", "<!DOCTYPE html><title>home</title><p>home page</p>"},
		{"/index.html", "text/html; charset=utf-8", ""},
		{"/Page.HTM", "text/html; charset=utf-8", "<p>upper</p>"},
		{"/style.css", "text/css; charset=utf-8", "body{}"},
		{"/app.js", "text/javascript; charset=utf-8", "1"},
		{"/data.json", "application/json", `{"a":1}`},
		{"/logo.png", "image/png", ""},
		{"/logo.svg", "image/svg+xml", "<svg/>"},
		{"/readme.txt", "text/plain; charset=utf-8", "text"},
		{"/blob.qqqzzz", "application/octet-stream", "<html><script>alert(1)</script>"},
		{"/docs/", "text/html; charset=utf-8", "docs index"},
		{"/with%20space/a%20b.txt", "text/plain; charset=utf-8", "spaced"},
	} {
		resp, body := s.do(t, "GET", s.host(), tc.path)
		require.Equal(t, http.StatusOK, resp.StatusCode, tc.path)
		assert.Equal(t, tc.ctype, resp.Header.Get("Content-Type"), tc.path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), tc.path)
		if tc.body != "" {
			assert.Equal(t, tc.body, string(body), tc.path)
		}
	}
}

func TestGatewayHostRules(t *testing.T) {
	s := newSite(t)
	p := s.port()
	for _, h := range []string{
		"www.example.localhost:" + p,
		"WWW.Example.LocalHost:" + p,
		"www.example.localhost",
		"www.example.localhost.:" + p,
		"www.example.localhost:1", // the port is not checked
	} {
		resp, body := s.do(t, "GET", h, "/")
		assert.Equal(t, http.StatusOK, resp.StatusCode, h)
		assert.Contains(t, string(body), "home page", h)
	}
	// DNS rebinding and foreign hosts: anything but a registered site under
	// .localhost is refused, with the same text whatever the host.
	var refusal string
	for _, h := range []string{
		"www.example:" + p, // a real TLD would make this a rebinding target
		"www.example",
		"www.example.",
		"shop.io",
		"www.shop.io:" + p,
		"www.example.localhost..",
		"www.example.local",
		"www.example.localhost.localhost",
		"www.example.xlocalhost",
		"localhost:" + p,
		"127.0.0.1", // the bound address needs its port
		"127.0.0.1:1",
		"127.0.0.2:" + p,
		"[::1]:" + p,
		"evil.com",
		"evil.com:" + p,
		"www.example.evil.com",
		"www.example.localhost.evil.com",
		"blog.example.localhost:" + p, // no such service
		"www.nosuch.localhost:" + p,   // no such name
		"a.www.example.localhost:" + p,
		"example.localhost:" + p,
		"localhost",
		"www.exa_mple.localhost",
	} {
		resp, body := s.do(t, "GET", h, "/")
		assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode, h)
		assert.NotContains(t, string(body), "home page", h)
		if refusal == "" {
			refusal = string(body)
		}
		assert.Equal(t, refusal, string(body), h)
	}
	assert.Contains(t, refusal, "<service>.<long_name>.localhost")

	// The bound address: a fixed index page at "/", nothing else.
	resp, body := s.do(t, "GET", s.addr, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(body), "http://www.example.localhost:"+p+"/")
	assert.NotContains(t, string(body), "home page")
	for _, path := range []string{"/index.html", "/site/", "/x"} {
		resp, body = s.do(t, "GET", s.addr, path)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		assert.NotContains(t, string(body), "home page", path)
	}
}

func TestGatewayNotFoundAndPrivate(t *testing.T) {
	s := newSite(t)
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/nosuch.html", http.StatusNotFound},
		{"/docs/nosuch", http.StatusNotFound},
		{"/index.html/", http.StatusNotFound},
		{"/index.html/x", http.StatusNotFound},
		{"/empty/", http.StatusNotFound}, // a directory without index.html: no listing
		{"/a/../index.html", http.StatusNotFound},
		{"/./index.html", http.StatusNotFound},
		{"/%2e%2e/secret", http.StatusNotFound},
		{"/priv/", http.StatusForbidden},
		{"/priv", http.StatusForbidden},
		{"/priv/secret.txt", http.StatusForbidden},
		{"/priv/index.html", http.StatusForbidden},
		{"/priv/pub/x.txt", http.StatusForbidden},
	} {
		resp, body := s.do(t, "GET", s.host(), tc.path)
		assert.Equal(t, tc.code, resp.StatusCode, tc.path)
		assert.NotContains(t, string(body), "secret", tc.path)
		assert.NotContains(t, string(body), "below a private", tc.path)
	}

	// Redirect of a directory URL without its slash, built from the path only.
	resp, _ := s.do(t, "GET", s.host(), "/docs?q=1")
	assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	assert.Equal(t, "/docs/?q=1", resp.Header.Get("Location"))
	resp, _ = s.do(t, "GET", s.host(), "/docs//")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "empty segments are dropped")
	resp, _ = s.do(t, "GET", s.host(), "/with%20space")
	assert.Equal(t, "/with%20space/", resp.Header.Get("Location"))

	// Methods.
	resp, _ = s.do(t, "POST", s.host(), "/")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))

	// A deleted home directory is 404, never another directory.
	require.NoError(t, s.c.DeleteDir(ctxT(t), false, "site"))
	mkdir(t, s.c, false, "site")
	put(t, s.c, false, "site/index.html", []byte("impostor"))
	resp, body := s.do(t, "GET", s.host(), "/")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.NotContains(t, string(body), "impostor")
}

func TestGatewayRangeHeadAndConditional(t *testing.T) {
	s := newSite(t)
	n := len(s.big)

	resp, body := s.do(t, "GET", s.host(), "/big.bin")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, bytes.Equal(s.big, body), "whole file over several chunks")
	assert.Equal(t, "bytes", resp.Header.Get("Accept-Ranges"))
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)
	lm := resp.Header.Get("Last-Modified")
	require.NotEmpty(t, lm)

	for _, tc := range []struct {
		rng      string
		from, to int // inclusive
	}{
		{"bytes=2-5", 2, 5},
		{"bytes=262100-262200", 262100, 262200}, // across a chunk boundary
		{fmt.Sprintf("bytes=%d-", n-10), n - 10, n - 1},
		{"bytes=-7", n - 7, n - 1},
	} {
		resp, body := s.do(t, "GET", s.host(), "/big.bin", "Range", tc.rng)
		require.Equal(t, http.StatusPartialContent, resp.StatusCode, tc.rng)
		assert.Equal(t, fmt.Sprintf("bytes %d-%d/%d", tc.from, tc.to, n), resp.Header.Get("Content-Range"), tc.rng)
		assert.True(t, bytes.Equal(s.big[tc.from:tc.to+1], body), tc.rng)
		assert.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	}
	resp, _ = s.do(t, "GET", s.host(), "/big.bin", "Range", fmt.Sprintf("bytes=%d-", n+5))
	assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode)
	// Range on index.html served for "/".
	resp, body = s.do(t, "GET", s.host(), "/", "Range", "bytes=0-8")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, "<!DOCTYPE", string(body))

	// HEAD: headers, no body.
	resp, body = s.do(t, "HEAD", s.host(), "/big.bin")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, fmt.Sprint(n), resp.Header.Get("Content-Length"))
	assert.Empty(t, body)
	resp, body = s.do(t, "HEAD", s.host(), "/style.css")
	assert.Equal(t, "text/css; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Empty(t, body)

	// Conditional requests.
	resp, body = s.do(t, "GET", s.host(), "/big.bin", "If-None-Match", etag)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body)
	resp, _ = s.do(t, "GET", s.host(), "/big.bin", "If-Modified-Since", lm)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)

	// A new version, an hour later on the store's clock, changes the ETag
	// and Last-Modified.
	s.clk.Advance(time.Hour)
	put2 := []byte("small now")
	require.NoError(t, s.c.ModifyFile(ctxT(t), wire.ModifyFileRequest{FilePath: "site/big.bin", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: put2}}}))
	resp, body = s.do(t, "GET", s.host(), "/big.bin", "If-None-Match", etag)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, put2, body)
	assert.NotEqual(t, etag, resp.Header.Get("ETag"))
	assert.Equal(t, s.clk.Now().Format(http.TimeFormat), resp.Header.Get("Last-Modified"))
	resp, body = s.do(t, "GET", s.host(), "/big.bin", "If-Modified-Since", lm)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, put2, body)
}

func TestGatewayFollowsRename(t *testing.T) {
	s := newSite(t)
	require.NoError(t, s.c.ModifyDir(ctxT(t), wire.ModifyDirRequest{DirPath: "site", NewValues: wire.DirNewValues{Name: strp("moved")}}))
	resp, body := s.do(t, "GET", s.host(), "/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "home page")
	// Services deleted: the host is no longer a site.
	require.NoError(t, s.c.DeleteDNS(ctxT(t), "example"))
	resp, _ = s.do(t, "GET", s.host(), "/")
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
}

func TestGatewayLoopbackOnlyAndShutdown(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	for _, a := range []string{"0.0.0.0:0", "[::]:0", ":0", "example.com:80", "10.1.2.3:0"} {
		_, err := dns.ListenGateway(ctx, a)
		require.ErrorIs(t, err, dns.ErrNotLoopback, a)
	}
	ln, err := dns.ListenGateway(ctx, "localhost:0")
	require.NoError(t, err)
	ln.Close()

	g := dns.NewGateway(e.dns, dns.GatewayOptions{})
	var lc net.ListenConfig
	wild, err := lc.Listen(ctx, "tcp", "0.0.0.0:0")
	require.NoError(t, err)
	require.ErrorIs(t, g.Serve(ctx, wild), dns.ErrNotLoopback)
	_, err = wild.Accept()
	require.Error(t, err, "Serve closed the refused listener")

	// Serve ends when its context does, and closes the listener.
	ln, err = dns.ListenGateway(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.Serve(sctx, ln) }()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	got, _ := io.ReadAll(c)
	c.Close()
	assert.True(t, strings.HasPrefix(string(got), "HTTP/1.1 421"), string(got))
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	require.Error(t, err, "listener closed")
}

func TestSiteHost(t *testing.T) {
	assert.Equal(t, "www.example.localhost", dns.SiteHost("Example", "WWW"))
}

// TestGatewayNoLeaks serves requests (some cut off by the client, some on
// idle keep-alive connections), stops the gateway, and checks that every
// goroutine it started is gone.
func TestGatewayNoLeaks(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "alpha", false)
	mkdir(t, c, false, "site")
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	put(t, c, false, "site/big.bin", big)
	put(t, c, false, "site/index.html", []byte("hi"))
	require.NoError(t, c.RegisterDNS(ctxT(t), service("example", "www", "site")))
	runtime.GC()
	base := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := dns.ListenGateway(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	g := dns.NewGateway(e.dns, dns.GatewayOptions{ShutdownTimeout: time.Second})
	go func() { done <- g.Serve(ctx, ln) }()
	addr := ln.Addr().String()
	tr := &http.Transport{}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := range 20 {
		req, err := http.NewRequestWithContext(ctxT(t), "GET", "http://"+addr+"/big.bin", nil)
		require.NoError(t, err)
		req.Host = "www.example.localhost"
		resp, err := hc.Do(req)
		require.NoError(t, err)
		if i%2 == 0 {
			_, _ = io.CopyN(io.Discard, resp.Body, 1000) // cut off
		} else {
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Len(t, b, len(big))
		}
		resp.Body.Close()
	}
	// A raw connection left open without a request.
	idle, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer idle.Close()

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within its shutdown timeout")
	}
	tr.CloseIdleConnections()
	// Polled by hand: testify's Eventually runs its condition on a goroutine.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines: base %d, now %d\n%s", base, n, buf[:runtime.Stack(buf, true)])
	}
}
