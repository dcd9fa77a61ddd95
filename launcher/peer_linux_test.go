package launcher_test

import (
	"encoding/json"
	"github.com/safe-launcher/launcher/internal/testbin"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/internal/peercred"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/wire"
)

// peerHelperEnv carries, to the re-executed test binary, the daemon's
// address and a launcher string to present.
const peerHelperEnv = "LAUNCHER_TEST_PEER_HELPER"

// TestPeerOtherUserRefused: with the peer check on (as serve runs it), a
// connection from a process of another user (uid 65534) presenting a valid
// launcher string is refused with -133 before its handshake, and the string
// is not used up: the app's own connection then gets its session. Needs
// root, to start the other user's process.
func TestPeerOtherUserRefused(t *testing.T) {
	owner, err := peercred.New()
	require.NoError(t, err)
	t.Cleanup(func() { owner.Close() })
	d, app := start(t, launcher.Config{PeerCheck: &launcher.PeerCheck{Owner: owner, UID: uint32(os.Getuid())}})
	probe(t, d, app.ID) // this user's connections are served
	if os.Getuid() != 0 {
		t.Skip("needs root, to start a client process as uid 65534 (nobody); the same-user case ran")
	}
	tok, err := d.Srv.MintLauncherString(app.ID)
	require.NoError(t, err)
	cmd := exec.Command(testbin.CopyForOthers(t, "launcher.test"), "-test.run=^TestPeerHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), peerHelperEnv+"="+d.Addr.String()+" "+tok)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "helper: %s", out)
	assert.Contains(t, string(out), "refused -133")
	assert.Positive(t, d.Srv.Stats().Rejected)
	ch := dialRaw(t, d).handshakeRaw(t, tok, handshake.Counter)
	ch.Close()
}

// TestPeerHelper is TestPeerOtherUserRefused's client, run as another user;
// it is not a test of its own.
func TestPeerHelper(t *testing.T) {
	v := os.Getenv(peerHelperEnv)
	if v == "" {
		t.Skip("helper process of TestPeerOtherUserRefused")
	}
	var addr, tok string
	for i := range v {
		if v[i] == ' ' {
			addr, tok = v[:i], v[i+1:]
			break
		}
	}
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	_, req, err := handshake.NewApp(randReader{}, tok, "v1.0", handshake.Counter)
	if err != nil {
		t.Fatal(err)
	}
	_ = framing.WriteFrame(nc, req) // may fail: the daemon may have closed already
	b, err := framing.NewReader(nc, 0).ReadFrame()
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	var resp wire.Response
	if err := json.Unmarshal(b, &resp); err != nil || resp.Error == nil {
		t.Fatalf("not an error answer: %q", b)
	}
	t.Logf("refused %d: %s", resp.Error.Code, resp.Error.Description)
	os.Stdout.WriteString("refused " + strconv.Itoa(int(resp.Error.Code)) + "\n")
}
