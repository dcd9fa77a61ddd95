package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
)

func TestChangeIndex(t *testing.T) {
	for _, c := range []struct {
		ev   client.Event
		want int
	}{
		{client.Event{Kind: client.EventCreated, Path: eventName(0)}, 0},
		{client.Event{Kind: client.EventDeleted, Path: eventName(0)}, 1},
		{client.Event{Kind: client.EventCreated, Path: eventName(21)}, 42},
		{client.Event{Kind: client.EventModified, Path: eventName(3)}, -1},
		{client.Event{Kind: client.EventCreated, Path: cdDir + "/lat"}, -1},
		{client.Event{Kind: client.EventCreated, Path: cdDir + "/ev-1"}, -1},
		{client.Event{Kind: client.EventOverflow}, -1},
	} {
		assert.Equal(t, c.want, changeIndex(c.ev), "%+v", c.ev)
	}
}

// TestEventTargets: the events rows meet their targets exactly at the
// limits: latency p50 <= 1 ms, p99 <= 10 ms, create+delete with watchers
// <= 1.3x without.
func TestEventTargets(t *testing.T) {
	for _, c := range []struct {
		p50, p99, with          time.Duration
		p50Met, p99Met, withMet string
	}{
		{time.Millisecond, 10 * time.Millisecond, 130 * us1, "yes", "yes", "yes"},
		{time.Millisecond + us1, 10*time.Millisecond + us1, 131 * us1, "**no**", "**no**", "**no**"},
		{0, 0, 90 * us1, "yes", "yes", "yes"},
	} {
		r := &results{Events: &eventsResult{Watchers: 100,
			Latency: latencyPair{P50: c.p50, P99: c.p99}, Ping: latencyPair{P50: 50 * us1, P99: 90 * us1},
			Without: latencyPair{P50: 100 * us1, P99: 200 * us1}, With: latencyPair{P50: c.with, P99: 2 * c.with}}}
		rs := rows(r)
		p50 := find(rs, "event latency p50, a change's answer", "ping")
		require.Len(t, p50, 1)
		assert.Equal(t, c.p50Met, p50[0].Met, "p50 %s", c.p50)
		assert.Contains(t, p50[0].Figure, "100 sessions watching")
		p99 := find(rs, "event latency p99, a change's answer", "ping")
		require.Len(t, p99, 1)
		assert.Equal(t, c.p99Met, p99[0].Met, "p99 %s", c.p99)
		cd := find(rs, "create+delete round trip p50, SDK, 1 connection, 100 sessions", "no watch")
		require.Len(t, cd, 1)
		assert.Equal(t, c.withMet, cd[0].Met, "with %s", c.with)
		assert.Equal(t, "100 µs", cd[0].Ref)
		assert.Len(t, find(rs, "from the change's request", "ping"), 2, "reference rows")
		assert.Len(t, find(rs, "once the last one's events were delivered", "no watch"), 1, "reference row")
		for _, x := range rs {
			if x.Figure != "" && x.Ref != "0 µs" {
				assert.NotContains(t, x.VsTarget+x.Ratio, "n/a", x.Figure)
			}
		}
	}
	assert.Empty(t, rows(&results{}), "no events section, no rows")
}
