package launcher_test

// The engine's "acknowledge after durable" path (route.Result.Durable),
// driven by a test module whose changes wait on a gate: answers go out in
// request order, a change's answer waits for its durability while the
// session's next requests already run, a failed durability replaces the
// answer, and a queued answer holds no request budget.

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/wire"
)

// gatedModule's test/change "applies" at once (ran counts it) and is
// durable only once the test opens its gate; test/fail's durability fails.
type gatedModule struct {
	ran  atomic.Int64
	gate chan struct{}
}

func (m *gatedModule) Register(t *route.Table) {
	t.Handle("test", "change", wire.V1_0, func(context.Context, route.Caller, json.RawMessage) (route.Result, error) {
		m.ran.Add(1)
		return route.Result{Durable: func() error { <-m.gate; return nil }}, nil
	})
	t.Handle("test", "fail", wire.V1_0, func(context.Context, route.Caller, json.RawMessage) (route.Result, error) {
		return route.Result{Durable: func() error { return errors.New("the disk is gone") }}, nil
	})
	t.Handle("test", "ran", wire.V1_0, func(context.Context, route.Caller, json.RawMessage) (route.Result, error) {
		b, _ := json.Marshal(map[string]int64{"ran": m.ran.Load()})
		return route.Answer(wire.RawObject(b)), nil
	})
}

func TestDurableAnswersWaitInOrder(t *testing.T) {
	m := &gatedModule{gate: make(chan struct{})}
	d := launchertest.Start(t, launcher.Config{}, &testModule{}, m)
	app := d.AddApp("durable", false)
	s := openSession(t, d, app.ID, handshake.Counter)

	// Pipelined: three changes, an echo, a "ran" probe; the first change's
	// durability is held.
	var ids []string
	send := func(msg string) {
		sealed := s.ch.Seal(nil, []byte(msg))
		require.NoError(t, framing.WriteFrame(s, sealed))
		ids = append(ids, wire.ID(sealed))
	}
	for range 3 {
		send(`{"endpoint":"safe-api/v1.0/test/change"}`)
	}
	send(string(echoMsg(strings.Repeat("e", 300<<10)))) // a large echo behind them
	send(`{"endpoint":"safe-api/v1.0/test/ran"}`)
	// Every request runs while the first change waits: the reader is not
	// held by the writer.
	require.Eventually(t, func() bool {
		ss := d.Srv.Sessions()
		return len(ss) == 1 && ss[0].Requests == 5 && m.ran.Load() == 3
	}, 10*time.Second, time.Millisecond)
	// Nothing is answered, and the queued answers hold no request budget.
	require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes == 0 }, 10*time.Second, time.Millisecond)
	_ = s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := s.fr.ReadFrame()
	require.Error(t, err, "no answer before the first change is durable")
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))

	close(m.gate)
	for i, id := range ids {
		resp := s.answer(t, id) // in request order
		require.NoError(t, resp.Err(), "answer %d", i)
		if i == 3 {
			var out map[string]string
			require.NoError(t, json.Unmarshal(resp.Data, &out))
			assert.Len(t, out["p"], 300<<10, "the echo comes back whole")
		}
		if i == 4 {
			assert.JSONEq(t, `{"ran":3}`, string(resp.Data), "the probe ran after the three changes")
		}
	}

	// A change whose durability fails is answered with an internal error,
	// and the session goes on.
	fail := s.ch.Seal(nil, []byte(`{"endpoint":"safe-api/v1.0/test/fail"}`))
	require.NoError(t, framing.WriteFrame(s, fail))
	resp := s.answer(t, wire.ID(fail))
	require.ErrorIs(t, resp.Err(), wire.ErrInternal)
	probeSession(t, s)
}

// probeSession sends an echo on a raw session and checks its answer.
func probeSession(t *testing.T, s *session) {
	t.Helper()
	msg := s.ch.Seal(nil, echoMsg("probe"))
	require.NoError(t, framing.WriteFrame(s, msg))
	resp := s.answer(t, wire.ID(msg))
	require.Nil(t, resp.Error)
	assert.JSONEq(t, `{"p":"probe"}`, string(resp.Data))
}

// TestDurableManySessions: sessions whose changes wait do not hold up
// another session's answers.
func TestDurableManySessions(t *testing.T) {
	m := &gatedModule{gate: make(chan struct{})}
	d := launchertest.Start(t, launcher.Config{}, &testModule{}, m)
	app := d.AddApp("many", false)
	var wg sync.WaitGroup
	held := openSession(t, d, app.ID, handshake.Counter)
	msg := held.ch.Seal(nil, []byte(`{"endpoint":"safe-api/v1.0/test/change"}`))
	require.NoError(t, framing.WriteFrame(held, msg))
	require.Eventually(t, func() bool { return m.ran.Load() == 1 }, 10*time.Second, time.Millisecond)
	for range 4 {
		wg.Go(func() { probe(t, d, app.ID) })
	}
	wg.Wait()
	close(m.gate)
	resp := held.answer(t, wire.ID(msg))
	require.NoError(t, resp.Err())
}
