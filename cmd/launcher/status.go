package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/safe-launcher/launcher/launcher/control"
)

func newStatusCmd(e *env, g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the daemon's state, addresses, apps and live sessions",
		Long: `Show the running daemon's state ("locked" or "unlocked"; "unlocked (dev mode)"
for serve --dev), its address (the one apps connect to), the web gateway's URL
("off" when it is off), uptime, version, pid, data directory, number of apps,
and its live sessions with their request and byte counts. --json prints the
control API's Status object (docs/operations.md), whose "locked" is true while
it is locked.`,
		Example: `  launcher status
  launcher status --json
  launcher --data /tmp/d status`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(cmd, g, func(ctx context.Context, c *control.Client) error {
				st, err := c.Status(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(e, st)
				}
				return printStatus(e, st)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printStatus(e *env, st control.Status) error {
	up := time.Duration(st.UptimeSec * float64(time.Second)).Round(time.Second)
	gw := st.GatewayURL
	if gw == "" {
		gw = "off"
	}
	state := "unlocked"
	switch {
	case st.Locked:
		state = "locked"
	case st.Dev:
		state = "unlocked (dev mode: nothing is kept)"
	}
	fmt.Fprintf(e.stdout, "state:     %s\n", state)
	fmt.Fprintf(e.stdout, "address:   %s\n", st.Address)
	fmt.Fprintf(e.stdout, "gateway:   %s\n", gw)
	fmt.Fprintf(e.stdout, "uptime:    %s\n", up)
	fmt.Fprintf(e.stdout, "version:   %s\n", st.Version)
	fmt.Fprintf(e.stdout, "pid:       %d\n", st.PID)
	fmt.Fprintf(e.stdout, "data:      %s\n", st.DataDir)
	fmt.Fprintf(e.stdout, "apps:      %d\n", st.Apps)
	if st.Store != nil {
		fmt.Fprintf(e.stdout, "store:     %d entries, %s content, %s metadata (database %s)\n",
			st.Store.Entries, sizeOf(st.Store.ContentBytes), sizeOf(st.Store.MetadataBytes), sizeOf(st.Store.DatabaseBytes))
	}
	fmt.Fprintf(e.stdout, "sessions:  %d\n", len(st.Sessions))
	if len(st.Sessions) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tREMOTE\tMODE\tSINCE\tREQUESTS\tBYTES IN\tBYTES OUT")
	for _, s := range st.Sessions {
		name := s.App
		if name == "" {
			name = s.AppID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", name, s.Remote, s.Mode,
			s.Since.Local().Format(time.DateTime), s.Requests, s.BytesIn, s.BytesOut)
	}
	return tw.Flush()
}
