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

	"github.com/safe-launcher/launcher/launcher/control"
)

// callTimeout bounds one control call.
const callTimeout = 30 * time.Second

// connect returns a control client for the data directory's daemon, the
// directory made absolute, and a context bounding the call to callTimeout;
// done closes the client and releases the context.
func connect(ctx context.Context, data string) (c *control.Client, dir string, callCtx context.Context, done func(), err error) {
	dir, err = absData(data)
	if err != nil {
		return nil, "", nil, nil, err
	}
	c = control.NewClient(filepath.Join(dir, control.SocketName))
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	return c, dir, callCtx, func() { cancel(); c.Close() }, nil
}

// callErr turns a control error into the CLI's error.
func callErr(dir string, err error) error {
	if errors.Is(err, control.ErrNotRunning) {
		return &notRunningError{dataDir: dir}
	}
	return err
}

// oneName checks that exactly one positional NAME was given.
func oneName(cmd string, pos, rest []string) (string, error) {
	if len(rest) > 0 {
		return "", usagef("%s: unexpected arguments after --", cmd)
	}
	switch len(pos) {
	case 0:
		return "", usagef("%s: missing NAME", cmd)
	case 1:
		return pos[0], nil
	}
	return "", usagef("%s: one NAME expected, got %q", cmd, strings.Join(pos, " "))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func appCommand(ctx context.Context, e env, sub string, args []string) error {
	cmd := "app " + sub
	fs, data := newFlags(cmd)
	var (
		exec          *string
		safeDrive     *bool
		secretEnv     *bool
		asJSON        *bool
		purge         *bool
		acceptChanged *bool
	)
	switch sub {
	case "add":
		exec = fs.String("exec", "", "absolute path of the app's executable")
		safeDrive = fs.Bool("safe-drive", false, "grant SAFEDrive access")
		secretEnv = fs.Bool("secret-env", false, "pass the launcher value in SAFE_LAUNCHER, not argv")
	case "ls":
		asJSON = fs.Bool("json", false, "print JSON")
	case "rm":
		purge = fs.Bool("purge", false, "also delete the app's private root")
	case "launch":
		acceptChanged = fs.Bool("accept-changed", false, "accept a changed executable and record its hash")
	case "grant", "revoke", "token":
	default:
		return usagef("app: unknown subcommand %q (add, ls, rm, grant, revoke, launch, token)", sub)
	}
	pos, rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	c, dir, ctx, done, err := connect(ctx, *data)
	if err != nil {
		return err
	}
	defer done()

	if sub == "ls" {
		if len(pos) > 0 || len(rest) > 0 {
			return usagef("app ls takes no arguments")
		}
		list, err := c.Apps(ctx)
		if err != nil {
			return callErr(dir, err)
		}
		if *asJSON {
			return printJSON(e, list)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tID\tSAFEDRIVE\tSESSIONS")
		for _, a := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", a.Name, a.ID, yesNo(a.SafeDrive), a.Sessions)
		}
		return tw.Flush()
	}

	if sub != "launch" && len(rest) > 0 {
		return usagef("%s: unexpected arguments after --", cmd)
	}
	name, err := oneName(cmd, pos, nil)
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		if *exec == "" {
			return usagef("app add: --exec PATH is required")
		}
		path, err := filepath.Abs(*exec)
		if err != nil {
			return fmt.Errorf("--exec: %w", err)
		}
		a, err := c.Add(ctx, control.AddRequest{Name: name, Exec: path, SafeDrive: *safeDrive, SecretEnv: *secretEnv})
		if err != nil {
			return callErr(dir, err)
		}
		fmt.Fprintf(e.stdout, "added app %s (id %s, root %s, SAFEDrive %s)\n", a.Name, a.ID, a.RootDir, yesNo(a.SafeDrive))
	case "rm":
		r, err := c.Remove(ctx, name, *purge)
		if err != nil {
			return callErr(dir, err)
		}
		root := "kept"
		if r.Purged {
			root = "deleted"
		}
		fmt.Fprintf(e.stdout, "removed app %s (%d sessions ended; root %s %s)\n", r.App.Name, r.EndedSessions, r.App.RootDir, root)
	case "grant":
		if _, err := c.Grant(ctx, name); err != nil {
			return callErr(dir, err)
		}
		fmt.Fprintf(e.stdout, "SAFEDrive granted to %s\n", name)
	case "revoke":
		if _, err := c.Revoke(ctx, name); err != nil {
			return callErr(dir, err)
		}
		fmt.Fprintf(e.stdout, "SAFEDrive revoked from %s\n", name)
	case "launch":
		r, err := c.Launch(ctx, name, control.LaunchRequest{Args: rest, AcceptChanged: *acceptChanged})
		if err != nil {
			return callErr(dir, err)
		}
		if r.AcceptedChange {
			fmt.Fprintf(e.stdout, "accepted the changed executable of %s\n", name)
		}
		fmt.Fprintf(e.stdout, "launched %s (pid %d)\n", name, r.PID)
	case "token":
		v, err := c.Token(ctx, name)
		if err != nil {
			return callErr(dir, err)
		}
		fmt.Fprintln(e.stdout, v)
	}
	return nil
}

func printJSON(e env, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

func status(ctx context.Context, e env, args []string) error {
	fs, data := newFlags("status")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || len(rest) > 0 {
		return usagef("status takes no arguments")
	}
	c, dir, ctx, done, err := connect(ctx, *data)
	if err != nil {
		return err
	}
	defer done()
	st, err := c.Status(ctx)
	if err != nil {
		return callErr(dir, err)
	}
	if *asJSON {
		return printJSON(e, st)
	}
	up := time.Duration(st.UptimeSec * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(e.stdout, "address:   %s\n", st.Address)
	fmt.Fprintf(e.stdout, "uptime:    %s\n", up)
	fmt.Fprintf(e.stdout, "version:   %s\n", st.Version)
	fmt.Fprintf(e.stdout, "pid:       %d\n", st.PID)
	fmt.Fprintf(e.stdout, "data:      %s\n", st.DataDir)
	fmt.Fprintf(e.stdout, "apps:      %d\n", st.Apps)
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
