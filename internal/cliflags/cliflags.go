// Package cliflags owns what the project's command-line tools share about
// their flags on top of cobra: the single-dash spelling of long flags that
// their earlier parsers (Go's flag package) accepted.
package cliflags

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// LongFlagCompat rewrites "-name" and "-name=value" before any "--" to
// "--name..." when name is a long flag (local or persistent) of root or
// one of its commands, so that scripts written for a tool's earlier parser
// keep working. A one-letter name is rewritten only if oneLetter is true
// (a tool with a long flag of one letter and no shorthands); otherwise
// "-x" is left to cobra as a shorthand. args itself is not changed.
func LongFlagCompat(root *cobra.Command, args []string, oneLetter bool) []string {
	names := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if (oneLetter || len(name) > 1) && names[name] {
			out[i] = "-" + a
		}
	}
	return out
}
