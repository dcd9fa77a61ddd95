package client

import "net"

// DroppedEvents reports how many push events the session has dropped
// because no watch took them (an unknown or ended watch, an event this SDK
// cannot read).
func (c *Client) DroppedEvents() uint64 { return c.events.Load() }

// LocalAddr is the session's local address: the launcher's SessionInfo.Remote.
func (c *Client) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// StrayAnswers reports how many answers the session dropped because nobody
// waited for their id.
func (c *Client) StrayAnswers() uint64 { return c.stray.Load() }

// PendingCalls reports how many calls wait for their answer.
func (c *Client) PendingCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, q := range c.pending {
		n += len(q)
	}
	return n
}
