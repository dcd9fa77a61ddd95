package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary serve as launcherbench's server children:
// startChild re-executes os.Executable with -child, which in tests is this
// binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-child" {
		o, err := parseArgs(os.Args[1:], os.Stdout)
		if err == nil {
			err = run1(o)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"-quick", "-only", "small, files", "-out", "/tmp/x.md", "-baseline", "8a59922"}, nil)
	require.NoError(t, err)
	assert.True(t, o.quick)
	assert.Equal(t, []string{"small", "files"}, o.only)
	assert.Equal(t, "/tmp/x.md", o.out)
	assert.Equal(t, "8a59922", o.baseline)
	assert.Equal(t, "", o.chart)

	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"-only", "small,bogus"}, `unknown section "bogus"`},
		{[]string{"-nope"}, "-nope"},
		{[]string{"-maxconns", "0"}, "-maxconns 0"},
		{[]string{"-maxconns", "many"}, "-maxconns"},
		{[]string{"-out", ""}, "-out is empty"},
		{[]string{"small"}, `unexpected argument "small"`},
		{[]string{"-child", "daemon", "-baseline", "HEAD"}, "-baseline"},
	} {
		_, err := parseArgs(c.args, nil)
		assert.ErrorIs(t, err, errUsage, "%q", c.args)
		assert.ErrorContains(t, err, c.says, "%q", c.args)
	}
}

// -h describes every flag people use, with its default, and gives
// examples; it goes to stdout.
func TestHelpDescribesEveryFlag(t *testing.T) {
	var out bytes.Buffer
	_, err := parseArgs([]string{"-h"}, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	help := out.String()
	var o options
	newFlags(&o).VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "internal:") {
			assert.Contains(t, help, "-"+f.Name+" ", "internal flag %s named", f.Name)
			return
		}
		i := strings.Index(help, "\n  -"+f.Name)
		require.GreaterOrEqual(t, i, 0, "flag -%s described", f.Name)
		entry := help[i+1:]
		if j := strings.Index(entry[1:], "\n  -"); j >= 0 {
			entry = entry[:j+1]
		}
		assert.Contains(t, entry, "Default", "flag -%s says its default", f.Name)
		assert.Greater(t, len(entry), 60, "flag -%s has a description", f.Name)
	})
	for _, want := range []string{"Examples:", "-quick -out", "-baseline 8a59922", "Exit status"} {
		assert.Contains(t, help, want)
	}
	assert.False(t, errors.Is(err, errUsage))
}
