package main

import (
	"context"
	"fmt"
	"text/tabwriter"
)

// dnsCommand runs `launcher dns ls` and `launcher dns resolve HOST`.
func dnsCommand(ctx context.Context, e env, sub string, args []string) error {
	cmd := "dns " + sub
	fs, data := newFlags(cmd)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	c, dir, ctx, done, err := connect(ctx, *data)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "ls":
		if len(pos) > 0 || len(rest) > 0 {
			return usagef("dns ls takes no arguments")
		}
		names, err := c.DNSNames(ctx)
		if err != nil {
			return callErr(dir, err)
		}
		if *asJSON {
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
	case "resolve":
		host, err := oneName(cmd, pos, rest)
		if err != nil {
			return err
		}
		r, err := c.Resolve(ctx, host)
		if err != nil {
			return callErr(dir, err)
		}
		if *asJSON {
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
	}
	return usagef("dns: unknown subcommand %q (ls, resolve)", sub)
}
