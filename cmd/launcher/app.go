package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/safe-launcher/launcher/launcher/control"
)

// callTimeout bounds one control call.
const callTimeout = 30 * time.Second

// completionTimeout bounds the control call of a shell completion.
const completionTimeout = 2 * time.Second

// call runs f with a client of the data directory's daemon and a context
// bounded by callTimeout, and turns "no daemon" into a notRunningError.
func call(cmd *cobra.Command, g *globalOptions, f func(ctx context.Context, c *control.Client) error) error {
	return callWithin(cmd, g, callTimeout, f)
}

// callWithin is call with the context bounded by timeout.
func callWithin(cmd *cobra.Command, g *globalOptions, timeout time.Duration, f func(ctx context.Context, c *control.Client) error) error {
	dir, err := g.dataDir()
	if err != nil {
		return err
	}
	c := control.NewClient(filepath.Join(dir, control.SocketName))
	defer c.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	if err := f(ctx, c); err != nil {
		if errors.Is(err, control.ErrNotRunning) {
			return &notRunningError{dataDir: dir}
		}
		return err
	}
	return nil
}

// completeAppNames completes the first argument with the names of the
// daemon's apps (nothing when it does not answer).
func completeAppNames(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		dir, err := g.dataDir()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c := control.NewClient(filepath.Join(dir, control.SocketName))
		defer c.Close()
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		list, err := c.Apps(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := make([]string, 0, len(list))
		for _, a := range list {
			names = append(names, a.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printJSON(e *env, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

func newAppCmd(e *env, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Add, list, launch and remove the apps the daemon knows",
		Long: `Manage the apps the daemon knows: register them (add), list them (ls), launch
them, mint launcher strings for them (token), give or take SAFEDrive access
(grant, revoke), remove them (rm), and list or delete the private roots that
removed apps left behind (roots).

An app is known by its NAME: 1 to 64 ASCII letters, digits, '-', '_' and '.',
starting with a letter or digit.`,
		Example: `  launcher app add mail --exec ./mail-app
  launcher app launch mail -- --inbox work
  launcher app rm mail --purge`,
		Args: groupArgs,
		RunE: missingCommand,
	}
	cmd.AddCommand(newAppAddCmd(e, g), newAppLsCmd(e, g), newAppRmCmd(e, g), newAppRootsCmd(e, g),
		newAppGrantCmd(e, g, true), newAppGrantCmd(e, g, false), newAppLaunchCmd(e, g), newAppTokenCmd(e, g))
	return cmd
}

func newAppAddCmd(e *env, g *globalOptions) *cobra.Command {
	var (
		exec                 string
		safeDrive, secretEnv bool
	)
	cmd := &cobra.Command{
		Use:   "add NAME --exec PATH",
		Short: "Register an app",
		Long: `Register an app under NAME, with the executable at PATH (made absolute; a regular
file with an execute bit). Its SHA-512 is recorded: a launch refuses a binary
that changed since. The app gets its private root NAME-Root-Dir in the store
(NAME-Root-Dir-2, -3, ... when a root of that name is left from a removed app:
a new app never inherits another's files). It has no SAFEDrive access unless
--safe-drive is given.`,
		Example: `  launcher app add mail --exec ./mail-app
  launcher app add site --exec /opt/site/site-app --safe-drive --secret-env`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if exec == "" {
				return usagef("app add: --exec PATH is required")
			}
			path, err := filepath.Abs(exec)
			if err != nil {
				return fmt.Errorf("--exec: %w", err)
			}
			return call(cmd, g, func(ctx context.Context, c *control.Client) error {
				a, err := c.Add(ctx, control.AddRequest{Name: args[0], Exec: path, SafeDrive: safeDrive, SecretEnv: secretEnv})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "added app %s (id %s, root %s, SAFEDrive %s)\n", a.Name, a.ID, a.RootDir, yesNo(a.SafeDrive))
				return nil
			})
		},
	}
	fs := cmd.Flags()
	stringFlag(fs, &exec, "exec", "PATH", "the app's executable (required; made absolute)")
	fs.BoolVar(&safeDrive, "safe-drive", false, "grant SAFEDrive access now (default: no access; see app grant)")
	fs.BoolVar(&secretEnv, "secret-env", false, "at launch, pass the launcher value in the environment variable SAFE_LAUNCHER instead of --launcher VALUE on the command line, so it does not show in ps")
	_ = cmd.MarkFlagFilename("exec")
	cmd.ValidArgsFunction = cobra.NoFileCompletions
	return cmd
}

func newAppLsCmd(e *env, g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the apps",
		Long: `List the apps: name, id, SAFEDrive access and live sessions. --json prints an
array for scripts (fields id, name, exec, sha512, safe_drive, secret_env,
root_dir, added, sessions; [] when there are no apps).`,
		Example: `  launcher app ls
  launcher app ls --json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(cmd, g, func(ctx context.Context, c *control.Client) error {
				list, err := c.Apps(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(e, list)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tID\tSAFEDRIVE\tSESSIONS\tENTRIES\tCONTENT\tMETADATA")
				for _, a := range list {
					entries, content, meta := "-", "-", "-"
					if a.Usage != nil && a.Quota != nil {
						entries = fmt.Sprintf("%d/%d", a.Usage.Entries, a.Quota.Entries)
						content = sizeOf(a.Usage.ContentBytes) + "/" + sizeOf(a.Quota.ContentBytes)
						meta = sizeOf(a.Usage.MetadataBytes) + "/" + sizeOf(a.Quota.MetadataBytes)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", a.Name, a.ID, yesNo(a.SafeDrive), a.Sessions, entries, content, meta)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAppRmCmd(e *env, g *globalOptions) *cobra.Command {
	var purge bool
	cmd := &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove an app",
		Long: `Unregister the app NAME. Its live sessions are closed before the command
returns, and the launcher strings minted for it and not yet used stop working.
Its private root is kept (launcher app roots lists it) unless --purge deletes
it with everything in it; --purge also deletes the roots that earlier apps of
the same name left behind and the dns names the app registered. All of it is
one change: if any part fails, nothing is removed.`,
		Example: `  launcher app rm mail
  launcher app rm site --purge`,
		Args:              exactArgs("NAME"),
		ValidArgsFunction: completeAppNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd, g, func(ctx context.Context, c *control.Client) error {
				r, err := c.Remove(ctx, args[0], purge)
				if err != nil {
					return err
				}
				root := r.App.RootDir + " kept"
				if r.Purged {
					root = r.App.RootDir + " deleted"
				}
				var earlier []string
				for _, d := range r.DeletedRoots {
					if d != r.App.RootDir {
						earlier = append(earlier, d)
					}
				}
				if len(earlier) > 0 {
					root += fmt.Sprintf(", and %s left by an earlier app of that name", strings.Join(earlier, ", "))
				}
				if len(r.DeletedNames) > 0 {
					root += fmt.Sprintf("; dns names %s deleted", strings.Join(r.DeletedNames, ", "))
				}
				fmt.Fprintf(e.stdout, "removed app %s (%d sessions ended; root %s)\n", r.App.Name, r.EndedSessions, root)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&purge, "purge", false, "also delete the app's private root, and those earlier apps of the same name left, with everything in them, and its dns names")
	return cmd
}

func newAppRootsCmd(e *env, g *globalOptions) *cobra.Command {
	var (
		purge  []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "roots",
		Short: "List or delete the private roots no app owns",
		Long: `List the private roots in the store that no app owns: those kept by
"launcher app rm NAME" without --purge (a new app of the same name gets a new
root, NAME-Root-Dir-2 and so on, so the old one stays). --purge ROOT deletes
one of them with everything in it; the root of a registered app is refused
(remove the app with --purge instead).`,
		Example: `  launcher app roots
  launcher app roots --purge mail-Root-Dir
  launcher app roots --json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(cmd, g, func(ctx context.Context, c *control.Client) error {
				if len(purge) > 0 {
					for _, r := range purge {
						if err := c.PurgeRoot(ctx, r); err != nil {
							return err
						}
						fmt.Fprintf(e.stdout, "deleted root %s\n", r)
					}
					return nil
				}
				roots, err := c.Roots(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(e, roots)
				}
				fmt.Fprintln(e.stdout, "ROOT")
				for _, r := range roots {
					fmt.Fprintln(e.stdout, r)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVar(&purge, "purge", nil, "delete the root named `ROOT` (repeat the flag for several) instead of listing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as a JSON array")
	_ = cmd.RegisterFlagCompletionFunc("purge", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		var roots []string
		_ = call(cmd, g, func(ctx context.Context, c *control.Client) error {
			ctx, cancel := context.WithTimeout(ctx, completionTimeout)
			defer cancel()
			roots, _ = c.Roots(ctx)
			return nil
		})
		return roots, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func newAppGrantCmd(e *env, g *globalOptions, grant bool) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grant NAME",
		Short: "Give an app SAFEDrive access",
		Long: `Give the app NAME access to SAFEDrive, the user's shared root. Live sessions
see the change at their next request, without reconnecting.`,
		Example:           "  launcher app grant mail",
		Args:              exactArgs("NAME"),
		ValidArgsFunction: completeAppNames(g),
	}
	if !grant {
		cmd.Use, cmd.Short = "revoke NAME", "Take an app's SAFEDrive access away"
		cmd.Long = `Take the app NAME's access to SAFEDrive away. Live sessions see the change at
their next request: a SAFEDrive request is then refused with -208.`
		cmd.Example = "  launcher app revoke mail"
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return call(cmd, g, func(ctx context.Context, c *control.Client) error {
			name := args[0]
			if grant {
				if _, err := c.Grant(ctx, name); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "SAFEDrive granted to %s\n", name)
				return nil
			}
			if _, err := c.Revoke(ctx, name); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "SAFEDrive revoked from %s\n", name)
			return nil
		})
	}
	return cmd
}

func newAppLaunchCmd(e *env, g *globalOptions) *cobra.Command {
	var acceptChanged bool
	cmd := &cobra.Command{
		Use:   "launch NAME [-- ARGS...]",
		Short: "Start an app with a fresh launcher string",
		Long: `Check the app's executable against its recorded SHA-512, mint a launcher string
and start the app as an independent process with --launcher
tcp:IP:PORT:STRING followed by ARGS (or with the value in SAFE_LAUNCHER for an
app added with --secret-env). The environment variable LAUNCHER_GATEWAY_URL
holds the web gateway's base URL (unset when it is off).

Its output goes to DIR/logs/NAME.log, after a header line with the time of
the launch; the log is rotated at 1MiB (the older part kept in NAME.log.1).
A binary that changed since it was added is refused unless --accept-changed.`,
		Example: `  launcher app launch mail
  launcher app launch mail -- --inbox work
  launcher app launch mail --accept-changed`,
		Args: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			n := len(args)
			if dash >= 0 {
				n = dash
			}
			switch {
			case n == 0:
				return usagef("app launch: missing NAME; run %q", helpLine(cmd))
			case n > 1:
				return usagef("app launch: one NAME expected, got %q (put the app's arguments after --)", strings.Join(args[:n], " "))
			}
			return nil
		},
		ValidArgsFunction: completeAppNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd, g, func(ctx context.Context, c *control.Client) error {
				r, err := c.Launch(ctx, args[0], control.LaunchRequest{Args: args[1:], AcceptChanged: acceptChanged})
				if err != nil {
					return err
				}
				if r.AcceptedChange {
					fmt.Fprintf(e.stdout, "accepted the changed executable of %s\n", args[0])
				}
				fmt.Fprintf(e.stdout, "launched %s (pid %d)\n", args[0], r.PID)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&acceptChanged, "accept-changed", false, "accept an executable that changed since it was added, and record its new SHA-512")
	return cmd
}

func newAppTokenCmd(e *env, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "token NAME",
		Short: "Mint a launcher string without starting the app",
		Long: `Mint a launcher string for the app NAME without starting anything, and print
exactly one line: the --launcher value tcp:IP:PORT:STRING. For apps started by
hand (under a debugger, say) and for tests. The string is single-use and
expires after --token-ttl of the daemon (2 minutes by default).`,
		Example: `  launcher app token mail
  ./mail-app --launcher "$(launcher app token mail)"`,
		Args:              exactArgs("NAME"),
		ValidArgsFunction: completeAppNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd, g, func(ctx context.Context, c *control.Client) error {
				v, err := c.Token(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, v)
				return nil
			})
		},
	}
}

// sizeOf prints a byte count in binary units (1.5GiB).
func sizeOf(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
