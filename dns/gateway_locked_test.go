package dns_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/dns"
)

// TestGatewayLocked: while GatewayOptions.Locked reports true, every request
// (a site's page, a missing file, another Host, the index page, a POST) is
// 503 with the fixed text and the usual headers; once it reports false the
// site is served again on the same connection.
func TestGatewayLocked(t *testing.T) {
	var locked atomic.Bool
	locked.Store(true)
	s := newSiteOpts(t, dns.GatewayOptions{Locked: locked.Load})
	for _, c := range []struct{ method, host, path string }{
		{"GET", s.host(), "/"},
		{"HEAD", s.host(), "/index.html"},
		{"GET", s.host(), "/nope"},
		{"GET", s.host(), "/priv/secret.txt"},
		{"GET", "evil.test", "/"},
		{"GET", s.addr, "/"},
		{"POST", s.host(), "/"},
	} {
		resp, body := s.do(t, c.method, c.host, c.path)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s %s%s", c.method, c.host, c.path)
		assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "sandbox")
		if c.method == "GET" {
			assert.True(t, strings.HasPrefix(string(body), "the launcher is locked"), "%q", body)
			assert.NotContains(t, string(body), "home page")
		}
	}
	locked.Store(false)
	resp, body := s.do(t, "GET", s.host(), "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "home page")
	locked.Store(true)
	resp, _ = s.do(t, "GET", s.host(), "/")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "locked again")
}
