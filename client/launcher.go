package client

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/safe-launcher/launcher/wire"
)

// The launcher module (v1.1): requests about the session itself. Close
// sends its bye; Watch (watch.go) its watch and unwatch.

// VersionResponse is the answer of Version (wire.VersionResponse): the
// launcher's build version, the API versions it serves, when it started
// (unix seconds), this session's nonce mode and the web gateway's base URL
// ("" when it is off).
type VersionResponse = wire.VersionResponse

// MaxPingPayload is the largest payload Ping may carry (1 KiB); the
// launcher answers a larger one with wire.ErrLimit.
const MaxPingPayload = wire.MaxPingPayload

// Version asks the launcher who it is (launcher/version, v1.1). A launcher
// older than v1.1 answers wire.ErrUnknownRequest.
func (c *Client) Version(ctx context.Context) (*VersionResponse, error) {
	var out wire.VersionResponse
	if err := c.Call(ctx, ep11("launcher", "version"), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Pong is the answer of Ping.
type Pong struct {
	// Payload is what the launcher echoed: the payload sent (empty, not
	// nil, when none was).
	Payload []byte
	// LauncherTime is the launcher's clock when it answered, to the
	// millisecond.
	LauncherTime time.Time
	// RTT is the round trip as the SDK saw it, from just before the
	// request was sealed to its answer: the launcher's queue for this
	// session included.
	RTT time.Duration
}

// Ping sends launcher/ping (v1.1) with an optional payload (nil or empty
// for none; at most MaxPingPayload bytes) and returns the launcher's echo.
// Requests of a session are executed in order, so a Ping's RTT includes
// the requests sent before it. An echo that is not the payload sent is an
// error.
func (c *Client) Ping(ctx context.Context, payload []byte) (Pong, error) {
	var data any
	if len(payload) > 0 {
		data = wire.PingRequest{Payload: payload}
	}
	var out wire.PingResponse
	start := time.Now()
	if err := c.Call(ctx, ep11("launcher", "ping"), data, &out); err != nil {
		return Pong{}, err
	}
	p := Pong{Payload: out.Payload, LauncherTime: time.UnixMilli(out.TimeMs), RTT: time.Since(start)}
	if p.Payload == nil {
		p.Payload = []byte{}
	}
	if !bytes.Equal(p.Payload, payload) {
		return Pong{}, fmt.Errorf("client: ping: the launcher echoed %d bytes, not the %d sent", len(p.Payload), len(payload))
	}
	return p, nil
}
