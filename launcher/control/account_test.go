package control_test

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/control"
	"github.com/safe-launcher/launcher/wire"
)

// testAccount is an Account over the real daemon's Lock and Unlock with a
// passphrase compared in memory (the real keyring, with its key file and
// back-off, is cmd/launcher's, tested end to end there). It keeps the
// slices it was given, to check that the server wipes them.
type testAccount struct {
	srv  *launcher.Server
	mu   sync.Mutex
	pass []byte
	seen [][]byte
}

func (a *testAccount) Locked() bool { return a.srv.Locked() }

func (a *testAccount) Unlock(_ context.Context, p []byte) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, p)
	if !a.srv.Locked() {
		return false, nil
	}
	if subtle.ConstantTimeCompare(p, a.pass) != 1 {
		return false, &control.Error{Code: control.CodeWrongPassphrase, Message: "wrong passphrase"}
	}
	a.srv.Unlock()
	return true, nil
}

func (a *testAccount) Lock(context.Context) bool {
	if a.srv.Locked() {
		return false
	}
	a.srv.Lock()
	return true
}

func (a *testAccount) ChangePassphrase(_ context.Context, oldPass, newPass []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, oldPass, newPass)
	if subtle.ConstantTimeCompare(oldPass, a.pass) != 1 {
		return &control.Error{Code: control.CodeWrongPassphrase, Message: "wrong passphrase"}
	}
	a.pass = bytes.Clone(newPass)
	return nil
}

// TestLockUnlockRoutes: while locked only status, unlock, lock and passwd
// are served; a wrong passphrase is ErrWrongPassphrase; unlocking lets apps
// in; locking ends their sessions; the server wipes the passphrases it got
// and never logs them.
func TestLockUnlockRoutes(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	acct := &testAccount{pass: []byte("open sesame")}
	e := start(t, control.Config{Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Account: acct})
	acct.srv = e.srv
	ctx := ctxT(t)
	_, err := e.ctl.Add(ctx, control.AddRequest{Name: "app", Exec: e.exe})
	require.NoError(t, err)
	c := e.dial(t, "app")

	st, err := e.ctl.Lock(ctx)
	require.NoError(t, err)
	assert.Equal(t, control.LockState{Locked: true, Changed: true}, st)
	<-c.Done() // the session ended
	st, err = e.ctl.Lock(ctx)
	require.NoError(t, err)
	assert.Equal(t, control.LockState{Locked: true, Changed: false}, st)
	status, err := e.ctl.Status(ctx)
	require.NoError(t, err)
	assert.True(t, status.Locked)

	_, err = e.ctl.Apps(ctx)
	require.ErrorIs(t, err, control.ErrLocked)
	assert.Contains(t, err.Error(), "launcher unlock")
	_, err = e.ctl.Token(ctx, "app")
	require.ErrorIs(t, err, control.ErrLocked)
	_, err = e.ctl.Launch(ctx, "app", control.LaunchRequest{})
	require.ErrorIs(t, err, control.ErrLocked)
	_, err = e.ctl.Add(ctx, control.AddRequest{Name: "other", Exec: e.exe})
	require.ErrorIs(t, err, control.ErrLocked)

	_, err = e.ctl.Unlock(ctx, []byte("open sesame!"))
	require.ErrorIs(t, err, control.ErrWrongPassphrase)
	st, err = e.ctl.Unlock(ctx, []byte("open sesame"))
	require.NoError(t, err)
	assert.Equal(t, control.LockState{Locked: false, Changed: true}, st)
	st, err = e.ctl.Unlock(ctx, []byte("anything"))
	require.NoError(t, err)
	assert.Equal(t, control.LockState{Locked: false, Changed: false}, st)
	status, err = e.ctl.Status(ctx)
	require.NoError(t, err)
	assert.False(t, status.Locked)
	c = e.dial(t, "app")
	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "after-unlock"}))

	require.ErrorIs(t, e.ctl.ChangePassphrase(ctx, []byte("nope"), []byte("new one")), control.ErrWrongPassphrase)
	require.NoError(t, e.ctl.ChangePassphrase(ctx, []byte("open sesame"), []byte("new one")))
	assert.Equal(t, []byte("new one"), acct.pass)

	acct.mu.Lock()
	for _, p := range acct.seen {
		assert.Equal(t, make([]byte, len(p)), p, "the server wiped the passphrase it got")
	}
	acct.mu.Unlock()
	logMu.Lock()
	defer logMu.Unlock()
	for _, secret := range []string{"open sesame", "new one", "nope", base64.StdEncoding.EncodeToString([]byte("open sesame"))} {
		assert.NotContains(t, logs.String(), secret)
	}
}

// lockedWriter serialises writes to a buffer read by the test.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestLockRoutesWithoutAccount: without an Account the lock routes answer
// no_account, and the other routes follow the daemon's own lock state.
func TestLockRoutesWithoutAccount(t *testing.T) {
	e := start(t, control.Config{})
	ctx := ctxT(t)
	_, err := e.ctl.Unlock(ctx, []byte("x"))
	require.ErrorIs(t, err, control.ErrNoAccount)
	_, err = e.ctl.Lock(ctx)
	require.ErrorIs(t, err, control.ErrNoAccount)
	require.ErrorIs(t, e.ctl.ChangePassphrase(ctx, []byte("a"), []byte("b")), control.ErrNoAccount)
	e.srv.Lock()
	_, err = e.ctl.Apps(ctx)
	require.ErrorIs(t, err, control.ErrLocked)
	st, err := e.ctl.Status(ctx)
	require.NoError(t, err)
	assert.True(t, st.Locked)
	assert.False(t, st.Dev)
	e.srv.Unlock()
	_, err = e.ctl.Apps(ctx)
	require.NoError(t, err)
}

// TestSecretBodies: malformed and oversized bodies of the passphrase routes
// are refused with invalid, and the answer never quotes the body.
func TestSecretBodies(t *testing.T) {
	acct := &testAccount{pass: []byte("pw")}
	e := start(t, control.Config{Account: acct})
	acct.srv = e.srv
	ctx := ctxT(t)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", e.socket)
	}}}
	defer hc.CloseIdleConnections()
	for _, c := range []struct {
		path, body string
		status     int
		code       string
	}{
		{"/v0/unlock", `{"passphrase":"cHc="}`, 200, ""},
		{"/v0/unlock", `{"passphrase":"secret-not-base64"}`, 400, control.CodeInvalid},
		{"/v0/unlock", `{"passphrase":"cHc=","extra":"secret-extra"}`, 400, control.CodeInvalid},
		{"/v0/unlock", `secret-garbage`, 400, control.CodeInvalid},
		{"/v0/unlock", `{"passphrase":"` + strings.Repeat("QUFB", 6000) + `"}`, 400, control.CodeInvalid},
		{"/v0/passwd", `{"old":"secret-x"}`, 400, control.CodeInvalid},
		{"/v0/passwd", `{"old":"eA==","new":"eQ=="}`, 403, control.CodeWrongPassphrase},
	} {
		req, err := http.NewRequestWithContext(ctx, "POST", "http://x"+c.path, strings.NewReader(c.body))
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, c.status, resp.StatusCode, "%s %.40s: %s", c.path, c.body, b)
		if c.code != "" {
			assert.Contains(t, string(b), `"code":"`+c.code+`"`)
		}
		assert.NotContains(t, string(b), "secret")
		assert.NotContains(t, string(b), "QUFB")
	}
	// An app connecting while locked gets -134.
	_, err := e.ctl.Add(ctx, control.AddRequest{Name: "a", Exec: e.exe})
	require.NoError(t, err)
	v, err := e.ctl.Token(ctx, "a")
	require.NoError(t, err)
	_, err = e.ctl.Lock(ctx)
	require.NoError(t, err)
	_, err = client.Dial(ctx, v)
	require.ErrorIs(t, err, wire.ErrLocked)
}
