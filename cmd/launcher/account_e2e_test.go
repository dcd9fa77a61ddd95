package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/launcher/control"
)

// statusOf returns the status of data's daemon.
func statusOf(t *testing.T, data string) control.Status {
	t.Helper()
	c := controlClient(data)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	require.NoError(t, err)
	return st
}

// statusJSON returns `launcher status --json` of data's daemon.
func statusJSON(t *testing.T, data string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(ok(t, data, "status", "--json")), &m))
	return m
}
