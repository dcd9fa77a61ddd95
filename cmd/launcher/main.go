// Command launcher runs the launcher daemon and manages its apps.
//
// Usage:
//
//	launcher serve [--data DIR] [--listen ADDR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/safe-launcher/launcher/launcher"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: launcher serve [--data DIR] [--listen ADDR]")
		return 2
	}
	switch args[0] {
	case "serve":
		if err := serve(args[1:], stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "launcher:", err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "launcher: unknown command %q\n", args[0])
		return 2
	}
}

func defaultDataDir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "safe-launcher")
	}
	return ".safe-launcher"
}

func serve(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", defaultDataDir(), "data directory")
	listen := fs.String("listen", launcher.DefaultListen, "loopback address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := launcher.DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := launcher.New(cfg, launcher.NewMemApps())
	if err != nil {
		return err
	}
	ln, err := launcher.Listen(ctx, *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, launcher.ErrServerClosed) {
		return err
	}
	return nil
}
