// Package interop runs clients written in other languages, with other NaCl
// libraries, against the real daemon.
package interop_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// TestNodeLibsodium runs interop/node/client.js (libsodium-wrappers, the
// library the original apps used) in both nonce modes.
func TestNodeLibsodium(t *testing.T) {
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join("node", "node_modules", "libsodium-wrappers"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or interop/node/node_modules missing in CI (.ci/run runs npm ci): %v", err)
		}
		t.Skipf("node interop client not installed (cd interop/node && npm ci): %v", err)
	}
	store, _ := launchertest.Store(t)
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store))
	app := d.AddAppWithRoot(t, store, "node", false)

	for _, mode := range []string{"fixed", "counter"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, node, "node/client.js", d.Value(t, app.ID), mode).Output()
			require.NoError(t, err, "client output: %s", out)
			var res struct {
				OK                bool   `json:"ok"`
				Mode              string `json:"mode"`
				CreateDirCode     int64  `json:"create_dir_code"`
				GetDirName        string `json:"get_dir_name"`
				UnknownModuleCode int64  `json:"unknown_module_code"`
			}
			require.NoError(t, json.Unmarshal(out, &res), string(out))
			assert.True(t, res.OK, string(out))
			assert.Equal(t, mode, res.Mode)
			assert.EqualValues(t, 0, res.CreateDirCode)
			assert.Equal(t, "interop-"+mode, res.GetDirName)
			assert.EqualValues(t, wire.CodeUnknownModule, res.UnknownModuleCode)
		})
	}
	// What the Node app created is really in its root.
	l, err := store.GetDir(context.Background(), vfs.AppRoot(app.RootDir), nil)
	require.NoError(t, err)
	require.Len(t, l.Dirs, 2)
}
