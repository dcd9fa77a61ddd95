package client

// DroppedEvents reports how many push events the session has dropped (for
// tests, until events are part of the API).
func (c *Client) DroppedEvents() uint64 { return c.events.Load() }

// StrayAnswers reports how many answers the session dropped because nobody
// waited for their id.
func (c *Client) StrayAnswers() uint64 { return c.stray.Load() }
