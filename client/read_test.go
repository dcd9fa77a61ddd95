package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/wire"
)

// gateModule answers test/echo at once, and test/held only once the test
// sends on release.
type gateModule struct{ release chan struct{} }

func (m gateModule) Register(t *route.Table) {
	t.Handle("test", "echo", wire.V1_0, func(_ context.Context, _ route.Caller, data json.RawMessage) (any, error) {
		return data, nil
	})
	t.Handle("test", "held", wire.V1_0, func(ctx context.Context, _ route.Caller, data json.RawMessage) (any, error) {
		select {
		case <-m.release:
		case <-ctx.Done():
		}
		return data, nil
	})
}

func gateEnv(t *testing.T) (*launchertest.Daemon, *client.Client, gateModule) {
	m := gateModule{release: make(chan struct{})}
	d := launchertest.Start(t, launcher.Config{}, m)
	app := d.AddApp("reader", false)
	return d, d.Dial(t, app.ID), m
}

func echo(ctx context.Context, c *client.Client, s string) error {
	var got string
	if err := c.Call(ctx, "safe-api/v1.0/test/echo", s, &got); err != nil {
		return err
	}
	if got != s {
		return fmt.Errorf("echo %q came back as %q", s, got)
	}
	return nil
}

// TestCancelWhileReading: a caller reading its own answer (the session is
// not idle, so nobody else reads) returns when its context ends; its
// answer, arriving later, is read by the background reader, and the
// session goes on.
func TestCancelWhileReading(t *testing.T) {
	_, c, m := gateEnv(t)
	bg := context.Background()
	require.NoError(t, echo(bg, c, "warm"))
	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error, 1)
	go func() { errc <- c.Call(ctx, "safe-api/v1.0/test/held", "late", nil) }()
	time.Sleep(50 * time.Millisecond) // let it take the reader role and block
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("a caller reading for its answer did not return when its context ended")
	}
	close(m.release)
	for i := range 20 {
		require.NoError(t, echo(bg, c, fmt.Sprintf("after %d", i)))
	}
}

// TestConcurrentCallers: many goroutines share one session; every answer
// reaches its own caller, whoever reads it, as the reader role changes
// hands between callers and the background reader.
func TestConcurrentCallers(t *testing.T) {
	_, c, _ := gateEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 300 {
				if err := echo(ctx, c, fmt.Sprintf("%d/%d", g, i)); err != nil {
					errs <- err
					return
				}
				if i%50 == 0 {
					time.Sleep(15 * time.Millisecond) // let the session go idle now and then
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestDoneWhenIdle: a session with no request in flight notices that the
// launcher ended it, and a call afterwards fails with ErrClosed.
func TestDoneWhenIdle(t *testing.T) {
	d, c, _ := gateEnv(t)
	require.NoError(t, echo(context.Background(), c, "once"))
	d.Stop()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the launcher stopped")
	}
	err := echo(context.Background(), c, "after")
	require.True(t, errors.Is(err, client.ErrClosed), "%v", err)
}
