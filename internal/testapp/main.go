// Command testapp is a minimal launcher app for the end-to-end tests of the
// launcher CLI. It finds its launcher value with the SDK (the --launcher
// argument, else SAFE_LAUNCHER), connects, does an nfs round trip in its
// private root (create-dir, then get-dir of it and of the root) and writes a
// JSON report to the --report file. With --hold it then keeps the session
// open until the launcher ends it and writes REPORT.ended.
//
// Usage:
//
//	testapp --launcher VALUE --report PATH [--dir NAME] [--hold]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/wire"
)

// Report is what the app writes to its --report file.
type Report struct {
	OK          bool     `json:"ok"`
	Error       string   `json:"error,omitempty"`
	Via         string   `json:"via"` // "argv" or "env": where the launcher value was found
	Argv        []string `json:"argv"`
	EnvSet      bool     `json:"env_set"` // SAFE_LAUNCHER was set
	Mode        string   `json:"mode"`
	Dir         string   `json:"dir"`          // the directory created
	DirListed   string   `json:"dir_listed"`   // its name as get-dir answered
	RootEntries []string `json:"root_entries"` // the root's sub-directories after the create
}

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("testapp", flag.ContinueOnError)
	fs.String("launcher", "", "launcher value (read through the SDK)")
	report := fs.String("report", "", "where to write the JSON report")
	dir := fs.String("dir", "", "directory to create (default: a fresh name)")
	hold := fs.Bool("hold", false, "keep the session until the launcher ends it")
	if err := fs.Parse(os.Args[1:]); err != nil || *report == "" {
		fmt.Fprintln(os.Stderr, "usage: testapp --launcher VALUE --report PATH [--dir NAME] [--hold]")
		return 2
	}
	r := Report{Argv: os.Args, EnvSet: os.Getenv(client.EnvLauncher) != ""}
	if *dir == "" {
		*dir = fmt.Sprintf("testapp-%d", time.Now().UnixNano())
	}
	c, err := roundTrip(&r, *dir)
	if err != nil {
		r.Error = err.Error()
	} else {
		r.OK = true
	}
	if werr := writeJSON(*report, r); werr != nil {
		fmt.Fprintln(os.Stderr, "testapp:", werr)
		return 1
	}
	if c == nil {
		return 1
	}
	defer c.Close()
	if *hold {
		select {
		case <-c.Done():
		case <-time.After(2 * time.Minute):
			return 1
		}
		if err := writeJSON(*report+".ended", map[string]int64{"ended_unix_nano": time.Now().UnixNano()}); err != nil {
			return 1
		}
	}
	return 0
}

func roundTrip(r *Report, dir string) (*client.Client, error) {
	value, err := client.LauncherValue(os.Args[1:])
	if err != nil {
		return nil, err
	}
	r.Via = "env"
	if slices.Contains(os.Args, "--launcher") || slices.ContainsFunc(os.Args, func(a string) bool { return strings.HasPrefix(a, "--launcher=") }) {
		r.Via = "argv"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, value)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	r.Mode = c.Mode()
	r.Dir = dir
	if err := c.CreateDir(ctx, wire.CreateDirRequest{DirPath: dir}); err != nil && !errors.Is(err, wire.ErrAlreadyExists) {
		return c, fmt.Errorf("create-dir: %w", err)
	}
	got, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: dir})
	if err != nil {
		return c, fmt.Errorf("get-dir %s: %w", dir, err)
	}
	r.DirListed = got.Info.Name
	root, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "/"})
	if err != nil {
		return c, fmt.Errorf("get-dir /: %w", err)
	}
	r.RootEntries = []string{}
	for _, d := range root.SubDirectories {
		r.RootEntries = append(r.RootEntries, d.Name)
	}
	return c, nil
}

// writeJSON writes v to path atomically, so a reader never sees half a report.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
