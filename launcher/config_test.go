package launcher

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigDefaultsAndValidation(t *testing.T) {
	c, err := Config{MaxConns: 7}.withDefaults()
	require.NoError(t, err)
	d := DefaultConfig()
	assert.Equal(t, 7, c.MaxConns, "a set value is kept")
	assert.Equal(t, d.MaxFrame, c.MaxFrame, "a zero value takes the default")
	assert.Equal(t, d.HandshakeTimeout, c.HandshakeTimeout)
	assert.NotNil(t, c.Logger)
	assert.NotNil(t, c.Rand)
	assert.NotNil(t, c.Now)

	for name, bad := range map[string]Config{
		"negative conns":        {MaxConns: -1},
		"negative duration":     {BudgetWait: -time.Second},
		"handshake over frame":  {MaxFrame: 1024, MaxHandshakeFrame: 4096},
		"absurd frame":          {MaxFrame: 1 << 41},
		"negative json depth":   {MaxJSONDepth: -2},
		"negative frame idle":   {FrameIdleTimeout: -1},
		"negative write":        {WriteTimeout: -1},
		"negative token ttl":    {TokenTTL: -1},
		"negative budget bytes": {InFlightBudget: -1},
	} {
		_, err := bad.withDefaults()
		require.ErrorIs(t, err, ErrConfig, name)
	}
}
