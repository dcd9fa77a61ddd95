package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/help/*.golden and docs/cli/")

// runIn runs the CLI in-process and returns its exit code and output.
func runIn(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &env{stdout: &out, stderr: &errb})
	return code, out.String(), errb.String()
}

// commandPaths lists the documented commands as argument lists ({} is the
// root, {"app","add"} is launcher app add).
func commandPaths(t *testing.T) [][]string {
	t.Helper()
	var out [][]string
	for _, c := range docCommands(newRootCmd(&env{})) {
		out = append(out, strings.Fields(strings.TrimPrefix(c.CommandPath(), "launcher")))
	}
	require.Greater(t, len(out), 15)
	return out
}

// TestHelpGolden compares the --help of every command with
// testdata/help/<command>.golden; go test ./cmd/launcher -update rewrites
// them. "launcher help CMD" must print the same, and so must -h.
func TestHelpGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, path := range commandPaths(t) {
		name := strings.Join(append([]string{"launcher"}, path...), "_")
		seen[name+".golden"] = true
		t.Run(name, func(t *testing.T) {
			code, out, errs := runIn(t, append(slices.Clone(path), "--help")...)
			require.Equal(t, exitOK, code, errs)
			require.Empty(t, errs)
			golden := filepath.Join("testdata", "help", name+".golden")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, []byte(out), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./cmd/launcher -run TestHelpGolden -update")
			assert.Equal(t, string(want), out, "the help of %s changed; check it and run go test ./cmd/launcher -update", name)

			_, viaH, _ := runIn(t, append(slices.Clone(path), "-h")...)
			assert.Equal(t, out, viaH)
			if len(path) > 0 {
				code, viaHelp, errs := runIn(t, append([]string{"help"}, path...)...)
				require.Equal(t, exitOK, code, errs)
				assert.Equal(t, out, viaHelp, "launcher help %s", strings.Join(path, " "))
			}
		})
	}
	if *update {
		ents, err := os.ReadDir(filepath.Join("testdata", "help"))
		require.NoError(t, err)
		for _, e := range ents {
			if !seen[e.Name()] {
				require.NoError(t, os.Remove(filepath.Join("testdata", "help", e.Name())))
			}
		}
	}
}

// TestEveryCommandDescribed: every command of ours has a short and a long
// description and examples; every flag a meaning.
func TestEveryCommandDescribed(t *testing.T) {
	for _, c := range docCommands(newRootCmd(&env{})) {
		if strings.HasPrefix(c.CommandPath(), "launcher completion") {
			continue // cobra's own, described by cobra
		}
		assert.NotEmpty(t, c.Short, c.CommandPath())
		assert.NotEmpty(t, c.Long, c.CommandPath())
		assert.NotEmpty(t, c.Example, c.CommandPath())
		c.InitDefaultHelpFlag()
		c.Flags().VisitAll(func(f *pflag.Flag) {
			assert.GreaterOrEqual(t, len(f.Usage), 10, "flag --%s of %s", f.Name, c.CommandPath())
		})
	}
}

// TestDocsCLI fails when docs/cli/ differs from the pages generated from
// the command tree; go test ./cmd/launcher -update rewrites it.
func TestDocsCLI(t *testing.T) {
	docs := filepath.Join("..", "..", "docs", "cli")
	gen := t.TempDir()
	code, _, errs := runIn(t, "gendocs", gen)
	require.Equal(t, exitOK, code, errs)
	if *update {
		require.NoError(t, os.RemoveAll(docs))
		require.NoError(t, os.CopyFS(docs, os.DirFS(gen)))
	}
	want, err := os.ReadDir(gen)
	require.NoError(t, err)
	have, err := os.ReadDir(docs)
	require.NoError(t, err, "run go test ./cmd/launcher -run TestDocsCLI -update")
	names := func(es []os.DirEntry) (out []string) {
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	require.Equal(t, names(want), names(have), "docs/cli/ has other pages than the command tree; run go test ./cmd/launcher -update")
	for _, e := range want {
		w, err := os.ReadFile(filepath.Join(gen, e.Name()))
		require.NoError(t, err)
		h, err := os.ReadFile(filepath.Join(docs, e.Name()))
		require.NoError(t, err)
		assert.Equal(t, string(w), string(h), "docs/cli/%s drifted from the command tree; run go test ./cmd/launcher -update", e.Name())
	}
	assert.Contains(t, names(want), "launcher_serve.md")
	assert.Contains(t, names(want), "launcher_app_roots.md")
}
