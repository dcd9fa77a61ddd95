package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// newGendocsCmd is the hidden "launcher gendocs DIR": it writes the
// reference pages of docs/cli/, one markdown page per command, from the
// command tree. TestDocsCLI fails when docs/cli/ differs from what it
// writes; go test ./cmd/launcher -update rewrites it.
func newGendocsCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "gendocs DIR",
		Short:  "Write the reference pages of the commands to DIR",
		Hidden: true,
		Args:   exactArgs("DIR"),
		RunE: func(_ *cobra.Command, args []string) error {
			pages, err := docPages(root)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			for name, text := range pages {
				if err := os.WriteFile(filepath.Join(args[0], name), text, 0o644); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// docCommands returns the commands documented: every available command of
// the tree, and help, depth first.
func docCommands(root *cobra.Command) []*cobra.Command {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		out = append(out, c)
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() || s.Name() == "help" {
				walk(s)
			}
		}
	}
	walk(root)
	return out
}

// pageName is the file name of cmd's page: launcher_app_add.md.
func pageName(cmd *cobra.Command) string {
	return strings.ReplaceAll(cmd.CommandPath(), " ", "_") + ".md"
}

// docPages renders one page per documented command, keyed by file name.
func docPages(root *cobra.Command) (map[string][]byte, error) {
	pages := map[string][]byte{}
	for _, c := range docCommands(root) {
		c.InitDefaultHelpFlag()
		c.InitDefaultVersionFlag()
		var b bytes.Buffer
		fmt.Fprintf(&b, "# %s\n\n", c.CommandPath())
		b.WriteString("<!-- Generated from the command tree by `go test ./cmd/launcher -update`; do not edit. -->\n\n")
		fmt.Fprintf(&b, "%s.\n\n", c.Short)
		if c.Long != "" {
			fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(c.Long))
		}
		fmt.Fprintf(&b, "```\n%s```\n", c.UsageString())
		var links []string
		if p := c.Parent(); p != nil {
			links = append(links, fmt.Sprintf("- [%s](%s): %s", p.CommandPath(), pageName(p), p.Short))
		}
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() || s.Name() == "help" {
				links = append(links, fmt.Sprintf("- [%s](%s): %s", s.CommandPath(), pageName(s), s.Short))
			}
		}
		if len(links) > 0 {
			fmt.Fprintf(&b, "\n## See also\n\n%s\n", strings.Join(links, "\n"))
		}
		pages[pageName(c)] = b.Bytes()
	}
	return pages, nil
}
