package bigbuf

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetPut(t *testing.T) {
	c := New(time.Hour, nil)
	defer c.Close()
	assert.Nil(t, c.Get(10), "empty cache")
	b := make([]byte, 100, 128)
	c.Put(b)
	got := c.Get(128)
	require.NotNil(t, got)
	assert.Equal(t, 0, len(got))
	assert.Equal(t, &b[:1][0], &got[:1][0], "the same memory")
	assert.Nil(t, c.Get(1), "a buffer is handed out once")

	c.Put(make([]byte, 64))
	c.Put(make([]byte, 32)) // the larger stays
	assert.Equal(t, 64, cap(c.Get(64)))

	c.Put(make([]byte, 64))
	assert.Nil(t, c.Get(65), "too small")
	assert.Nil(t, c.Get(1), "a too-small buffer is let go, not kept beside a new one")
}

func TestExpire(t *testing.T) {
	var dropped atomic.Int32
	c := New(20*time.Millisecond, func() { dropped.Add(1) })
	defer c.Close()
	c.Put(make([]byte, 10))
	require.Eventually(t, func() bool { return dropped.Load() == 1 }, 5*time.Second, time.Millisecond)
	assert.Nil(t, c.Get(1), "let go after keep")
}

func TestClose(t *testing.T) {
	c := New(time.Hour, nil)
	c.Put(make([]byte, 10))
	c.Close()
	assert.False(t, c.timer.Stop(), "Close stops the timer")
	c.Put(make([]byte, 10))
	assert.Nil(t, c.Get(1), "nothing kept after Close")
}
