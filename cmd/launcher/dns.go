package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/safe-launcher/launcher/launcher/control"
)

func newDNSCmd(e *env, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dns",
		Short: "List and resolve the names apps registered for their sites",
		Long: `Look at the names apps registered with the dns module: a long name (e.g.
example) with services (e.g. www), each pointing at a directory of the app's.
The web gateway serves service.longname at http://service.longname.localhost:PORT/.`,
		Example: `  launcher dns ls
  launcher dns resolve www.example`,
		Args: groupArgs,
		RunE: missingCommand,
	}
	cmd.AddCommand(newDNSLsCmd(e, g), newDNSResolveCmd(e, g))
	return cmd
}

func newDNSLsCmd(e *env, g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List every registered service",
		Long: `List every registered service of every long name: the host, the app that
registered the name, the root and current path of the home directory, and the
URL where the running gateway serves it ("(deleted)" when the directory is
gone, "(private)" for a private directory, "-" when the gateway is off).`,
		Example: `  launcher dns ls
  launcher dns ls --json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(cmd, g, func(ctx context.Context, c *control.Client) error {
				names, err := c.DNSNames(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(e, names)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "HOST\tOWNER\tROOT\tPATH\tURL")
				for _, n := range names {
					for _, s := range n.Services {
						path, url := s.Path, s.URL
						switch {
						case s.Gone:
							path, url = "(deleted)", "-"
						case s.Private:
							url = "(private)"
						case url == "":
							url = "-"
						}
						fmt.Fprintf(tw, "%s.%s\t%s\t%s\t%s\t%s\n", s.Name, n.LongName, n.Owner, s.Root, path, url)
					}
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newDNSResolveCmd(e *env, g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "resolve HOST",
		Short: "Resolve service.longname to its home directory",
		Long: `Resolve HOST, written service.longname, to its home directory: the app that
owns it, the root and path, whether it is private, and its gateway URL.`,
		Example: `  launcher dns resolve www.example
  launcher dns resolve www.example --json`,
		Args: exactArgs("HOST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd, g, func(ctx context.Context, c *control.Client) error {
				r, err := c.Resolve(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(e, r)
				}
				fmt.Fprintf(e.stdout, "host:     %s\n", r.Host)
				fmt.Fprintf(e.stdout, "owner:    %s\n", r.Owner)
				fmt.Fprintf(e.stdout, "root:     %s\n", r.Root)
				fmt.Fprintf(e.stdout, "path:     %s\n", r.Path)
				fmt.Fprintf(e.stdout, "private:  %s\n", yesNo(r.Private))
				if r.URL != "" {
					fmt.Fprintf(e.stdout, "url:      %s\n", r.URL)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.ValidArgsFunction = cobra.NoFileCompletions
	return cmd
}
