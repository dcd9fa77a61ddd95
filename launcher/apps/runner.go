package apps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EnvLauncher is the environment variable that carries the launcher value to
// an app registered with SecretEnv.
const EnvLauncher = "SAFE_LAUNCHER"

// EnvGatewayURL is the environment variable that carries the base URL of the
// daemon's web gateway (e.g. http://127.0.0.1:30080/) to every launched app;
// it is unset when the gateway is off. A site <service>.<long_name> is served
// at the same scheme and port with the host <service>.<long_name>.localhost.
const EnvGatewayURL = "LAUNCHER_GATEWAY_URL"

// DefaultMaxLogBytes is the size at which an app's log is rotated when
// RunnerConfig.MaxLogBytes is 0.
const DefaultMaxLogBytes = 1 << 20

// ErrStart is wrapped by errors starting an app's process.
var ErrStart = errors.New("apps: starting the app failed")

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// LogDir receives one log file per app, <name>.log, with a header line
	// per launch and the app's stdout and stderr appended. Created (0700) if
	// missing; it must be a real directory, and the logs regular files, not
	// symbolic links.
	LogDir string
	// MaxLogBytes is the size at which <name>.log is rotated: its content
	// moves to <name>.log.1 (replacing the older one) and <name>.log starts
	// empty. Checked at each launch and, while apps the Runner started run,
	// at each reap (0: DefaultMaxLogBytes).
	MaxLogBytes int64
	// Env is the environment apps start with (the daemon's, as read by cmd/).
	// Any SAFE_LAUNCHER or LAUNCHER_GATEWAY_URL in it is dropped.
	Env []string
	// GatewayURL is the web gateway's base URL, passed to apps in
	// LAUNCHER_GATEWAY_URL ("": the gateway is off, the variable is unset).
	GatewayURL string
	// ReapInterval is how often exited apps are reaped (default 200 ms).
	ReapInterval time.Duration
	// Now is the clock of the log headers (nil: time.Now).
	Now func() time.Time
	// Logger receives the runner's logs (nil: discard).
	Logger *slog.Logger
}

// Runner starts apps as independent processes: each in its own session
// (setsid, so signals to the daemon's process group do not reach it), with
// stdin from /dev/null and stdout and stderr appended to its log file. The
// Runner reaps the apps that exit while the daemon runs (Run); apps still
// running when the daemon stops are inherited by init (or the nearest
// subreaper), which reaps them.
//
// Logs are rotated by copy and truncate (as logrotate's copytruncate): a
// running app keeps its descriptor, opened with O_APPEND, and writes on at
// the start of the emptied file. Output written while the copy is made (a
// millisecond for 1 MiB) can be lost.
type Runner struct {
	cfg RunnerConfig
	log *slog.Logger

	mu   sync.Mutex
	pids map[int]string // started and not yet reaped -> app name
}

// NewRunner returns a Runner; call Run to reap the apps it starts.
func NewRunner(cfg RunnerConfig) *Runner {
	if cfg.ReapInterval <= 0 {
		cfg.ReapInterval = 200 * time.Millisecond
	}
	if cfg.MaxLogBytes <= 0 {
		cfg.MaxLogBytes = DefaultMaxLogBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := cfg.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, log: l, pids: map[int]string{}}
}

// Run reaps exited apps, and rotates the logs of those still running, until
// ctx ends. It returns ctx's error.
func (r *Runner) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			r.reap()
			r.rotateRunning()
		}
	}
}

// Running returns the number of started apps not yet reaped.
func (r *Runner) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pids)
}

func (r *Runner) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, name := range r.pids {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.ECHILD):
			delete(r.pids, pid)
		case err != nil || got != pid:
			// still running (got == 0) or interrupted: try again later
		default:
			delete(r.pids, pid)
			r.log.Info("app exited", "app", name, "pid", pid, "status", ws.ExitStatus(), "signaled", ws.Signaled())
		}
	}
}

// Start starts app with the launcher value (tcp:<ip>:<port>:<launcher_string>)
// and extra args after it. The value goes on the command line as
// `--launcher VALUE` or, for a SecretEnv app, only in SAFE_LAUNCHER. exe is
// the executable opened by Registry.Verify: on Linux the process is started
// from that descriptor, so it runs the bytes that were hashed (scripts, which
// need their path for the interpreter, are started by path). Before the start
// the app's log is rotated if it reached the bound and a header line with the
// time is appended to it. Start returns the process id; the Runner owns the
// process from then on.
func (r *Runner) Start(app App, exe *os.File, value string, args []string) (int, error) {
	logf, logPath, err := r.openLog(app.Name)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrStart, err)
	}
	defer logf.Close()

	env := make([]string, 0, len(r.cfg.Env)+2)
	for _, kv := range r.cfg.Env {
		if !strings.HasPrefix(kv, EnvLauncher+"=") && !strings.HasPrefix(kv, EnvGatewayURL+"=") {
			env = append(env, kv)
		}
	}
	if r.cfg.GatewayURL != "" {
		env = append(env, EnvGatewayURL+"="+r.cfg.GatewayURL)
	}
	argv := []string{app.Exec}
	if app.SecretEnv {
		env = append(env, EnvLauncher+"="+value)
	} else {
		argv = append(argv, "--launcher", value)
	}
	argv = append(argv, args...)

	header := fmt.Sprintf("==== %s launcher: starting %s (%s) ====\n", r.cfg.Now().UTC().Format(time.RFC3339), app.Name, app.Exec)
	if _, err := logf.WriteString(header); err != nil {
		return 0, fmt.Errorf("%w: log file %s: %v", ErrStart, logPath, err)
	}
	cmd := &exec.Cmd{
		Path:        execPath(app.Exec, exe),
		Args:        argv,
		Env:         env,
		Dir:         filepath.Dir(app.Exec),
		Stdout:      logf,
		Stderr:      logf,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(logf, "==== launcher: %s did not start: %v ====\n", app.Name, err)
		return 0, fmt.Errorf("%w: %s: %v", ErrStart, app.Exec, err)
	}
	pid := cmd.Process.Pid
	r.pids[pid] = app.Name
	// The Runner reaps by pid (Run); the os.Process handle is not needed.
	_ = cmd.Process.Release()
	r.log.Info("app started", "app", app.Name, "pid", pid, "log", logPath)
	return pid, nil
}

// openLog makes sure the log directory is a real directory, rotates the
// app's log if it reached the bound, and opens it for appending without
// following a symbolic link.
func (r *Runner) openLog(name string) (*os.File, string, error) {
	if err := ensureRealDir(r.cfg.LogDir); err != nil {
		return nil, "", err
	}
	path := filepath.Join(r.cfg.LogDir, name+".log")
	f, err := openNoFollow(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND)
	if err != nil {
		return nil, "", err
	}
	if err := r.rotate(f, path); err != nil {
		f.Close()
		return nil, "", err
	}
	return f, path, nil
}

// rotateRunning rotates the logs of the apps started and not yet reaped.
func (r *Runner) rotateRunning() {
	r.mu.Lock()
	names := map[string]bool{}
	for _, n := range r.pids {
		names[n] = true
	}
	r.mu.Unlock()
	for n := range names {
		path := filepath.Join(r.cfg.LogDir, n+".log")
		f, err := openNoFollow(path, os.O_RDWR)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r.log.Warn("app log", "app", n, "err", err)
			}
			continue
		}
		if err := r.rotate(f, path); err != nil {
			r.log.Warn("rotating an app log", "app", n, "err", err)
		}
		f.Close()
	}
}

// rotate copies the log open as f (at path) to path.1 and empties it, if it
// holds MaxLogBytes or more. path.1 is replaced by a rename, so a symbolic
// link there is replaced, never followed.
func (r *Runner) rotate(f *os.File, path string) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < r.cfg.MaxLogBytes {
		return nil
	}
	src, err := openNoFollow(path, os.O_RDONLY)
	if err != nil {
		return err
	}
	defer src.Close()
	if sst, err := src.Stat(); err != nil || !os.SameFile(st, sst) {
		return fmt.Errorf("%s was replaced while it was rotated", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, src)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path+".1")
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("rotating %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("rotating %s: %w", path, err)
	}
	r.log.Info("app log rotated", "log", path, "bytes", st.Size())
	return nil
}

// openNoFollow opens the regular file at path with flag|O_NOFOLLOW (mode
// 0600 if created). A symbolic link, a file that is not regular and a file
// with other hard links (which could be someone else's file) are refused.
func openNoFollow(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s is a symbolic link; the daemon never makes one: remove it", path)
		}
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Nlink > 1 {
		f.Close()
		return nil, fmt.Errorf("%s has %d hard links; the daemon never makes one: remove it", path, sys.Nlink)
	}
	return f, nil
}

// ensureRealDir creates dir (0700) if missing and checks that it is a
// directory, not a symbolic link to one.
func ensureRealDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("log directory: %w", err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("log directory: %w", err)
	}
	if st.Mode()&fs.ModeSymlink != 0 || !st.IsDir() {
		return fmt.Errorf("log directory %s is not a directory (%v); the daemon never makes a link: remove it", dir, st.Mode().Type())
	}
	return nil
}

// execPath returns the path to execute: /proc/self/fd/N for an ELF binary on
// Linux (the descriptor stays open in the child until exec), the path otherwise.
func execPath(path string, exe *os.File) string {
	if exe == nil || runtime.GOOS != "linux" {
		return path
	}
	var magic [4]byte
	if n, err := exe.ReadAt(magic[:], 0); err != nil || n != 4 || string(magic[:]) != "\x7fELF" {
		return path
	}
	p := "/proc/self/fd/" + strconv.Itoa(int(exe.Fd()))
	if _, err := os.Stat(p); err != nil {
		return path
	}
	return p
}
