package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/help/*.golden")

// TestHelpGolden compares the --help of every command with
// testdata/help/<command>.golden (go test ./cmd/framegen -update rewrites
// them), and checks that "framegen help CMD" prints the same.
func TestHelpGolden(t *testing.T) {
	for _, path := range [][]string{{}, {"corpus"}, {"attack"}, {"help"}} {
		name := strings.Join(append([]string{"framegen"}, path...), "_")
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			require.Equal(t, 0, run(append(append([]string{}, path...), "--help"), &out, &errb), errb.String())
			assert.Empty(t, errb.String())
			golden := filepath.Join("testdata", "help", name+".golden")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./cmd/framegen -update")
			assert.Equal(t, string(want), out.String(), "help of %s drifted; run go test ./cmd/framegen -update", name)
			if len(path) > 0 {
				var viaHelp bytes.Buffer
				require.Equal(t, 0, run(append([]string{"help"}, path...), &viaHelp, &errb))
				assert.Equal(t, out.String(), viaHelp.String())
			}
		})
	}
}

// TestUsageErrors checks the exit code 2 and the one-line message of usage
// mistakes, and that flags written with one dash still work.
func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "missing command"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"help", "bogus"}, `help: unknown command "bogus"`},
		{[]string{"attack", "--duration", "10"}, `--duration: invalid value "10"`},
		{[]string{"attack", "--duration", "1s"}, "one of --target and --token-cmd is required"},
		{[]string{"attack", "-conns", "0", "-target", "tcp:127.0.0.1:1:x"}, "--conns: must be a positive integer, got 0"},
		{[]string{"corpus"}, "--out DIR is required"},
		{[]string{"corpus", "-out", "x", "-layout", "deep"}, `--layout: must be tree, flat or cache, got "deep"`},
		{[]string{"corpus", "--out", "x", "extra"}, "unexpected arguments"},
		{[]string{"corpus", "--bogus"}, "unknown flag: --bogus"},
	} {
		var out, errb bytes.Buffer
		assert.Equal(t, 2, run(c.args, &out, &errb), "%v", c.args)
		assert.Contains(t, errb.String(), c.want, "%v", c.args)
		assert.Equal(t, 1, strings.Count(errb.String(), "\n"), "%v: one line: %q", c.args, errb.String())
		assert.True(t, strings.HasPrefix(errb.String(), "framegen: "), errb.String())
	}
}
