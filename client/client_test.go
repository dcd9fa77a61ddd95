package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
)

func TestParseLauncherValue(t *testing.T) {
	got, err := client.ParseLauncherValue("tcp:127.0.9.9:30000:k3J:with:colons")
	require.NoError(t, err)
	assert.Equal(t, client.Target{Host: "127.0.9.9", Port: "30000", LauncherString: "k3J:with:colons"}, got)
	assert.Equal(t, "127.0.9.9:30000", got.Addr())
	got, err = client.ParseLauncherValue("tcp:localhost:8080:demo")
	require.NoError(t, err)
	assert.Equal(t, "localhost", got.Host)
	for _, bad := range []string{"", "tcp:", "tcp:a:1", "udp:a:1:s", "tcp::1:s", "tcp:a::s", "tcp:a:1:"} {
		_, err := client.ParseLauncherValue(bad)
		require.ErrorIs(t, err, client.ErrBadLauncherValue, bad)
	}
}

func TestLauncherValue(t *testing.T) {
	t.Setenv(client.EnvLauncher, "")
	v, err := client.LauncherValue([]string{"-x", "--launcher", "tcp:a:1:s"})
	require.NoError(t, err)
	assert.Equal(t, "tcp:a:1:s", v)
	v, err = client.LauncherValue([]string{"--launcher=tcp:a:1:t"})
	require.NoError(t, err)
	assert.Equal(t, "tcp:a:1:t", v)
	_, err = client.LauncherValue([]string{"--", "--launcher", "tcp:a:1:s"})
	require.ErrorIs(t, err, client.ErrNoLauncher)
	t.Setenv(client.EnvLauncher, "tcp:b:2:env")
	v, err = client.LauncherValue(nil)
	require.NoError(t, err)
	assert.Equal(t, "tcp:b:2:env", v)
}

func TestDialRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, "tcp:127.0.0.1:1:x")
	require.Error(t, err)
	_, err = client.Dial(ctx, "nonsense")
	require.ErrorIs(t, err, client.ErrBadLauncherValue)
}

func ExampleParseLauncherValue() {
	t, _ := client.ParseLauncherValue("tcp:127.0.9.9:30000:secret:part")
	fmt.Println(t.Addr(), t.LauncherString)
	// Output: 127.0.9.9:30000 secret:part
}
