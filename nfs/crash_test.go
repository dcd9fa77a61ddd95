package nfs_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

const crashDirEnv = "NFS_CRASH_CHILD_DIR"

// TestCrashChild is the daemon half of TestCrashDaemon: it runs only when
// re-executed with NFS_CRASH_CHILD_DIR set, serves nfs on that store, prints a
// launcher value and runs until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child half of TestCrashDaemon")
	}
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), vfs.Options{})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(3)
	}
	// The store opens locked: fixed (zero) test keys, the same at every open.
	if err := store.Unlock(&vfs.Keys{}); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(3)
	}
	for _, r := range []vfs.Root{vfs.SharedRoot(), vfs.AppRoot("crash-Root-Dir")} {
		if !store.RootExists(r) {
			if _, err := store.CreateRoot(r); err != nil {
				fmt.Println("ERROR", err)
				os.Exit(3)
			}
		}
	}
	apps := launcher.NewMemApps()
	apps.Put(launcher.App{ID: "crash", Name: "crash", RootDir: "crash-Root-Dir"})
	srv, err := launcher.New(launcher.Config{}, apps, nfs.New(store))
	if err != nil {
		os.Exit(3)
	}
	ln, err := launcher.Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		os.Exit(3)
	}
	tok, _ := srv.MintLauncherString("crash")
	fmt.Println("VALUE", launcher.LauncherValue(ln.Addr(), tok))
	_ = srv.Serve(context.Background(), ln)
	os.Exit(0)
}

// content is the deterministic content of write n: its length and bytes
// depend on n, so a torn or mixed file is detected.
func content(n int) []byte {
	return bytes.Repeat([]byte{byte(n)}, 100+(n*977)%20000)
}

// TestCrashDaemon kills the real daemon with SIGKILL at random moments while
// several sessions of acknowledged writes are in flight, many times; after each
// kill the store must reopen cleanly with every acknowledged write intact and
// no file whose size disagrees with its content.
func TestCrashDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop")
	}
	dir := t.TempDir()
	rng := mrand.New(mrand.NewPCG(1, 2))
	acked := map[string]int{} // file -> the write number acknowledged last
	next := 0
	const rounds = 12
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		line, err := bufio.NewReader(out).ReadString('\n')
		require.NoError(t, err, "child did not start")
		value, ok := strings.CutPrefix(strings.TrimSpace(line), "VALUE ")
		require.True(t, ok, line)

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, err := client.Dial(ctx, value)
		require.NoError(t, err)

		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			file := fmt.Sprintf("w%d", w)
			wg.Go(func() {
				for {
					mu.Lock()
					n := next
					next++
					_, exists := acked[file]
					mu.Unlock()
					if !exists {
						err := c.CreateFile(ctx, wire.CreateFileRequest{FilePath: file, UserMetadata: wire.Bytes{}})
						if err != nil && !isExists(err) {
							return
						}
					}
					err := c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: file, NewValues: wire.FileNewValues{
						Content: &wire.FileContent{Bytes: content(n)}, UserMetadata: bp([]byte(fmt.Sprint(n)))}})
					if err != nil {
						return // the daemon died
					}
					mu.Lock()
					acked[file] = n
					mu.Unlock()
				}
			})
		}
		// The kill comes at a random moment into the writes: this sleep is
		// the test's randomness, not a wait for an event.
		time.Sleep(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		wg.Wait()
		c.Close()
		cancel()

		// Reopen the store as the next daemon would, and check it.
		store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), vfs.Options{})
		require.NoError(t, err, "round %d: store must reopen after kill -9", round)
		require.NoError(t, store.Unlock(&vfs.Keys{}))
		for file, n := range acked {
			data, info, err := store.ReadFile(context.Background(), vfs.AppRoot("crash-Root-Dir"), vfs.Path{file}, 0, -1)
			require.NoError(t, err, "round %d: acknowledged file %s lost", round, file)
			require.EqualValues(t, len(data), info.Size, "size matches content")
			// The last acknowledged write is there, or a later one that was in
			// flight at the kill (its answer lost); never a torn mix.
			got := int(data[0])
			m, err := fmt.Sscan(string(info.UserMetadata), &got)
			require.NoError(t, err)
			require.Equal(t, 1, m)
			require.GreaterOrEqual(t, got, n, "round %d: %s went back in time", round, file)
			require.Equal(t, content(got), data, "round %d: %s content does not match its metadata", round, file)
		}
		require.NoError(t, store.Close())
	}
	require.NotEmpty(t, acked)
	t.Logf("%d rounds, %d writes issued, %d files checked", rounds, next, len(acked))
}

func isExists(err error) bool { return errors.Is(err, wire.ErrAlreadyExists) }
