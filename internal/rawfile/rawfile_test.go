package rawfile_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/safe-launcher/launcher/internal/rawfile"
	"github.com/stretchr/testify/require"
)

// dirs returns the directories the tests write in: the test's temporary
// directory and, where there is one, a directory on /dev/shm (tmpfs, a
// filesystem whose writes are raw), so that the raw path is exercised even
// where the temporary directory is on a filesystem whose writes are not.
func dirs(t *testing.T) []string {
	t.Helper()
	out := []string{t.TempDir()}
	if d, err := os.MkdirTemp("/dev/shm", "rawfile-test-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		out = append(out, d)
	}
	return out
}

// rawDir returns a directory whose files get raw writes, or skips the test.
func rawDir(t *testing.T) string {
	t.Helper()
	if !rawfile.RawBuild || runtime.GOMAXPROCS(0) < 2 {
		t.Skip("this build or GOMAXPROCS makes no raw writes")
	}
	for _, d := range dirs(t) {
		f, err := os.Create(filepath.Join(d, "probe"))
		require.NoError(t, err)
		raw := rawfile.New(f).Raw()
		f.Close()
		if raw {
			return d
		}
	}
	t.Skip("no directory here is on a filesystem whose writes are raw")
	return ""
}

// rawWriter returns a new file in a directory whose files get raw writes
// (or skips the test), and a Writer for it under which no write counts as
// slow, so that the tests' counts hold on a loaded machine too.
func rawWriter(t *testing.T) (*os.File, *rawfile.Writer) {
	t.Helper()
	f, err := os.Create(filepath.Join(rawDir(t), "f"))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f, rawfile.NewWithClock(f, time.Hour, time.Hour, time.Now)
}

func fsMagic(t *testing.T, dir string) uint32 {
	t.Helper()
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &st))
	return uint32(st.Type)
}

func TestLocalFS(t *testing.T) {
	local := map[uint32]bool{
		0xEF53: true, 0x01021994: true, // ext2/3/4, tmpfs
		0x58465342: false, 0x9123683E: false, 0xF2F52010: false, // XFS, Btrfs, F2FS: not measured
		0x6969: false, 0x65735546: false, 0x794c7630: false, 0x2fc12fc1: false, 0xFF534D42: false, 0: false,
	}
	for magic, want := range local {
		require.Equal(t, want && rawfile.RawBuild, rawfile.LocalFS(magic), "magic %#x", magic)
	}
}

// TestRawFollowsTheRules checks New's decision against the filesystem each
// directory is on, that GOMAXPROCS 1 turns raw writes off while it lasts,
// and that a file opened with O_APPEND gets none (and os.File's refusal).
func TestRawFollowsTheRules(t *testing.T) {
	for _, d := range dirs(t) {
		f, err := os.Create(filepath.Join(d, "f"))
		require.NoError(t, err)
		w := rawfile.New(f)
		want := rawfile.LocalFS(fsMagic(t, d)) && runtime.GOMAXPROCS(0) >= 2
		require.Equal(t, want, w.Raw(), "%s (filesystem %#x)", d, fsMagic(t, d))

		old := runtime.GOMAXPROCS(1)
		raw := w.Raw()
		runtime.GOMAXPROCS(old)
		require.False(t, raw, "raw writes with GOMAXPROCS 1")
		require.Equal(t, want, w.Raw(), "raw writes after GOMAXPROCS is back")
		f.Close()

		a, err := os.OpenFile(filepath.Join(d, "a"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		require.NoError(t, err)
		wa := rawfile.New(a)
		require.False(t, wa.Raw(), "raw writes to a file opened with O_APPEND")
		_, werr := wa.WriteAt([]byte("x"), 0)
		_, oerr := a.WriteAt([]byte("x"), 0)
		require.Error(t, werr)
		require.Equal(t, oerr.Error(), werr.Error())
		a.Close()
	}
}

// TestWriteAtMatchesOS writes the same sequence through a Writer and
// through os.File, every size class around RawMax, overwrites and a hole
// past the end, and compares the files.
func TestWriteAtMatchesOS(t *testing.T) {
	sizes := []int{1, 7, 100, 4095, 4096, 4097, rawfile.RawMax - 1, rawfile.RawMax, rawfile.RawMax + 1, 1 << 20}
	for _, d := range dirs(t) {
		got, err := os.Create(filepath.Join(d, "got"))
		require.NoError(t, err)
		want, err := os.Create(filepath.Join(d, "want"))
		require.NoError(t, err)
		// No write counts as slow here, so that the counts below hold on a
		// loaded machine too.
		w := rawfile.NewWithClock(got, time.Hour, time.Hour, time.Now)
		raw := w.Raw()

		var off int64
		small := 0
		write := func(b []byte, at int64) {
			n, err := w.WriteAt(b, at)
			require.NoError(t, err)
			require.Equal(t, len(b), n)
			_, err = want.WriteAt(b, at)
			require.NoError(t, err)
			if len(b) > 0 && len(b) <= rawfile.RawMax {
				small++
			}
		}
		for i, size := range sizes {
			b := bytes.Repeat([]byte{byte('a' + i)}, size)
			write(b, off)
			off += int64(size)
		}
		write([]byte("overwritten in the middle"), 5000)
		write([]byte("past a hole"), off+12345)
		write(nil, 3)

		gb, err := os.ReadFile(got.Name())
		require.NoError(t, err)
		wb, err := os.ReadFile(want.Name())
		require.NoError(t, err)
		require.True(t, bytes.Equal(wb, gb), "%s: files differ (%d and %d bytes)", d, len(wb), len(gb))

		st := w.Stats()
		if raw {
			require.Equal(t, uint64(small), st.Raw, "%s: raw writes", d)
			require.Equal(t, uint64(len(sizes)+3-small), st.OS, "%s: writes through os.File", d)
		} else {
			require.Zero(t, st.Raw, "%s: raw writes where none are allowed", d)
		}
		got.Close()
		want.Close()
	}
}

// TestErrorsMatchOS checks that a failed raw write gives the error
// os.File.WriteAt gives.
func TestErrorsMatchOS(t *testing.T) {
	d := rawDir(t)
	name := filepath.Join(d, "ro")
	require.NoError(t, os.WriteFile(name, []byte("x"), 0o600))

	f, err := os.Open(name) // read-only: writes fail with EBADF
	require.NoError(t, err)
	defer f.Close()
	w := rawfile.New(f)
	_, rawErr := w.WriteAt([]byte("data"), 0)
	require.Equal(t, uint64(1), w.Stats().Raw, "the write was not raw")
	_, osErr := f.WriteAt([]byte("data"), 0)

	require.Error(t, rawErr)
	require.Equal(t, osErr.Error(), rawErr.Error())
	require.ErrorIs(t, rawErr, syscall.EBADF)
	var pe *os.PathError
	require.ErrorAs(t, rawErr, &pe)
	require.Equal(t, "write", pe.Op)

	g, err := os.Create(filepath.Join(d, "closed"))
	require.NoError(t, err)
	w = rawfile.New(g)
	require.NoError(t, g.Close())
	_, err = w.WriteAt([]byte("data"), 0)
	require.ErrorIs(t, err, os.ErrClosed)
}

// TestSlowWriteCoolsDown checks that a raw write slower than the threshold
// sends the writes that follow through os.File until the cooldown ends.
func TestSlowWriteCoolsDown(t *testing.T) {
	d := rawDir(t)
	f, err := os.Create(filepath.Join(d, "f"))
	require.NoError(t, err)
	defer f.Close()

	clock := time.Unix(1000, 0)
	step := time.Duration(0) // how far the clock moves at each reading
	now := func() time.Time { clock = clock.Add(step); return clock }
	w := rawfile.NewWithClock(f, time.Millisecond, time.Minute, now)

	write := func() {
		t.Helper()
		_, err := w.WriteAt([]byte("record"), 0)
		require.NoError(t, err)
	}
	write()
	require.Equal(t, rawfile.Stats{Raw: 1}, w.Stats())

	step = 2 * time.Millisecond // the next raw write "takes" 2 ms
	write()
	step = 0
	require.Equal(t, rawfile.Stats{Raw: 2, Slow: 1}, w.Stats())
	require.False(t, w.Raw(), "raw writes right after a slow one")

	write()
	require.Equal(t, rawfile.Stats{Raw: 2, OS: 1, Slow: 1}, w.Stats())

	clock = clock.Add(59 * time.Second)
	require.False(t, w.Raw(), "raw writes before the cooldown ended")
	clock = clock.Add(2 * time.Second)
	require.True(t, w.Raw(), "no raw writes after the cooldown")
	write()
	require.Equal(t, rawfile.Stats{Raw: 3, OS: 1, Slow: 1}, w.Stats())
}

// TestSyncHoldsRawWrites: while a Sync is in flight, writes go through
// os.File; Sync syncs and lets raw writes resume.
func TestSyncHoldsRawWrites(t *testing.T) {
	f, w := rawWriter(t)

	release := rawfile.HoldSync(w)
	require.False(t, w.Raw(), "raw writes during a sync")
	_, err := w.WriteAt([]byte("during"), 0)
	require.NoError(t, err)
	require.Equal(t, rawfile.Stats{OS: 1}, w.Stats())
	release()

	require.NoError(t, w.Sync())
	require.True(t, w.Raw(), "no raw writes after a sync")
	_, err = w.WriteAt([]byte("after!"), 6)
	require.NoError(t, err)
	require.Equal(t, rawfile.Stats{Raw: 1, OS: 1}, w.Stats())
	b, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.Equal(t, "duringafter!", string(b))
}

// TestRawFallsBackToOS: a raw write that stops early (EAGAIN, or a call
// that writes nothing) leaves the rest to os.File, and the file gets all
// of it, once.
func TestRawFallsBackToOS(t *testing.T) {
	f, w := rawWriter(t)
	msg := []byte("0123456789abcdefghij")

	// The raw call writes the first 7 bytes, then reports it could not go on.
	rawfile.SetRawWrite(w, func(_ func() (int, bool, error), b []byte, off int64) (int, bool, error) {
		n, err := f.WriteAt(b[:7], off)
		return n, false, err
	})
	n, err := w.WriteAt(msg, 100)
	require.NoError(t, err)
	require.Equal(t, len(msg), n)
	require.Equal(t, rawfile.Stats{OS: 1}, w.Stats())

	// The raw call could not be made at all.
	rawfile.SetRawWrite(w, func(func() (int, bool, error), []byte, int64) (int, bool, error) { return 0, false, nil })
	n, err = w.WriteAt(msg, 0)
	require.NoError(t, err)
	require.Equal(t, len(msg), n)

	// The real raw call again.
	rawfile.SetRawWrite(w, func(real func() (int, bool, error), _ []byte, _ int64) (int, bool, error) { return real() })
	n, err = w.WriteAt([]byte("XY"), 5)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, rawfile.Stats{Raw: 1, OS: 2}, w.Stats())

	b, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	want := make([]byte, 100+len(msg))
	copy(want, msg)
	copy(want[5:], "XY")
	copy(want[100:], msg)
	require.Equal(t, want, b)
}
