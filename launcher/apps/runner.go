package apps

import (
	"context"
	"errors"
	"fmt"
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

// ErrStart is wrapped by errors starting an app's process.
var ErrStart = errors.New("apps: starting the app failed")

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// LogDir receives one log file per app, <name>.log, with the app's stdout
	// and stderr appended. Created (0700) if missing.
	LogDir string
	// Env is the environment apps start with (the daemon's, as read by cmd/).
	// Any SAFE_LAUNCHER in it is dropped.
	Env []string
	// ReapInterval is how often exited apps are reaped (default 200 ms).
	ReapInterval time.Duration
	// Logger receives the runner's logs (nil: discard).
	Logger *slog.Logger
}

// Runner starts apps as independent processes: each in its own session
// (setsid, so signals to the daemon's process group do not reach it), with
// stdin from /dev/null and stdout and stderr appended to its log file. The
// Runner reaps the apps that exit while the daemon runs (Run); apps still
// running when the daemon stops are inherited by init (or the nearest
// subreaper), which reaps them.
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
	l := cfg.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, log: l, pids: map[int]string{}}
}

// Run reaps exited apps until ctx ends. It returns ctx's error.
func (r *Runner) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			r.reap()
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
// need their path for the interpreter, are started by path). Start returns the
// process id; the Runner owns the process from then on.
func (r *Runner) Start(app App, exe *os.File, value string, args []string) (int, error) {
	if err := os.MkdirAll(r.cfg.LogDir, 0o700); err != nil {
		return 0, fmt.Errorf("%w: log directory: %v", ErrStart, err)
	}
	logPath := filepath.Join(r.cfg.LogDir, app.Name+".log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("%w: log file: %v", ErrStart, err)
	}
	defer logf.Close()

	env := make([]string, 0, len(r.cfg.Env)+1)
	for _, kv := range r.cfg.Env {
		if !strings.HasPrefix(kv, EnvLauncher+"=") {
			env = append(env, kv)
		}
	}
	argv := []string{app.Exec}
	if app.SecretEnv {
		env = append(env, EnvLauncher+"="+value)
	} else {
		argv = append(argv, "--launcher", value)
	}
	argv = append(argv, args...)

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
		return 0, fmt.Errorf("%w: %s: %v", ErrStart, app.Exec, err)
	}
	pid := cmd.Process.Pid
	r.pids[pid] = app.Name
	// The Runner reaps by pid (Run); the os.Process handle is not needed.
	_ = cmd.Process.Release()
	r.log.Info("app started", "app", app.Name, "pid", pid, "log", logPath)
	return pid, nil
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
