package main

import (
	"bufio"
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/internal/benchfloor"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/wire"
)

// benchDaemon starts a real daemon over a store laid out as the bench's,
// with the bench app registered; it returns the daemon and the app's id.
func benchDaemon(t *testing.T) (*launchertest.Daemon, string) {
	store, _ := launchertest.Store(t)
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store))
	app := d.AddAppWithRoot(t, store, "bench", false)
	require.Equal(t, benchAppRoot, app.RootDir)
	require.NoError(t, layoutStore(context.Background(), store))
	return d, app.ID
}

func TestMiniClientAgainstTheDaemon(t *testing.T) {
	d, appID := benchDaemon(t)
	ctx := context.Background()
	m, err := dialMini(ctx, d.Value(t, appID))
	require.NoError(t, err)
	defer m.close()
	// Several requests of each kind: the counter nonces advance in step
	// with the daemon's.
	for range 3 {
		require.NoError(t, m.getDir(ctx))
		require.NoError(t, m.createDelete(ctx, "mini"))
	}
	l, err := m.listing(ctx)
	require.NoError(t, err)

	// The listing is the one the SDK gets.
	want, err := d.Dial(t, appID).GetDir(ctx, wire.GetDirRequest{DirPath: getDirPath})
	require.NoError(t, err)
	require.Len(t, l.SubDirectories, len(want.SubDirectories))
	require.Len(t, l.Files, len(want.Files))
	for i, f := range want.Files {
		assert.Equal(t, f.Name, l.Files[i].Name)
		assert.Equal(t, []byte(f.UserMetadata), l.Files[i].UserMetadata)
		assert.Equal(t, f.ModificationTimeNsec, l.Files[i].ModificationTimeNsec)
	}
	assert.Equal(t, want.Info.Name, l.Info.Name)

	// A change the daemon refuses comes back as its code: the file is
	// there twice.
	body, id, err := m.roundTrip(benchfloor.EndpointCreateFile, benchfloor.CreateFileRequest{FilePath: getDirPath + "/file0.txt", UserMetadata: []byte{}})
	require.NoError(t, err)
	_, err = benchfloor.OpenAnswer[struct{}](m.app, body, id)
	var ce *benchfloor.CodeError
	require.ErrorAs(t, err, &ce)
	assert.Less(t, ce.Code, int64(0))
}

// The echo floor moves the bytes the daemon moves: the compute floor's
// sealed requests and answers, which size the echo's frames, are the size
// of the minimal client's frames to and from the real daemon.
func TestFloorFramesAreTheDaemons(t *testing.T) {
	d, appID := benchDaemon(t)
	ctx := context.Background()
	m, err := dialMini(ctx, d.Value(t, appID))
	require.NoError(t, err)
	defer m.close()
	l, err := m.listing(ctx)
	require.NoError(t, err)
	gdReq, gdAns := len(m.out)-8, len(m.in)

	var keys benchfloor.Keys
	f := benchfloor.NewSmall(keys, l)
	require.NoError(t, f.GetDir(getDirPath))
	require.NoError(t, f.CreateDelete(cdDir+"/lat"))
	sz := f.Sizes()
	assert.Equal(t, gdReq, sz.GetDirRequest)
	assert.Equal(t, gdAns, sz.GetDirAnswer)

	require.NoError(t, m.createDelete(ctx, "lat"))
	assert.Equal(t, sz.DeleteRequest, len(m.out)-8)
	assert.Equal(t, sz.OKAnswer, len(m.in))
}

func TestMiniClientRefusals(t *testing.T) {
	d, appID := benchDaemon(t)
	ctx := context.Background()
	v := d.Value(t, appID)
	m, err := dialMini(ctx, v)
	require.NoError(t, err)
	m.close()
	// A launcher string is single-use: the daemon answers with an error.
	_, err = dialMini(ctx, v)
	assert.ErrorIs(t, err, errMiniRefused)

	for _, bad := range []string{"", "tcp:127.0.0.1", "udp:127.0.0.1:1:s", "tcp:127.0.0.1:1:"} {
		_, err := dialMini(ctx, bad)
		assert.ErrorIs(t, err, errMiniValue, bad)
	}

	// A request under an ended context fails rather than waits.
	m, err = dialMini(ctx, d.Value(t, appID))
	require.NoError(t, err)
	defer m.close()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.Error(t, m.getDir(cctx))
}

// A header claiming more than the minimal client reads is refused before
// anything is allocated.
func TestMiniClientRefusesLargeFrames(t *testing.T) {
	srv, cli := net.Pipe()
	defer srv.Close()
	defer cli.Close()
	m := &miniConn{nc: cli, br: bufio.NewReader(cli)}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		var h [8]byte
		h[3] = 1 // 16 MiB
		_, _ = srv.Write(h[:])
	}()
	defer func() { <-wrote }()
	_, err := m.read()
	assert.ErrorIs(t, err, errMiniTooLarge)
	assert.Nil(t, m.in)
}
