package nfs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

type env struct {
	d     *launchertest.Daemon
	store *vfs.Store
	dir   string
	clock *testClock
}

// testClock is the store's clock in these tests: it stands still until the
// test moves it, so the times a change stamps are the test's to choose.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2016, 1, 2, 3, 4, 5, 123456789, time.UTC).UnixNano())
	return c
}

func (c *testClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// tick moves the clock on by d and returns the new time.
func (c *testClock) tick(d time.Duration) time.Time {
	return time.Unix(0, c.ns.Add(int64(d))).UTC()
}

// newEnv starts the real daemon with the nfs module on a real on-disk store
// (with SAFEDrive) whose clock is the env's.
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvCfg(t, launcher.Config{})
}

// newEnvCfg is newEnv with a daemon configuration.
func newEnvCfg(t testing.TB, cfg launcher.Config) *env {
	t.Helper()
	dir := t.TempDir()
	clock := newTestClock()
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), vfs.Options{Clock: clock.Now})
	require.NoError(t, err)
	require.NoError(t, store.Unlock(&vfs.Keys{})) // the store opens locked; fixed (zero) test keys
	t.Cleanup(func() { store.Close() })
	_, err = store.CreateRoot(vfs.SharedRoot())
	require.NoError(t, err)
	d := launchertest.Start(t, cfg, nfs.New(store))
	return &env{d: d, store: store, dir: dir, clock: clock}
}

// app registers an app with its root and returns a connected client.
func (e *env) app(t testing.TB, name string, shared bool) (launcher.App, *client.Client) {
	t.Helper()
	a := e.d.AddAppWithRoot(t, e.store, name, shared)
	return a, e.d.Dial(t, a.ID)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mkdir(path string) wire.CreateDirRequest {
	return wire.CreateDirRequest{DirPath: path, IsPrivate: true, UserMetadata: wire.Bytes{}}
}

func strp(s string) *string { return &s }
func i64p(n int64) *int64   { return &n }
func bp(b []byte) *wire.Bytes {
	w := wire.Bytes(b)
	return &w
}

func TestDirectories(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "alpha", false)
	ctx := ctxT(t)

	meta := []byte{20, 30, 255, 254, 0, 119}
	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "/docs", IsPrivate: true, IsVersioned: true, UserMetadata: meta}))
	require.NoError(t, c.CreateDir(ctx, mkdir("docs/b")))
	require.NoError(t, c.CreateDir(ctx, mkdir("docs/a")))
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "docs/z.txt", UserMetadata: []byte("m")}))

	l, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "/docs"})
	require.NoError(t, err)
	assert.Equal(t, "docs", l.Info.Name)
	assert.True(t, l.Info.IsPrivate)
	assert.True(t, l.Info.IsVersioned)
	assert.Equal(t, meta, []byte(l.Info.UserMetadata))
	require.Len(t, l.SubDirectories, 2)
	assert.Equal(t, "a", l.SubDirectories[0].Name, "sorted by name")
	assert.Equal(t, "b", l.SubDirectories[1].Name)
	require.Len(t, l.Files, 1)
	assert.Equal(t, "z.txt", l.Files[0].Name)
	assert.Equal(t, []byte("m"), []byte(l.Files[0].UserMetadata))
	assert.NotZero(t, l.Info.CreationTimeSec)

	// Root listing (negative and zero timeouts mean none).
	root, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "/", TimeoutMs: -1})
	require.NoError(t, err)
	require.Len(t, root.SubDirectories, 1)
	_, err = c.GetDir(ctx, wire.GetDirRequest{DirPath: "", TimeoutMs: 5000})
	require.NoError(t, err)

	// Rename keeps metadata; the parent's modification time moves to the
	// store's clock.
	before := l.Info.Modified()
	renamed := e.clock.tick(time.Second)
	require.NoError(t, c.ModifyDir(ctx, wire.ModifyDirRequest{DirPath: "docs/a", NewValues: wire.DirNewValues{Name: strp("a2")}}))
	l2, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "docs"})
	require.NoError(t, err)
	assert.Equal(t, "a2", l2.SubDirectories[0].Name)
	assert.True(t, l2.Info.Modified().After(before), "parent modification time changes when its entries change")
	assert.True(t, l2.Info.Modified().Equal(renamed), "parent modified at %v, the rename at %v", l2.Info.Modified(), renamed)
	changed := e.clock.tick(time.Second)
	require.NoError(t, c.ModifyDir(ctx, wire.ModifyDirRequest{DirPath: "docs", NewValues: wire.DirNewValues{UserMetadata: bp([]byte{1})}}))
	l3, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "docs"})
	require.NoError(t, err)
	assert.Equal(t, []byte{1}, []byte(l3.Info.UserMetadata))
	assert.True(t, l3.Info.Modified().Equal(changed), "modified at %v, the metadata change at %v", l3.Info.Modified(), changed)
	assert.Equal(t, l.Info.Created(), l3.Info.Created())

	// delete-dir removes the whole tree.
	require.NoError(t, c.DeleteDir(ctx, false, "docs"))
	_, err = c.GetDir(ctx, wire.GetDirRequest{DirPath: "docs/b"})
	require.ErrorIs(t, err, wire.ErrPathNotFound)
}

func TestFiles(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "files", false)
	ctx := ctxT(t)
	name := "données-日本語-😀.bin"
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: name, UserMetadata: wire.Bytes{}}))
	bin := make([]byte, 4096)
	_, _ = rand.Read(bin)
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: name, NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: bin}}}))

	got, err := c.GetFile(ctx, wire.GetFileRequest{FilePath: name, Length: -1})
	require.NoError(t, err)
	assert.Equal(t, bin, []byte(got.Content))
	assert.Nil(t, got.Metadata, "metadata absent unless asked")

	got, err = c.GetFile(ctx, wire.GetFileRequest{FilePath: name, Offset: 100, Length: 10, IncludeMetadata: true})
	require.NoError(t, err)
	assert.Equal(t, bin[100:110], []byte(got.Content))
	require.NotNil(t, got.Metadata)
	assert.Equal(t, name, got.Metadata.Name)
	assert.EqualValues(t, 4096, got.Metadata.Size)

	// offset + length >= size reads to the end; offset == size is empty; offset > size fails.
	got, err = c.GetFile(ctx, wire.GetFileRequest{FilePath: name, Offset: 4000, Length: 1000})
	require.NoError(t, err)
	assert.Equal(t, bin[4000:], []byte(got.Content))
	got, err = c.GetFile(ctx, wire.GetFileRequest{FilePath: name, Offset: 4096, Length: -1})
	require.NoError(t, err)
	assert.Empty(t, got.Content)
	_, err = c.GetFile(ctx, wire.GetFileRequest{FilePath: name, Offset: 4097, Length: -1})
	require.ErrorIs(t, err, wire.ErrOutOfRange)

	// Offset writes: inside, at the end (extends), past the end (error).
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: name, NewValues: wire.FileNewValues{Content: &wire.FileContent{Offset: i64p(10), Bytes: []byte("HELLO")}}}))
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: name, NewValues: wire.FileNewValues{Content: &wire.FileContent{Offset: i64p(4096), Bytes: []byte("TAIL")}}}))
	err = c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: name, NewValues: wire.FileNewValues{Content: &wire.FileContent{Offset: i64p(5000), Bytes: []byte("x")}}})
	require.ErrorIs(t, err, wire.ErrOutOfRange)
	want := append(append(append([]byte{}, bin[:10]...), "HELLO"...), bin[15:]...)
	want = append(want, "TAIL"...)
	got, err = c.GetFile(ctx, wire.GetFileRequest{FilePath: name, Length: -1, IncludeMetadata: true})
	require.NoError(t, err)
	assert.Equal(t, want, []byte(got.Content))
	assert.EqualValues(t, len(want), got.Metadata.Size)

	// Rename and metadata in one request; the modification time moves to
	// the store's clock.
	before := got.Metadata.Modified()
	modified := e.clock.tick(time.Second)
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: name, NewValues: wire.FileNewValues{Name: strp("renamed"), UserMetadata: bp([]byte("meta"))}}))
	got, err = c.GetFile(ctx, wire.GetFileRequest{FilePath: "renamed", Length: -1, IncludeMetadata: true})
	require.NoError(t, err)
	assert.Equal(t, want, []byte(got.Content))
	assert.Equal(t, []byte("meta"), []byte(got.Metadata.UserMetadata))
	assert.True(t, got.Metadata.Modified().After(before))
	assert.True(t, got.Metadata.Modified().Equal(modified), "modified at %v, the change at %v", got.Metadata.Modified(), modified)

	// Whole replace without offset.
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "renamed", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: []byte("short")}}}))
	got, err = c.GetFile(ctx, wire.GetFileRequest{FilePath: "renamed", Length: -1})
	require.NoError(t, err)
	assert.Equal(t, "short", string(got.Content))

	require.NoError(t, c.DeleteFile(ctx, false, "renamed"))
	_, err = c.GetFile(ctx, wire.GetFileRequest{FilePath: "renamed", Length: -1})
	require.ErrorIs(t, err, wire.ErrPathNotFound)
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "errs", false)
	ctx := ctxT(t)
	require.NoError(t, c.CreateDir(ctx, mkdir("d")))
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "d/f", UserMetadata: wire.Bytes{}}))

	cases := []struct {
		name string
		call func() error
		want *wire.Error
	}{
		{"dir exists", func() error { return c.CreateDir(ctx, mkdir("d")) }, wire.ErrAlreadyExists},
		{"file name taken by dir", func() error {
			return c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "d", UserMetadata: wire.Bytes{}})
		}, wire.ErrAlreadyExists},
		{"dir name taken by file", func() error { return c.CreateDir(ctx, mkdir("d/f")) }, wire.ErrAlreadyExists},
		{"no implicit parents", func() error { return c.CreateDir(ctx, mkdir("x/y")) }, wire.ErrPathNotFound},
		{"file as parent", func() error { return c.CreateDir(ctx, mkdir("d/f/g")) }, wire.ErrNotADirectory},
		{"get-dir of a file", func() error { _, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "d/f"}); return err }, wire.ErrNotADirectory},
		{"get-file of a dir", func() error {
			_, err := c.GetFile(ctx, wire.GetFileRequest{FilePath: "d", Length: -1})
			return err
		}, wire.ErrNotAFile},
		{"delete missing dir", func() error { return c.DeleteDir(ctx, false, "nope") }, wire.ErrPathNotFound},
		{"delete missing file", func() error { return c.DeleteFile(ctx, false, "d/nope") }, wire.ErrPathNotFound},
		{"delete root", func() error { return c.DeleteDir(ctx, false, "/") }, wire.ErrRootOperation},
		{"create root", func() error { return c.CreateDir(ctx, mkdir("//")) }, wire.ErrRootOperation},
		{"rename root", func() error {
			return c.ModifyDir(ctx, wire.ModifyDirRequest{DirPath: "/", NewValues: wire.DirNewValues{Name: strp("x")}})
		}, wire.ErrRootOperation},
		{"dotdot", func() error { return c.CreateDir(ctx, mkdir("../escape")) }, wire.ErrInvalidPath},
		{"dot", func() error { _, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "d/."}); return err }, wire.ErrInvalidPath},
		{"nul", func() error { return c.CreateDir(ctx, mkdir("a\x00b")) }, wire.ErrInvalidPath},
		{"long name", func() error { return c.CreateDir(ctx, mkdir(string(bytes.Repeat([]byte("n"), 256)))) }, wire.ErrInvalidPath},
		{"rename to invalid", func() error {
			return c.ModifyDir(ctx, wire.ModifyDirRequest{DirPath: "d", NewValues: wire.DirNewValues{Name: strp("..")}})
		}, wire.ErrInvalidPath},
		{"rename onto existing", func() error {
			require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "d/g", UserMetadata: wire.Bytes{}}))
			return c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "d/g", NewValues: wire.FileNewValues{Name: strp("f")}})
		}, wire.ErrAlreadyExists},
		{"modify-dir nothing", func() error { return c.ModifyDir(ctx, wire.ModifyDirRequest{DirPath: "d"}) }, wire.ErrNoNewValues},
		{"modify-file nothing", func() error { return c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "d/f"}) }, wire.ErrNoNewValues},
		{"negative offset", func() error {
			_, err := c.GetFile(ctx, wire.GetFileRequest{FilePath: "d/f", Offset: -1, Length: -1})
			return err
		}, wire.ErrOutOfRange},
		{"shared denied", func() error {
			return c.CreateDir(ctx, wire.CreateDirRequest{IsPathShared: true, DirPath: "x", UserMetadata: wire.Bytes{}})
		}, wire.ErrSharedDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.ErrorIs(t, err, tc.want)
			var we *wire.Error
			require.True(t, errors.As(err, &we))
			assert.NotEmpty(t, we.Description)
			assert.NotContains(t, we.Description, e.dir, "errors never reveal the store's host path")
			assertNoInternalName(t, we.Description)
		})
	}
}

func TestStrictDecoding(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "strict", false)
	ctx := ctxT(t)
	cases := []struct {
		msg   string
		want  *wire.Error
		field string
	}{
		{`{"endpoint":"safe-api/v1.0/nfs/create-dir","data":{"is_path_shared":false,"is_private":true,"is_versioned":false,"user_metadata":""}}`, wire.ErrMissingField, "data.dir_path"},
		{`{"endpoint":"safe-api/v1.0/nfs/create-dir","data":{"is_path_shared":"no","dir_path":"a","is_private":true,"is_versioned":false,"user_metadata":""}}`, wire.ErrWrongType, "data.is_path_shared"},
		{`{"endpoint":"safe-api/v1.0/nfs/create-dir","data":{"is_path_shared":false,"dir_path":"a","is_private":true,"is_versioned":false,"user_metadata":"!!notbase64"}}`, wire.ErrBadBase64, "data.user_metadata"},
		{`{"endpoint":"safe-api/v1.0/nfs/get-file","data":{"is_path_shared":false,"file_path":"a","offset":1.5,"length":-1,"include_metadata":false}}`, wire.ErrWrongType, "data.offset"},
		{`{"endpoint":"safe-api/v1.0/nfs/modify-file","data":{"is_path_shared":false,"file_path":"a","new_values":{"content":{"offset":0}}}}`, wire.ErrMissingField, "data.new_values.content.bytes"},
		{`{"endpoint":"safe-api/v1.0/nfs/modify-dir","data":{"is_path_shared":false,"dir_path":"a","new_values":[]}}`, wire.ErrWrongType, "data.new_values"},
		{`{"endpoint":"safe-api/v1.0/nfs/get-dir"}`, wire.ErrMissingField, "data"},
	}
	for _, tc := range cases {
		_, err := c.CallRaw(ctx, []byte(tc.msg))
		require.ErrorIs(t, err, tc.want, tc.msg)
		assert.Contains(t, err.Error(), tc.field, tc.msg)
	}
}

func TestSharedDriveAndIsolation(t *testing.T) {
	e := newEnv(t)
	a, ca := e.app(t, "a", false)
	_, cb := e.app(t, "b", true)
	ctx := ctxT(t)

	// b writes to SAFEDrive; a is denied until granted, live.
	require.NoError(t, cb.CreateDir(ctx, wire.CreateDirRequest{IsPathShared: true, DirPath: "shared-dir", UserMetadata: wire.Bytes{}}))
	_, err := ca.GetDir(ctx, wire.GetDirRequest{IsPathShared: true, DirPath: "shared-dir"})
	require.ErrorIs(t, err, wire.ErrSharedDenied)
	a.SharedDrive = true
	e.d.Apps.Put(a)
	l, err := ca.GetDir(ctx, wire.GetDirRequest{IsPathShared: true, DirPath: "/"})
	require.NoError(t, err)
	require.Len(t, l.SubDirectories, 1)
	assert.Equal(t, "shared-dir", l.SubDirectories[0].Name)
	a.SharedDrive = false
	e.d.Apps.Put(a)
	_, err = ca.GetDir(ctx, wire.GetDirRequest{IsPathShared: true, DirPath: "/"})
	require.ErrorIs(t, err, wire.ErrSharedDenied)

	// Private roots are separate: same names, no crossing.
	require.NoError(t, ca.CreateDir(ctx, mkdir("mine")))
	_, err = cb.GetDir(ctx, wire.GetDirRequest{DirPath: "mine"})
	require.ErrorIs(t, err, wire.ErrPathNotFound)
	for _, p := range []string{"../a-Root-Dir/mine", "/../../a-Root-Dir", "..%2fmine"} {
		_, err = cb.GetDir(ctx, wire.GetDirRequest{DirPath: p})
		require.Error(t, err, p)
	}
	lb, err := cb.GetDir(ctx, wire.GetDirRequest{DirPath: "/"})
	require.NoError(t, err)
	assert.Empty(t, lb.SubDirectories)
	assert.Empty(t, lb.Files)
}

func Test64MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB transfer")
	}
	e := newEnv(t)
	_, c := e.app(t, "big", false)
	// More than ctxT's minute: under -race on a busy machine the three
	// 64 MiB requests take about that.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	data := make([]byte, 64<<20)
	_, _ = rand.Read(data)
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "big.bin", UserMetadata: wire.Bytes{}}))
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "big.bin", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: data}}}))
	got, err := c.GetFile(ctx, wire.GetFileRequest{FilePath: "big.bin", Length: -1, IncludeMetadata: true})
	require.NoError(t, err)
	require.EqualValues(t, len(data), got.Metadata.Size)
	require.True(t, bytes.Equal(data, got.Content), "64 MiB read back byte for byte")
}

// TestConcurrentSessions runs many sessions reading and writing the same files;
// readers must only ever see whole versions.
func TestConcurrentSessions(t *testing.T) {
	e := newEnv(t)
	a, c0 := e.app(t, "conc", false)
	ctx := ctxT(t)
	const files = 3
	for i := 0; i < files; i++ {
		require.NoError(t, c0.CreateFile(ctx, wire.CreateFileRequest{FilePath: fmt.Sprintf("f%d", i), UserMetadata: wire.Bytes{}}))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for s := 0; s < 6; s++ {
		c := e.d.Dial(t, a.ID)
		wg.Go(func() {
			for i := 0; i < 25; i++ {
				f := fmt.Sprintf("f%d", i%files)
				if s%2 == 0 {
					v := byte(s*31 + i)
					content := bytes.Repeat([]byte{v}, 1000+int(v))
					if err := c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: f, NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: content}}}); err != nil {
						errs <- err
						return
					}
					continue
				}
				got, err := c.GetFile(ctx, wire.GetFileRequest{FilePath: f, Length: -1})
				if err != nil {
					errs <- err
					return
				}
				if len(got.Content) == 0 {
					continue
				}
				v := got.Content[0]
				if !bytes.Equal(got.Content, bytes.Repeat([]byte{v}, 1000+int(v))) {
					errs <- fmt.Errorf("torn read of %s: %d bytes starting %d", f, len(got.Content), v)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestAnswerLimit: an answer larger than the maximum frame is refused with a
// limit error that says to read in ranges, and ranges are served; answers are
// held to the same limit as requests.
func TestAnswerLimit(t *testing.T) {
	e := newEnvCfg(t, launcher.Config{MaxFrame: 64 << 10, MaxHandshakeFrame: 16 << 10})
	_, c := e.app(t, "limited", false)
	ctx := ctxT(t)
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "f", UserMetadata: wire.Bytes{}}))
	chunk := bytes.Repeat([]byte("z"), 30<<10)
	for i := 0; i < 4; i++ {
		require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "f", NewValues: wire.FileNewValues{
			Content: &wire.FileContent{Offset: i64p(int64(i * len(chunk))), Bytes: chunk}}}))
	}
	_, err := c.GetFile(ctx, wire.GetFileRequest{FilePath: "f", Length: -1})
	require.ErrorIs(t, err, wire.ErrLimit)
	assert.Contains(t, err.Error(), "ranges")
	got, err := c.GetFile(ctx, wire.GetFileRequest{FilePath: "f", Offset: 90 << 10, Length: 20 << 10})
	require.NoError(t, err)
	assert.Equal(t, chunk[:20<<10], []byte(got.Content))
}

// TestTimeout: timeout_ms of 0 or less is no timeout; larger values are
// honoured up to nfs.MaxTimeout, and clamped to it from there, including the
// values whose milliseconds overflow a time.Duration.
func TestTimeout(t *testing.T) {
	maxMs := int64(nfs.MaxTimeout / time.Millisecond)
	cases := []struct {
		ms   int64
		want time.Duration
		ok   bool
	}{
		{math.MinInt64, 0, false},
		{-1, 0, false},
		{0, 0, false},
		{1, time.Millisecond, true},
		{5000, 5 * time.Second, true},
		{maxMs - 1, nfs.MaxTimeout - time.Millisecond, true},
		{maxMs, nfs.MaxTimeout, true},
		{maxMs + 1, nfs.MaxTimeout, true},
		{math.MaxInt64 / int64(time.Millisecond), nfs.MaxTimeout, true},   // the last that fits a Duration
		{math.MaxInt64/int64(time.Millisecond) + 1, nfs.MaxTimeout, true}, // 9223372036855: the first that does not
		{math.MaxInt64, nfs.MaxTimeout, true},
	}
	for _, tc := range cases {
		got, ok := nfs.Timeout(tc.ms)
		assert.Equal(t, tc.ok, ok, "timeout_ms %d", tc.ms)
		assert.Equal(t, tc.want, got, "timeout_ms %d", tc.ms)
	}
}

// TestGetDirHugeTimeout: a get-dir whose timeout_ms is too large for a
// time.Duration in nanoseconds (9223372036855 and up) gets its listing: the
// timeout is clamped to nfs.MaxTimeout, not overflowed into one already past
// (-150).
func TestGetDirHugeTimeout(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "patient", false)
	ctx := ctxT(t)
	require.NoError(t, c.CreateDir(ctx, mkdir("d")))
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "d/f", UserMetadata: wire.Bytes{}}))
	for _, ms := range []int64{9223372036854, 9223372036855, 1 << 62, math.MaxInt64} {
		l, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "d", TimeoutMs: ms})
		require.NoError(t, err, "timeout_ms %d", ms)
		require.Len(t, l.Files, 1, "timeout_ms %d", ms)
		assert.Equal(t, "f", l.Files[0].Name)
	}
}

// internalPrefixes are the error prefixes of the daemon's packages, which an
// app's error description never shows.
var internalPrefixes = []string{"vfs:", "nfs:", "dns:", "wire:", "route:", "launcher:", "framing:", "handshake:", "rawfile:"}

func assertNoInternalName(t *testing.T, desc string) {
	t.Helper()
	for _, p := range internalPrefixes {
		assert.NotContains(t, desc, p, "the description names an internal package")
	}
}

// TestErrorsNameNoPackage: the store's errors reach apps with their code and
// a description of what was wrong (which path), without the store's package
// prefix.
func TestErrorsNameNoPackage(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "plain", false)
	ctx := ctxT(t)
	require.NoError(t, c.CreateDir(ctx, mkdir("twice")))

	err := c.CreateDir(ctx, mkdir("twice"))
	var we *wire.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, wire.Code(-201), we.Code)
	assert.Contains(t, we.Description, "twice", "the description names the path")
	assertNoInternalName(t, we.Description)

	_, err = c.GetDir(ctx, wire.GetDirRequest{DirPath: "missing/below"})
	require.ErrorAs(t, err, &we)
	assert.Equal(t, wire.Code(-200), we.Code)
	assert.Contains(t, we.Description, "missing", "the description names the path")
	assertNoInternalName(t, we.Description)
}
