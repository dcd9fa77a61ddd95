package route_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/wire"
)

func handler(name string) route.Handler {
	return func(context.Context, route.Caller, json.RawMessage) (route.Result, error) {
		return route.Answer(&wire.ServicesResponse{Services: []string{name}}), nil
	}
}

func TestTable(t *testing.T) {
	tb := route.NewTable(wire.V1_1, wire.V1_0)
	tb.Handle("nfs", "get-dir", wire.V1_0, handler("get-dir"))
	tb.Handle("dns", "list", wire.V1_1, handler("list"))
	assert.Equal(t, []wire.Version{wire.V1_0, wire.V1_1}, tb.Versions())

	call := func(ep wire.Endpoint) (string, error) {
		h, err := tb.Lookup(ep)
		if err != nil {
			return "", err
		}
		r, err := h(context.Background(), nil, nil)
		if err != nil {
			return "", err
		}
		return r.Answer.(*wire.ServicesResponse).Services[0], nil
	}
	got, err := call(wire.Endpoint{Version: wire.V1_1, Module: "nfs", Request: "get-dir"})
	require.NoError(t, err)
	assert.Equal(t, "get-dir", got, "v1.0 routes are served in v1.1")
	_, err = call(wire.Endpoint{Version: wire.V1_0, Module: "dns", Request: "list"})
	require.ErrorIs(t, err, wire.ErrUnknownRequest, "v1.1 additions are not in v1.0")
	_, err = call(wire.Endpoint{Version: wire.Version{Major: 2}, Module: "nfs", Request: "get-dir"})
	require.ErrorIs(t, err, wire.ErrUnknownVersion)
	assert.Contains(t, err.Error(), "v2.0")
	_, err = call(wire.Endpoint{Version: wire.V1_0, Module: "ftp", Request: "get"})
	require.ErrorIs(t, err, wire.ErrUnknownModule)
	assert.True(t, tb.Serves(wire.V1_0))
	assert.False(t, tb.Serves(wire.Version{Major: 1, Minor: 2}))
}

func TestDuplicatePanics(t *testing.T) {
	tb := route.NewTable(wire.V1_0, wire.V1_1)
	tb.Handle("nfs", "get-dir", wire.V1_0, handler("a"))
	assert.Panics(t, func() { tb.Handle("nfs", "get-dir", wire.V1_1, handler("b")) })
	assert.Panics(t, func() { tb.Handle("nfs", "x", wire.Version{Major: 3}, handler("c")) })
}

func TestTyped(t *testing.T) {
	h := route.Typed(func(_ context.Context, _ route.Caller, r *wire.DirRequest) (route.Result, error) {
		return route.Answer(&wire.LongNamesResponse{LongNames: []string{r.DirPath}}), nil
	})
	got, err := h(context.Background(), nil, json.RawMessage(`{"is_path_shared":false,"dir_path":"a/b"}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"a/b"}, got.Answer.(*wire.LongNamesResponse).LongNames)
	_, err = h(context.Background(), nil, json.RawMessage(`{"is_path_shared":false}`))
	require.ErrorIs(t, err, wire.ErrMissingField)
	assert.Contains(t, err.Error(), "data.dir_path")
}
