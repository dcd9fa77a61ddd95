package client_test

// The launcher module through the SDK, against the real daemon: Version,
// Ping, Close's goodbye, watches and their events, and the end of a
// session the launcher locks.

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// eventsEnv runs the real daemon with nfs on an on-disk store.
func eventsEnv(t *testing.T, cfg launcher.Config) (*launchertest.Daemon, *vfs.Store) {
	t.Helper()
	store, _ := launchertest.Store(t)
	return launchertest.Start(t, cfg, nfs.New(store)), store
}

// next returns the watch's next event, failing the test if none comes
// within a generous bound (only a bug makes it wait that long).
func next(t *testing.T, w *client.Watch) client.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e, err := w.Next(ctx)
	require.NoError(t, err)
	return e
}

// expectQuiet checks that w holds no event once c's ping is answered:
// events come before the answer of a request sent after them, and the SDK
// routes each to its watch before it delivers a later answer.
func expectQuiet(t *testing.T, c *client.Client, w *client.Watch) {
	t.Helper()
	_, err := c.Ping(testCtx(t), nil)
	require.NoError(t, err)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	e, err := w.Next(done)
	require.ErrorIs(t, err, context.Canceled, "no event was due, got %+v", e)
}

// ev is an event without its watch id and seq.
type ev struct {
	kind, path, newPath string
	dir                 bool
}

func evOf(e client.Event) ev { return ev{e.Kind, e.Path, e.NewPath, e.IsDir} }

func mkdir(p string) client.CreateDirRequest {
	return client.CreateDirRequest{DirPath: p, UserMetadata: client.Bytes{}}
}

func mkfile(p string) client.CreateFileRequest {
	return client.CreateFileRequest{FilePath: p, UserMetadata: client.Bytes{}}
}

func TestVersion(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{Version: "1.2.3", GatewayURL: func() string { return "http://localhost:30080" }})
	app := d.AddAppWithRoot(t, store, "v", false)
	ctx := testCtx(t)
	for _, c := range []struct {
		mode string
		opts []client.Option
	}{{"counter", nil}, {"fixed", []client.Option{client.WithFixedNonce()}}} {
		cl := d.Dial(t, app.ID, c.opts...)
		v, err := cl.Version(ctx)
		require.NoError(t, err)
		assert.Equal(t, client.VersionResponse{Version: "1.2.3", APIVersions: []string{"v1.0", "v1.1"}, Started: v.Started,
			NonceMode: c.mode, Gateway: "http://localhost:30080"}, *v)
		assert.InDelta(t, time.Now().Unix(), v.Started, 60)
	}
}

func TestPing(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{})
	app := d.AddAppWithRoot(t, store, "p", false)
	c := d.Dial(t, app.ID)
	ctx := testCtx(t)

	p, err := c.Ping(ctx, nil)
	require.NoError(t, err)
	assert.NotNil(t, p.Payload)
	assert.Empty(t, p.Payload)
	assert.WithinDuration(t, time.Now(), p.LauncherTime, time.Minute)
	assert.Positive(t, p.RTT)

	p, err = c.Ping(ctx, []byte("hello"))
	require.NoError(t, err)
	assert.Equal(t, "hello", string(p.Payload))

	full := make([]byte, client.MaxPingPayload)
	full[7] = 7
	p, err = c.Ping(ctx, full)
	require.NoError(t, err)
	assert.Equal(t, full, p.Payload)

	_, err = c.Ping(ctx, make([]byte, client.MaxPingPayload+1))
	require.ErrorIs(t, err, wire.ErrLimit)
	_, err = c.Ping(ctx, nil)
	require.NoError(t, err, "an error answer does not end the session")
}

// heldConn is a connection whose Close does not close it until the test
// lets it: the launcher sees the connection open as long as the test
// wants, whatever the SDK does with it.
type heldConn struct {
	net.Conn
	closed  chan struct{} // closed when the SDK called Close
	once    sync.Once
	release chan struct{}
}

func (h *heldConn) Close() error {
	h.once.Do(func() {
		close(h.closed)
		go func() { <-h.release; h.Conn.Close() }()
	})
	return nil
}

// TestCloseSaysBye: Close sends bye, and the launcher ends the session at
// once, itself: the app's socket is still open (its Close is held), yet
// the session is gone, where without bye an idle session would stay open
// (a session has no read deadline between frames).
func TestCloseSaysBye(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{})
	app := d.AddAppWithRoot(t, store, "bye", false)
	conns := make(chan *heldConn, 1)
	dial := client.WithDialer(func(ctx context.Context, network, addr string) (net.Conn, error) {
		var nd net.Dialer
		nc, err := nd.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		h := &heldConn{Conn: nc, closed: make(chan struct{}), release: make(chan struct{})}
		conns <- h
		return h, nil
	})
	ctx := testCtx(t)
	c, err := client.Dial(ctx, d.Value(t, app.ID), dial)
	require.NoError(t, err)
	h := <-conns
	defer close(h.release)
	_, err = c.GetDir(ctx, client.GetDirRequest{})
	require.NoError(t, err)
	require.Len(t, d.Srv.Sessions(), 1)

	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	require.NoError(t, within(t, closed, "Close to return"), "the launcher closed first: the receive loop ended on its own")
	within(t, h.closed, "Close to close its connection")
	eventually(t, func() bool { return len(d.Srv.Sessions()) == 0 }, "the launcher to end the session on bye")
	require.ErrorIs(t, c.Err(), client.ErrClosed)
	assert.Equal(t, client.ErrClosed, c.Err(), "an orderly end: ErrClosed alone")
}

// TestCloseWithAnOlderLauncher: a launcher that does not know bye (-113)
// is simply disconnected; one that does not answer it is disconnected
// after Close's bound.
func TestCloseWithAnOlderLauncher(t *testing.T) {
	for _, c := range []struct {
		name   string
		answer func(id string) []string
	}{
		{"unknown request", func(id string) []string {
			return []string{`{"id":"` + id + `","error":{"code":-113,"description":"no such request"}}`}
		}},
		{"no answer", func(string) []string { return []string{holdFrame} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			byes := make(chan struct{}, 1)
			value := scriptedLauncherWith(t, func(_ context.Context, n int, id string) []string {
				byes <- struct{}{}
				return c.answer(id)
			}, scriptOptions{answerBye: false})
			cl, err := client.Dial(testCtx(t), value)
			require.NoError(t, err)
			require.NoError(t, cl.Close())
			within(t, byes, "the bye")
			require.ErrorIs(t, cl.Err(), client.ErrClosed)
			requireNoClientGoroutines(t)
		})
	}
}

// TestWatchEveryKind: a watcher hears of each kind of change another
// session of its app makes, in order, through the SDK; recursive and not.
func TestWatchEveryKind(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{})
	app := d.AddAppWithRoot(t, store, "kinds", true)
	writer, watcher := d.Dial(t, app.ID), d.Dial(t, app.ID)
	ctx := testCtx(t)
	require.NoError(t, writer.CreateDir(ctx, mkdir("docs")))
	w, err := watcher.Watch(ctx, client.WatchOptions{DirPath: "/docs/"})
	require.NoError(t, err)
	all, err := watcher.Watch(ctx, client.WatchOptions{Recursive: true})
	require.NoError(t, err)
	assert.NotEqual(t, w.ID(), all.ID())

	require.NoError(t, writer.CreateDir(ctx, mkdir("docs/sub")))
	require.NoError(t, writer.CreateFile(ctx, mkfile("docs/a.txt")))
	require.NoError(t, writer.ModifyFile(ctx, client.ModifyFileRequest{FilePath: "docs/a.txt", NewValues: client.FileNewValues{Content: &client.FileContent{Bytes: []byte("hi")}}}))
	name := "b.txt"
	require.NoError(t, writer.ModifyFile(ctx, client.ModifyFileRequest{FilePath: "docs/a.txt", NewValues: client.FileNewValues{Name: &name}}))
	require.NoError(t, writer.CreateFile(ctx, mkfile("docs/sub/deep"))) // below docs: only the recursive watch
	require.NoError(t, writer.DeleteFile(ctx, false, "docs/b.txt"))
	require.NoError(t, writer.DeleteDir(ctx, false, "docs"))

	want := []ev{
		{client.EventCreated, "docs/sub", "", true},
		{client.EventCreated, "docs/a.txt", "", false},
		{client.EventModified, "docs/a.txt", "", false},
		{client.EventRenamed, "docs/a.txt", "docs/b.txt", false},
		{client.EventDeleted, "docs/b.txt", "", false},
		{client.EventDeleted, "docs", "", true},
	}
	var got []ev
	for range want {
		e := next(t, w)
		assert.Equal(t, w.ID(), e.WatchID)
		assert.Positive(t, e.Seq)
		got = append(got, evOf(e))
	}
	assert.Equal(t, want, got)
	wantAll := append(append(append([]ev{}, want[:4]...), ev{client.EventCreated, "docs/sub/deep", "", false}), want[4:]...)
	got = got[:0]
	var last uint64
	for range wantAll {
		e := next(t, all)
		assert.Equal(t, all.ID(), e.WatchID)
		assert.Greater(t, e.Seq, last, "seq grows in the session")
		last = e.Seq
		got = append(got, evOf(e))
	}
	assert.Equal(t, wantAll, got)
	expectQuiet(t, watcher, w)
	expectQuiet(t, watcher, all)

	// SAFEDrive: a shared watch hears of a change to SAFEDrive; revoking
	// the grant tells every watch access-changed.
	shared, err := watcher.Watch(ctx, client.WatchOptions{Shared: true})
	require.NoError(t, err)
	require.NoError(t, writer.CreateDir(ctx, client.CreateDirRequest{IsPathShared: true, DirPath: "common", UserMetadata: client.Bytes{}}))
	assert.Equal(t, ev{client.EventCreated, "common", "", true}, evOf(next(t, shared)))
	app.SharedDrive = false
	d.Apps.Put(app)
	d.Srv.AccessChanged(app.ID)
	for _, x := range []*client.Watch{w, all, shared} {
		e := next(t, x)
		assert.Equal(t, ev{client.EventAccessChanged, "", "", false}, evOf(e))
		assert.Equal(t, x.ID(), e.WatchID)
	}

	// closing: the app is removed; the watches hear it, then end with the
	// session.
	d.Apps.Delete(app.ID)
	d.Srv.EndApp(app.ID)
	for _, x := range []*client.Watch{w, all} {
		assert.Equal(t, ev{client.EventClosing, "", "", false}, evOf(next(t, x)))
		_, err := x.Next(ctx)
		require.ErrorIs(t, err, client.ErrClosed)
	}
	within(t, watcher.Done(), "the session to end")
}

// TestWatchSeesItsOwnChangesAfterTheAnswer: a session watching what it
// changes itself gets the answer first, then the event.
func TestWatchSeesItsOwnChangesAfterTheAnswer(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{})
	app := d.AddAppWithRoot(t, store, "own", false)
	c := d.Dial(t, app.ID)
	ctx := testCtx(t)
	w, err := c.Watch(ctx, client.WatchOptions{})
	require.NoError(t, err)
	for i := range 20 {
		p := "f" + strconv.Itoa(i)
		require.NoError(t, c.CreateFile(ctx, mkfile(p)))
		assert.Equal(t, ev{client.EventCreated, p, "", false}, evOf(next(t, w)))
	}
}

// TestWatchEndedByContext: when the watch's context ends, the iteration
// ends with ctx.Err() and the SDK unwatches: the launcher sends no more.
func TestWatchEndedByContext(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{})
	app := d.AddAppWithRoot(t, store, "ctx", false)
	writer, watcher := d.Dial(t, app.ID), d.Dial(t, app.ID)
	ctx := testCtx(t)
	wctx, cancel := context.WithCancel(ctx)
	w, err := watcher.Watch(wctx, client.WatchOptions{})
	require.NoError(t, err)

	ended := make(chan error, 1)
	seen := make(chan client.Event, 1)
	go func() {
		for e, err := range w.Events() {
			if err != nil {
				ended <- err
				return
			}
			seen <- e
		}
		ended <- nil
	}()
	require.NoError(t, writer.CreateDir(ctx, mkdir("one")))
	assert.Equal(t, "one", within(t, seen, "the first event").Path)
	cancel()
	require.ErrorIs(t, within(t, ended, "the iteration to end"), context.Canceled)

	// The unwatch the SDK sends in the background reaches the launcher:
	// the watcher's session has run it once its request count has grown.
	requests := func() int64 {
		for _, s := range d.Srv.Sessions() {
			if s.Remote == watcherAddr(t, watcher) {
				return s.Requests
			}
		}
		return -1
	}
	eventually(t, func() bool { return requests() == 2 }, "the unwatch to reach the launcher")
	// Requests run in order: once a ping is answered, so is the unwatch.
	_, err = watcher.Ping(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, writer.CreateDir(ctx, mkdir("two")))
	_, err = watcher.Ping(ctx, nil)
	require.NoError(t, err)
	assert.Zero(t, watcher.DroppedEvents(), "no event came for the ended watch")
	_, err = w.Next(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, w.Unwatch(ctx), "Unwatch after the end is a no-op")
}

// watcherAddr is the launcher's view of c's address (SessionInfo.Remote).
func watcherAddr(t *testing.T, c *client.Client) string {
	t.Helper()
	return c.LocalAddr().String()
}

// eventually polls cond until it holds, failing the test after a
// generous bound (for state the test cannot be told of otherwise).
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// TestWatchEndedByUnwatch: Unwatch ends the iteration without an error
// and the launcher sends no more; Unwatch is idempotent.
func TestWatchEndedByUnwatch(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{})
	app := d.AddAppWithRoot(t, store, "unwatch", false)
	writer, watcher := d.Dial(t, app.ID), d.Dial(t, app.ID)
	ctx := testCtx(t)
	w, err := watcher.Watch(ctx, client.WatchOptions{})
	require.NoError(t, err)
	other, err := watcher.Watch(ctx, client.WatchOptions{})
	require.NoError(t, err)

	var got []string
	ended := make(chan struct{})
	seen := make(chan struct{}, 1)
	go func() {
		defer close(ended)
		for e, err := range w.Events() {
			if !assert.NoError(t, err) {
				return
			}
			got = append(got, e.Path)
			seen <- struct{}{}
		}
	}()
	require.NoError(t, writer.CreateDir(ctx, mkdir("before")))
	within(t, seen, "the event")
	require.NoError(t, w.Unwatch(ctx))
	within(t, ended, "the iteration to end")
	assert.Equal(t, []string{"before"}, got)
	_, err = w.Next(ctx)
	require.ErrorIs(t, err, client.ErrUnwatched)
	require.NoError(t, w.Unwatch(ctx))

	require.NoError(t, writer.CreateDir(ctx, mkdir("after")))
	assert.Equal(t, "before", next(t, other).Path)
	assert.Equal(t, "after", next(t, other).Path, "the other watch goes on")
	assert.Zero(t, watcher.DroppedEvents(), "the launcher sent nothing for the ended watch")
}

// TestLockEndsTheSession: Lock tells each watch "closing", then ends the
// session with -134: the iteration ends with an error that is ErrLocked
// (and ErrClosed), and so do Err and every later call; a Dial to the
// locked launcher fails with ErrLocked.
func TestLockEndsTheSession(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{})
	app := d.AddAppWithRoot(t, store, "lock", false)
	c := d.Dial(t, app.ID)
	ctx := testCtx(t)
	w, err := c.Watch(ctx, client.WatchOptions{Recursive: true})
	require.NoError(t, err)
	var evs []client.Event
	ended := make(chan error, 1)
	go func() {
		for e, err := range w.Events() {
			if err != nil {
				ended <- err
				return
			}
			evs = append(evs, e)
		}
		ended <- errors.New("the iteration ended without the session's error")
	}()

	d.Srv.Lock()
	err = within(t, ended, "the iteration to end")
	require.ErrorIs(t, err, client.ErrLocked)
	require.ErrorIs(t, err, wire.ErrLocked)
	require.ErrorIs(t, err, client.ErrClosed)
	require.Len(t, evs, 1)
	assert.Equal(t, client.EventClosing, evs[0].Kind)
	within(t, c.Done(), "the session to end")
	require.ErrorIs(t, c.Err(), client.ErrLocked)
	_, err = c.GetDir(ctx, client.GetDirRequest{})
	require.ErrorIs(t, err, client.ErrLocked)

	_, err = client.Dial(ctx, d.Value(t, app.ID))
	require.ErrorIs(t, err, client.ErrLocked)
	var we *client.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, wire.CodeLocked, we.Code)

	d.Srv.Unlock()
	c2 := d.Dial(t, app.ID)
	_, err = c2.Version(ctx)
	require.NoError(t, err)
}

// TestLockFailsPendingCalls: a call waiting for its answer when the
// launcher says it locks (an unassociated -134) and closes fails with an
// error that is ErrLocked, as Err does.
func TestLockFailsPendingCalls(t *testing.T) {
	ctx, c := scriptedSession(t, func(_ context.Context, n int, id string) []string {
		return []string{`{"id":"","error":{"code":-134,"description":"the launcher is locked"}}`, closeFrame}
	})
	_, err := c.GetDir(ctx, client.GetDirRequest{})
	require.ErrorIs(t, err, client.ErrLocked)
	require.ErrorIs(t, err, client.ErrClosed)
	within(t, c.Done(), "the session to end")
	require.ErrorIs(t, c.Err(), client.ErrLocked)
	assert.Contains(t, c.Err().Error(), "locked")
}

// TestUnassociatedErrorNotLast: an unassociated error the session goes on
// after is not the session's end error.
func TestUnassociatedErrorNotLast(t *testing.T) {
	ctx, c := scriptedSession(t, func(_ context.Context, n int, id string) []string {
		if n == 0 {
			return []string{`{"id":"","error":{"code":-134,"description":"not the last word"}}`, `{"id":"` + id + `","data":` + dirData("d") + `}`}
		}
		return []string{closeFrame}
	})
	_, err := c.GetDir(ctx, client.GetDirRequest{})
	require.NoError(t, err)
	_, err = c.GetDir(ctx, client.GetDirRequest{})
	require.ErrorIs(t, err, client.ErrClosed)
	require.NotErrorIs(t, err, client.ErrLocked)
}

// TestWatchOnlyOwnRoot: two apps, each watching its whole root, each hear
// only of their own.
func TestWatchOnlyOwnRoot(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{})
	a, b := d.AddAppWithRoot(t, store, "alice", false), d.AddAppWithRoot(t, store, "bob", false)
	ca, wa := d.Dial(t, a.ID), d.Dial(t, a.ID)
	cb, wb := d.Dial(t, b.ID), d.Dial(t, b.ID)
	ctx := testCtx(t)
	xa, err := wa.Watch(ctx, client.WatchOptions{Recursive: true})
	require.NoError(t, err)
	xb, err := wb.Watch(ctx, client.WatchOptions{Recursive: true})
	require.NoError(t, err)

	require.NoError(t, cb.CreateDir(ctx, mkdir("bobs")))
	require.NoError(t, ca.CreateDir(ctx, mkdir("alices")))
	assert.Equal(t, ev{client.EventCreated, "alices", "", true}, evOf(next(t, xa)))
	assert.Equal(t, ev{client.EventCreated, "bobs", "", true}, evOf(next(t, xb)))
	expectQuiet(t, wa, xa)
	expectQuiet(t, wb, xb)
}

// TestWatchStalledConsumer: a consumer that stops reading costs the
// session nothing: its watch's buffer overflows (an overflow event, then
// the latest events), the receive loop goes on (other calls are
// answered), and the writer of the changes is not slowed. The time of
// the changes with the stalled watcher and without one is logged, not
// asserted.
func TestWatchStalledConsumer(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{})
	app := d.AddAppWithRoot(t, store, "stall", false)
	writer, watcher := d.Dial(t, app.ID), d.Dial(t, app.ID)
	ctx := testCtx(t)
	require.NoError(t, writer.CreateDir(ctx, mkdir("d")))
	const pairs = 300
	churn := func() time.Duration {
		start := time.Now()
		for i := range pairs {
			p := "d/f" + strconv.Itoa(i)
			require.NoError(t, writer.CreateFile(ctx, mkfile(p)))
			require.NoError(t, writer.DeleteFile(ctx, false, p))
		}
		return time.Since(start)
	}
	without := churn()
	w, err := watcher.Watch(ctx, client.WatchOptions{DirPath: "d", Buffer: 16})
	require.NoError(t, err)
	with := churn()
	t.Logf("%d create+delete pairs: %v without a watcher, %v with a stalled one (%.2fx)", pairs, without, with, float64(with)/float64(without))

	// A sentinel change after the churn: once its event is read, every
	// event of the churn has reached the SDK (changes are offered to the
	// watches in the order their answers are written).
	require.NoError(t, writer.CreateFile(ctx, mkfile("d/sentinel")))
	// The session goes on answering while the watch's buffer overflows.
	_, err = watcher.Ping(ctx, nil)
	require.NoError(t, err)
	first := next(t, w)
	assert.Equal(t, client.EventOverflow, first.Kind, "600 events into a buffer of 16: the first one read says events were dropped")
	assert.Positive(t, w.Dropped())
	// After the overflow come the latest events: the churn's last delete,
	// then the sentinel.
	var prev, e client.Event
	for e = next(t, w); !(e.Kind == client.EventCreated && e.Path == "d/sentinel"); e = next(t, w) {
		prev = e
	}
	assert.Equal(t, ev{client.EventDeleted, "d/f" + strconv.Itoa(pairs-1), "", false}, evOf(prev))
	// Events flow again, one by one.
	require.NoError(t, writer.CreateFile(ctx, mkfile("d/after")))
	assert.Equal(t, ev{client.EventCreated, "d/after", "", false}, evOf(next(t, w)))
}

func TestWatchNeedsCounterNonces(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{})
	app := d.AddAppWithRoot(t, store, "fixed", false)
	c := d.Dial(t, app.ID, client.WithFixedNonce())
	ctx := testCtx(t)
	w, err := c.Watch(ctx, client.WatchOptions{})
	require.ErrorIs(t, err, wire.ErrNeedsCounter)
	assert.Nil(t, w)
	_, err = c.GetDir(ctx, client.GetDirRequest{})
	require.NoError(t, err, "the session goes on")
}

// TestNoGoroutineLeftWithWatches: Close with watches open (consumers
// ranging, one never read, one whose context ended) ends every iteration
// with ErrClosed and leaves no goroutine of the client.
func TestNoGoroutineLeftWithWatches(t *testing.T) {
	d, store := eventsEnv(t, launcher.Config{})
	app := d.AddAppWithRoot(t, store, "leak", false)
	writer, watcher := d.Dial(t, app.ID), d.Dial(t, app.ID)
	ctx := testCtx(t)
	ends := make(chan error, 3)
	for range 3 {
		w, err := watcher.Watch(ctx, client.WatchOptions{Recursive: true})
		require.NoError(t, err)
		go func() {
			for _, err := range w.Events() {
				if err != nil {
					ends <- err
					return
				}
			}
			ends <- nil
		}()
	}
	_, err := watcher.Watch(ctx, client.WatchOptions{})
	require.NoError(t, err)
	short, cancel := context.WithCancel(ctx)
	_, err = watcher.Watch(short, client.WatchOptions{})
	require.NoError(t, err)
	cancel()
	require.NoError(t, writer.CreateDir(ctx, mkdir("x")))
	require.NoError(t, writer.Close())

	require.NoError(t, watcher.Close())
	for range 3 {
		require.ErrorIs(t, within(t, ends, "an iteration to end"), client.ErrClosed)
	}
	requireNoClientGoroutines(t)
	_, err = watcher.Watch(ctx, client.WatchOptions{})
	require.ErrorIs(t, err, client.ErrClosed)
}

// pushFrame is the plaintext of a push frame of the launcher.
func pushFrame(watchID string, seq int, kind, path string) string {
	return `{"event":{"watch_id":"` + watchID + `","seq":` + strconv.Itoa(seq) + `,"kind":"` + kind + `","path":"` + path + `","new_path":"","is_dir":false}}`
}

// TestWatchEventBeforeItsAnswer: the launcher may push a watch's first
// events before the watch's answer (another session's change races with
// it): they are kept for the watch and delivered first, in order. An
// overflow with no watch_id reaches every watch of the session; an event
// for no watch is dropped.
func TestWatchEventBeforeItsAnswer(t *testing.T) {
	ctx, c := scriptedSession(t, func(_ context.Context, n int, id string) []string {
		switch n {
		case 0:
			return []string{pushFrame("w1", 1, "created", "early"), pushFrame("w9", 2, "created", "nobody's"),
				`{"id":"` + id + `","data":{"watch_id":"w1"}}`, pushFrame("w1", 3, "created", "later")}
		case 1:
			return []string{`{"id":"` + id + `","data":{"watch_id":"w2"}}`}
		default:
			return []string{pushFrame("", 4, "overflow", ""), pushFrame("w3", 5, "created", "unknown"),
				`{"id":"` + id + `","data":{"payload":"","time_ms":1}}`}
		}
	})
	w1, err := c.Watch(ctx, client.WatchOptions{})
	require.NoError(t, err)
	assert.Equal(t, "early", next(t, w1).Path)
	assert.Equal(t, "later", next(t, w1).Path)
	w2, err := c.Watch(ctx, client.WatchOptions{})
	require.NoError(t, err)
	_, err = c.Ping(ctx, nil)
	require.NoError(t, err)
	for _, w := range []*client.Watch{w1, w2} {
		e := next(t, w)
		assert.Equal(t, client.Event{Seq: 4, Kind: client.EventOverflow}, e, "the launcher's overflow, as it came")
		expectQuietNow(t, w)
	}
	assert.Equal(t, uint64(2), c.DroppedEvents(), "w9 (no watch was pending for it after w1's answer) and w3")
}

// expectQuietNow checks that w holds no event.
func expectQuietNow(t *testing.T, w *client.Watch) {
	t.Helper()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	e, err := w.Next(done)
	require.ErrorIs(t, err, context.Canceled, "no event was due, got %+v", e)
}

// TestWatchAnsweredAfterTheCallerGaveUp: a watch whose answer comes after
// its caller's context ended started a watch nobody reads: the SDK
// unwatches it by itself.
func TestWatchAnsweredAfterTheCallerGaveUp(t *testing.T) {
	gate := make(chan struct{})
	unwatched := make(chan string, 1)
	value := scriptedLauncherWith(t, func(ctx context.Context, n int, id string) []string {
		if n == 0 {
			select {
			case <-gate:
			case <-ctx.Done():
			}
			return []string{`{"id":"` + id + `","data":{"watch_id":"w7"}}`}
		}
		return []string{`{"id":"` + id + `","error":{"code":0,"description":""}}`}
	}, scriptOptions{answerBye: true, seen: func(n int, plain []byte) {
		if n == 1 {
			unwatched <- string(plain)
		}
	}})
	bg := testCtx(t)
	c, err := client.Dial(bg, value)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Watch(ctx, client.WatchOptions{})
		errc <- err
	}()
	eventually(t, func() bool { return c.PendingCalls() == 1 }, "the watch request to be sent")
	cancel()
	require.ErrorIs(t, within(t, errc, "Watch to give up"), context.Canceled)
	close(gate)
	assert.JSONEq(t, `{"endpoint":"safe-api/v1.1/launcher/unwatch","data":{"watch_id":"w7"}}`, within(t, unwatched, "the unwatch"))
	require.NoError(t, c.Close())
	requireNoClientGoroutines(t)
}

// TestWatchOptionsChecked: a negative buffer is refused before anything
// is sent.
func TestWatchOptionsChecked(t *testing.T) {
	ctx, c := scriptedSession(t, func(context.Context, int, string) []string { return []string{holdFrame} })
	_, err := c.Watch(ctx, client.WatchOptions{Buffer: -1})
	require.ErrorContains(t, err, "Buffer")
}
