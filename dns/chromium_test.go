package dns_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromiumPath is where Debian's chromium package (installed by .ci/run)
// puts the browser.
const chromiumPath = "/usr/bin/chromium"

// TestChromium opens an uploaded site through the gateway in headless
// Chromium and checks what the page shows: the example site's script fetches
// data.json from the same site and writes it into the page, so the DOM holds
// its text only if the HTML, the script and the fetch were all served right.
func TestChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (CI installs the chromium package): %v", chromiumPath, err)
		}
		t.Skipf("%s is missing; install the chromium package to run this test", chromiumPath)
	}
	e := newEnv(t)
	_, c := e.app(t, "uploader", false)
	uploadDir(t, c, "../examples/site-uploader/site", "site")
	require.NoError(t, c.RegisterDNS(ctxT(t), service("example", "www", "site")))
	addr, _ := e.gateway(t)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	url := "http://www.example.localhost:" + port + "/"
	cmd := exec.CommandContext(ctx, chromiumPath,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(),
		"--host-resolver-rules=MAP *.localhost 127.0.0.1",
		// Let the page's fetch finish before the DOM is dumped.
		"--virtual-time-budget=10000",
		"--dump-dom", url)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", stderr.String())
	dom := string(out)
	assert.Contains(t, dom, "<h1>Example site</h1>", "the HTML was served")
	assert.Contains(t, dom, `id="x">loaded hello from the launcher<`, "the script ran and fetched data.json:\n%s", dom)
}
