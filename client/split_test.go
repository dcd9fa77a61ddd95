package client_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/wire"
)

// scriptedLauncher is a launcher of the test's own: it completes the
// handshake, then answers the n-th request with answer(n, id), sealed.
// It lets a test send answers the real daemon never writes.
func scriptedLauncher(t *testing.T, answer func(n int, id string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		fr := framing.NewReader(nc, framing.DefaultMaxSize)
		b, err := fr.ReadFrame()
		if err != nil {
			return
		}
		req, err := handshake.ParseRequest(b)
		if err != nil {
			return
		}
		ans, ch, err := handshake.Accept(rand.Reader, req, true)
		if err != nil || framing.WriteFrame(nc, ans) != nil {
			return
		}
		for n := 0; ; n++ {
			box, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if _, err := ch.Open(nil, box); err != nil {
				return
			}
			a, hold := strings.CutSuffix(answer(n, wire.ID(box)), holdAfter)
			if framing.WriteFrame(nc, ch.Seal(nil, []byte(a))) != nil {
				return
			}
			if hold {
				<-done // read nothing more, and keep the connection open
				return
			}
		}
	}()
	return "tcp:" + ln.Addr().String() + ":scripted"
}

// holdAfter, ending a scripted answer, makes the scripted launcher write the
// answer and then read nothing more until the test ends.
const holdAfter = "\x00hold"

// scriptedSession dials a scripted launcher (see scriptedLauncher); the
// context bounds the test, and both end with it.
func scriptedSession(t *testing.T, answer func(n int, id string) string) (context.Context, *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, err := client.Dial(ctx, scriptedLauncher(t, answer))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return ctx, c
}

// getDirData is a get-dir answer's data as the launcher writes it.
func getDirData() string {
	r := &wire.GetDirResponse{Info: wire.DirInfo{Name: "d"}, Files: []wire.FileInfo{{Name: "f", Size: 3}}}
	return string(r.AppendJSON(nil))
}

// TestSplitAnswers: the SDK's reader only splits a data answer written as
// the launcher writes one, and the caller decodes its data in one pass;
// answers of any other shape get exactly what a full parse gives: an error
// member after the data is still the answer's error, and a malformed
// answer still ends the session.
func TestSplitAnswers(t *testing.T) {
	data := getDirData()
	ctx, c := scriptedSession(t, func(n int, id string) string {
		switch n {
		case 0, 3: // as the launcher writes it
			return `{"id":"` + id + `","data":` + data + `}`
		case 1: // data, then an error: the error is the answer
			return `{"id":"` + id + `","data":` + data + `,"error":{"code":-1502,"description":"scripted"}}`
		case 2: // the same data with spaces: not the launcher's shape, parsed in full
			return `{ "id" : "` + id + `" , "data" : ` + data + ` }`
		default: // one brace too many: malformed
			return `{"id":"` + id + `","data":` + data + `}}`
		}
	})

	for n := range 5 {
		got, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "d"})
		switch n {
		case 0, 2, 3:
			require.NoError(t, err, "answer %d", n)
			require.Equal(t, "d", got.Info.Name)
			require.Len(t, got.Files, 1)
			require.Equal(t, int64(3), got.Files[0].Size)
		case 1:
			var we *wire.Error
			require.ErrorAs(t, err, &we, "answer 1")
			require.Equal(t, wire.Code(-1502), we.Code)
		case 4:
			require.ErrorIs(t, err, client.ErrClosed, "a malformed answer ends the session")
			require.ErrorContains(t, err, "malformed answer")
		}
	}
	// The session is over for every later call.
	_, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "d"})
	require.ErrorIs(t, err, client.ErrClosed)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the session did not end after a malformed answer")
	}
}

// TestSplitAnswerRawCall: CallRaw (no decoder) gets a split answer parsed in
// full: the error member after the data is its error.
func TestSplitAnswerRawCall(t *testing.T) {
	data := getDirData()
	ctx, c := scriptedSession(t, func(n int, id string) string {
		if n == 0 {
			return `{"id":"` + id + `","data":` + data + `,"error":{"code":-1503,"description":"scripted"}}`
		}
		return `{"id":"` + id + `","data":` + data + `}`
	})
	msg := []byte(`{"endpoint":"safe-api/v1.0/nfs/get-dir","data":{"dir_path":"d"}}`)
	_, err := c.CallRaw(ctx, msg)
	var we *wire.Error
	require.True(t, errors.As(err, &we), "%v", err)
	require.Equal(t, wire.Code(-1503), we.Code)
	raw, err := c.CallRaw(ctx, msg)
	require.NoError(t, err)
	require.JSONEq(t, data, string(raw))
}

// TestSplitAnswerAbandoned: a malformed answer to a request whose caller
// has given up still ends the session; the reader checks every answer,
// whoever waits for it.
func TestSplitAnswerAbandoned(t *testing.T) {
	data := getDirData()
	ctx, c := scriptedSession(t, func(n int, id string) string {
		if n == 0 {
			time.Sleep(200 * time.Millisecond) // after its caller gave up
			return `{"id":"` + id + `","data":` + data + `}}`
		}
		return `{"id":"` + id + `","data":` + data + `}`
	})
	short, stop := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err := c.GetDir(short, wire.GetDirRequest{DirPath: "d"})
	stop()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a malformed answer nobody waited for did not end the session")
	}
	_, err = c.GetDir(ctx, wire.GetDirRequest{DirPath: "d"})
	require.ErrorIs(t, err, client.ErrClosed)
	require.ErrorContains(t, err, "malformed answer")
}

// TestSplitAnswerRepeatedID: an answer naming two ids goes where the full
// parse sends it (the last id, as encoding/json would take it), not to the
// first id's caller: here nobody waits for it, so the caller gets nothing.
func TestSplitAnswerRepeatedID(t *testing.T) {
	data := getDirData()
	ctx, c := scriptedSession(t, func(n int, id string) string {
		if n == 0 {
			return `{"id":"` + id + `","data":` + data + `,"id":"somebody-else"}`
		}
		return `{"id":"` + id + `","data":` + data + `}`
	})
	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := c.GetDir(short, wire.GetDirRequest{DirPath: "d"})
	stop()
	require.ErrorIs(t, err, context.DeadlineExceeded, "the answer went to the first id's caller")
	got, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "d"})
	require.NoError(t, err, "the session goes on")
	require.Equal(t, "d", got.Info.Name)
}

// TestEndWhileASenderIsBlocked: the session ends (a malformed answer) while
// another caller is blocked writing a large request the launcher does not
// read. end closes the channel under the write lock that sender holds, so
// closing the connection must free it: Done closes and both calls fail.
func TestEndWhileASenderIsBlocked(t *testing.T) {
	ctx, c := scriptedSession(t, func(n int, id string) string {
		time.Sleep(300 * time.Millisecond) // the large request is being written meanwhile
		return "not an answer" + holdAfter
	})
	first := make(chan error, 1)
	go func() {
		_, err := c.CallRaw(ctx, []byte(`{"endpoint":"safe-api/v1.0/nfs/get-dir","data":{"dir_path":"/"}}`))
		first <- err
	}()
	time.Sleep(50 * time.Millisecond) // the first request goes out first
	large := make([]byte, 32<<20)
	for i := range large {
		large[i] = 'a'
	}
	second := make(chan error, 1)
	go func() {
		_, err := c.CallRaw(ctx, large)
		second <- err
	}()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the session did not end")
	}
	require.Error(t, <-first)
	require.Error(t, <-second)
}
