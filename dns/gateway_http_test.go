package dns_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/dns"
)

// hostileRanges is the Range header of the hostile test: 3,000 ranges
// alternating between the first and the last byte of a 1 MiB file.
var hostileRanges = "bytes=" + strings.TrimSuffix(strings.Repeat("0-0,1048575-1048575,", 1500), ",")

// mib is a 1 MiB file whose bytes differ from their neighbours'.
func mib() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i * 7 / 3)
	}
	return b
}

// parts reads a multipart/byteranges answer into "Content-Range" -> body.
func parts(t *testing.T, resp *http.Response, body []byte) map[string][]byte {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/byteranges", mt)
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	out := map[string][]byte{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		out[p.Header.Get("Content-Range")] = b
	}
}

func TestGatewayRanges(t *testing.T) {
	s := newSite(t)
	big := mib()
	n := len(big)
	put(t, s.c, false, "site/mib.bin", big)
	put(t, s.c, false, "site/empty.txt", nil)
	full := func(resp *http.Response, body []byte, what string) {
		t.Helper()
		require.Equal(t, http.StatusOK, resp.StatusCode, what)
		assert.Empty(t, resp.Header.Get("Content-Range"), what)
		assert.True(t, bytes.Equal(big, body), what)
	}

	// The hostile header: ignored, the whole file once.
	resp, body := s.do(t, "GET", s.host(), "/mib.bin", "Range", hostileRanges)
	full(resp, body, "3,000 ranges")

	// Overlapping and adjacent ranges are merged: 39 specs, 2 ranges.
	var specs []string
	for i := range 13 {
		specs = append(specs, fmt.Sprintf("%d-%d", i*10, i*10+9), fmt.Sprintf("%d-%d", i*10+5, i*10+12), fmt.Sprintf("%d-", n-10+i%3))
	}
	resp, body = s.do(t, "GET", s.host(), "/mib.bin", "Range", "bytes="+strings.Join(specs, ","))
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, map[string][]byte{
		fmt.Sprintf("bytes 0-132/%d", n):            big[:133],
		fmt.Sprintf("bytes %d-%d/%d", n-10, n-1, n): big[n-10:],
	}, parts(t, resp, body))

	// MaxRanges disjoint ranges are served, in ascending order...
	var eight, nine []string
	want := map[string][]byte{}
	for i := range dns.MaxRanges + 1 {
		spec := fmt.Sprintf("%d-%d", i*1000, i*1000+i)
		if i < dns.MaxRanges {
			eight = append([]string{spec}, eight...)
			want[fmt.Sprintf("bytes %d-%d/%d", i*1000, i*1000+i, n)] = big[i*1000 : i*1000+i+1]
		}
		nine = append(nine, spec)
	}
	resp, body = s.do(t, "GET", s.host(), "/mib.bin", "Range", "bytes="+strings.Join(eight, ","))
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, want, parts(t, resp, body))
	// ... one more is the whole file.
	resp, body = s.do(t, "GET", s.host(), "/mib.bin", "Range", "bytes="+strings.Join(nine, ","))
	full(resp, body, "MaxRanges+1 ranges")
	resp, body = s.do(t, "GET", s.host(), "/mib.bin", "Range", "bytes="+strings.Repeat("7-7,", dns.MaxRangeSpecs+1))
	full(resp, body, "MaxRangeSpecs+1 specs, however few ranges")

	// One range after merging is a plain 206.
	resp, body = s.do(t, "GET", s.host(), "/mib.bin", "Range", "bytes=10-19,0-9")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, fmt.Sprintf("bytes 0-19/%d", n), resp.Header.Get("Content-Range"))
	assert.Equal(t, big[:20], body)
	resp, body = s.do(t, "GET", s.host(), "/mib.bin", "Range", "bytes=5-99999999999999999999999")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode, "a huge last position is the end")
	assert.Equal(t, big[5:], body)

	// Malformed or foreign: ignored.
	for _, h := range []string{"bytes=5-2", "items=0-5", "bytes=", "bytes=a-b", "bytes=0-1;2-3"} {
		resp, body = s.do(t, "GET", s.host(), "/mib.bin", "Range", h)
		full(resp, body, h)
	}
	// Unsatisfiable: 416 saying the size.
	for _, h := range []string{fmt.Sprintf("bytes=%d-", n), "bytes=-0", fmt.Sprintf("bytes=%d-%d,%d-", n, n+5, n+100)} {
		resp, _ = s.do(t, "GET", s.host(), "/mib.bin", "Range", h)
		assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode, h)
		assert.Equal(t, fmt.Sprintf("bytes */%d", n), resp.Header.Get("Content-Range"), h)
	}
	// An empty file has no ranges: 200.
	resp, body = s.do(t, "GET", s.host(), "/empty.txt", "Range", "bytes=0-")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, body)

	// Conditions still come first.
	resp, _ = s.do(t, "GET", s.host(), "/mib.bin")
	etag := resp.Header.Get("ETag")
	resp, body = s.do(t, "GET", s.host(), "/mib.bin", "Range", "bytes=0-0,5-5", "If-Range", `"other"`)
	full(resp, body, "If-Range mismatch")
	resp, body = s.do(t, "GET", s.host(), "/mib.bin", "Range", "bytes=0-0,5-5", "If-Range", etag)
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Len(t, parts(t, resp, body), 2)
	resp, _ = s.do(t, "GET", s.host(), "/mib.bin", "Range", hostileRanges, "If-None-Match", etag)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	resp, _ = s.do(t, "GET", s.host(), "/mib.bin", "Range", fmt.Sprintf("bytes=%d-", n), "If-None-Match", etag)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
}

// BenchmarkGatewayHostileRanges measures one request for a 1 MiB file with
// the hostile 3,000-range header, and without a Range header for
// comparison, through the real gateway over TCP.
func BenchmarkGatewayHostileRanges(b *testing.B) {
	e := newEnvClock(b, newTestClock())
	_, c := e.app(b, "alpha", false)
	mkdir(b, c, false, "site")
	put(b, c, false, "site/mib.bin", mib())
	require.NoError(b, c.RegisterDNS(ctxT(b), service("example", "www", "site")))
	_, addr := runGateway(b, e, dns.GatewayOptions{})
	hc := httpClient(b, addr, true)
	for _, bc := range []struct{ name, rng string }{{"plain", ""}, {"3000-ranges", hostileRanges}} {
		b.Run(bc.name, func(b *testing.B) {
			req, err := http.NewRequest("GET", "http://www.example.localhost/mib.bin", nil)
			require.NoError(b, err)
			if bc.rng != "" {
				req.Header.Set("Range", bc.rng)
			}
			for b.Loop() {
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode >= 300 || n == 0 {
					b.Fatalf("%d, %d bytes, %v", resp.StatusCode, n, err)
				}
			}
		})
	}
}

// rawExchange sends text on a new connection to addr and reads one answer.
func rawExchange(t *testing.T, addr, text string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(c, text)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestGatewayAbsoluteFormRefused(t *testing.T) {
	s := newSite(t)
	h := s.host()
	resp, body := rawExchange(t, s.addr, "GET / HTTP/1.1\r\nHost: "+h+"\r\nConnection: close\r\n\r\n")
	require.Equal(t, http.StatusOK, resp.StatusCode, "control: origin form")
	require.Contains(t, body, "home page")
	for _, req := range []string{
		// The request line must not override a good Host header ...
		"GET http://evil.example/ HTTP/1.1\r\nHost: " + h,
		// ... nor stand in for a bad one.
		"GET http://" + h + "/ HTTP/1.1\r\nHost: evil.example",
		"GET HTTP://" + h + "/index.html HTTP/1.1\r\nHost: " + h,
		"GET http://" + h + "/ HTTP/1.0",
		"HEAD http://" + h + "/ HTTP/1.1\r\nHost: " + h,
	} {
		resp, body := rawExchange(t, s.addr, req+"\r\nConnection: close\r\n\r\n")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, req)
		assert.NotContains(t, body, "home page", req)
	}
	// Two Host headers, or none: never a site.
	resp, body = rawExchange(t, s.addr, "GET / HTTP/1.1\r\nHost: "+h+"\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.NotContains(t, body, "home page")
	resp, body = rawExchange(t, s.addr, "GET / HTTP/1.0\r\n\r\n")
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
	assert.NotContains(t, body, "home page")
}

func TestGatewaySecurityHeaders(t *testing.T) {
	s := newSite(t)
	put(t, s.c, false, "site/paper.pdf", []byte("%PDF-1.4"))
	const (
		siteCSP    = "sandbox allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads; frame-ancestors 'none'"
		gatewayCSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
	)
	for _, tc := range []struct {
		host, path string
		hdr        []string
		code       int
		csp        string
	}{
		{s.host(), "/", nil, 200, siteCSP},
		{s.host(), "/app.js", nil, 200, siteCSP},
		{s.host(), "/logo.svg", nil, 200, siteCSP},
		{s.host(), "/big.bin", []string{"Range", "bytes=0-1"}, 206, siteCSP},
		{s.host(), "/big.bin", []string{"Range", "bytes=999999999-"}, 416, siteCSP},
		{s.host(), "/paper.pdf", nil, 200, "frame-ancestors 'none'"},
		{s.host(), "/nosuch", nil, 404, gatewayCSP},
		{s.host(), "/priv/", nil, 403, gatewayCSP},
		{s.host(), "/docs", nil, 301, gatewayCSP},
		{"evil.example", "/", nil, 421, gatewayCSP},
		{s.addr, "/", nil, 200, gatewayCSP},
	} {
		what := tc.host + tc.path
		resp, _ := s.do(t, "GET", tc.host, tc.path, tc.hdr...)
		require.Equal(t, tc.code, resp.StatusCode, what)
		assert.Equal(t, tc.csp, resp.Header.Get("Content-Security-Policy"), what)
		assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), what)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), what)
		assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"), what)
	}
	resp, _ := s.do(t, "POST", s.host(), "/")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, gatewayCSP, resp.Header.Get("Content-Security-Policy"))
	assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
}
