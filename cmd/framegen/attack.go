package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/framing"
)

// Minter returns a fresh launcher value "tcp:<ip>:<port>:<launcher_string>".
type Minter func(ctx context.Context) (string, error)

// AttackConfig configures an attack run.
type AttackConfig struct {
	// Addr is the daemon's host:port.
	Addr string
	// ProbeValue is a launcher value kept for the final probe when there is no
	// Minter (the one from -target).
	ProbeValue string
	// Mint mints launcher values for connections that complete a handshake, and
	// for the probe. Without it the classes that need a session are skipped.
	Mint Minter
	// Conns is the number of concurrent connections.
	Conns int
	// Frames stops the attack once this many frames were sent, a failed dial
	// counting as one (0: no limit).
	Frames int64
	// Duration stops the attack after this long (0: no limit; one of Frames and
	// Duration must be set).
	Duration time.Duration
	// Seed makes the choice of classes and payloads reproducible.
	Seed uint64
	// IOTimeout bounds every read and write of the tool.
	IOTimeout time.Duration
	// DripInterval is the pause between bytes of the drip class.
	DripInterval time.Duration
	// DripMax is how long a drip goes on before it is counted as a timeout
	// (the daemon's handshake deadline should cut it first).
	DripMax time.Duration
	// DripConns caps how many connections drip at once.
	DripConns int
	// HugeB64 is the decoded size of the huge base64 fields.
	HugeB64 int
	// ClaimSize is the length the claim-big class announces.
	ClaimSize uint64
	// Classes restricts the mutation classes (empty: all).
	Classes []string
	// PID, when non-zero, is the daemon's process to sample (RSS, threads, fds).
	PID int
	// MaxRSSMB is the RSS bound checked at the end when PID is set.
	MaxRSSMB int64
	// Settle bounds how long the end waits for RSS to fall under the bound.
	Settle time.Duration
	// Out receives the report.
	Out io.Writer
}

func (c *AttackConfig) defaults() error {
	if c.Conns <= 0 {
		c.Conns = 32
	}
	if c.IOTimeout <= 0 {
		c.IOTimeout = 15 * time.Second
	}
	if c.DripInterval <= 0 {
		c.DripInterval = time.Second
	}
	if c.DripMax <= 0 {
		c.DripMax = 30 * time.Second
	}
	if c.DripConns <= 0 {
		c.DripConns = 2
	}
	if c.HugeB64 <= 0 {
		c.HugeB64 = 4 << 20
	}
	if c.ClaimSize == 0 {
		c.ClaimSize = 256 << 20
	}
	if c.MaxRSSMB <= 0 {
		c.MaxRSSMB = 1024
	}
	if c.Settle <= 0 {
		c.Settle = 10 * time.Second
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Frames <= 0 && c.Duration <= 0 {
		return errors.New("framegen: one of -n and -duration must be set")
	}
	if c.Addr == "" {
		return errors.New("framegen: no target address")
	}
	if c.Mint == nil && c.ProbeValue == "" {
		return errors.New("framegen: need -target with a launcher string or -token-cmd")
	}
	for _, n := range c.Classes {
		if !slices.ContainsFunc(allClasses(), func(k class) bool { return k.name == n }) {
			return fmt.Errorf("framegen: unknown class %q", n)
		}
	}
	return nil
}

// Report is the result of an attack.
type Report struct {
	Classes    []ClassStats
	Skipped    []string // classes skipped for want of a launcher-string source
	Unexpected []string // a sample of unexpected answers
	Notes      []string // a sample of what timed out and of failed dials
	Probe      error    // nil when the final probe passed
	Proc       *ProcSummary
	RSSOver    bool // the final RSS was over the bound
}

// Failed reports whether the run must exit non-zero: the probe failed, RSS
// ended over the bound, or the daemon gave an answer that breaks the protocol.
func (r *Report) Failed() bool {
	n := 0
	for _, c := range r.Classes {
		n += int(c.Unexpected)
	}
	return r.Probe != nil || r.RSSOver || n > 0
}

// ClassStats counts the cases of one mutation class.
type ClassStats struct {
	Name       string
	Cases      int64 // connections driven
	Sent       int64 // frames (or frame attempts) written
	ErrAnswers int64 // answers carrying an error (plain or associated)
	OKAnswers  int64 // answers without error
	Closed     int64 // cases where the daemon closed the connection
	Timeouts   int64 // cases where a read timed out or a drip was not cut
	NoConn     int64 // cases whose connection could not be made (the daemon never saw them)
	Busy       int64 // cases refused by the connection cap or budget
	Aborted    int64 // cases cut by the end of the run
	Unexpected int64 // answers that break the protocol
}

// caseResult is the outcome of one case.
type caseResult struct {
	sent       int
	errAnswers int
	okAnswers  int
	closed     bool
	timeout    bool
	noConn     bool
	busy       bool
	aborted    bool
	why        string // what timed out, or why the dial failed
	unexpected []string
}

func (r *caseResult) bad(format string, args ...any) {
	r.unexpected = append(r.unexpected, fmt.Sprintf(format, args...))
}

type collector struct {
	mu         sync.Mutex
	stats      map[string]*ClassStats
	unexpected []string
	notes      []string
}

func (c *collector) add(name string, r caseResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats[name]
	if s == nil {
		s = &ClassStats{Name: name}
		c.stats[name] = s
	}
	s.Cases++
	s.Sent += int64(r.sent)
	s.ErrAnswers += int64(r.errAnswers)
	s.OKAnswers += int64(r.okAnswers)
	s.Unexpected += int64(len(r.unexpected))
	switch {
	case r.aborted:
		s.Aborted++
	case r.busy:
		s.Busy++
	}
	if r.closed {
		s.Closed++
	}
	if r.timeout && !r.aborted {
		s.Timeouts++
	}
	if r.noConn && !r.aborted {
		s.NoConn++
	}
	if (r.timeout || r.noConn) && !r.aborted && r.why != "" && len(c.notes) < 10 {
		c.notes = append(c.notes, name+": "+r.why)
	}
	for _, u := range r.unexpected {
		if len(c.unexpected) < 20 {
			c.unexpected = append(c.unexpected, name+": "+u)
		}
	}
}

// env is what the classes share during a run.
type env struct {
	cfg     *AttackConfig
	dripSem chan struct{}
	libOnce sync.Once
	library library
}

// Attack runs the attack described by cfg and the final probe, and prints the
// report to cfg.Out. ctx ends it early (the probe still runs, with its own
// time limit).
func Attack(ctx context.Context, cfg AttackConfig) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var classes []class
	rep := &Report{}
	for _, k := range allClasses() {
		if len(cfg.Classes) > 0 && !slices.Contains(cfg.Classes, k.name) {
			continue
		}
		if k.needsToken && cfg.Mint == nil {
			rep.Skipped = append(rep.Skipped, k.name)
			continue
		}
		classes = append(classes, k)
	}
	if len(classes) == 0 {
		return nil, errors.New("framegen: no mutation class to run")
	}

	var sampler *procSampler
	if cfg.PID > 0 {
		var err error
		if sampler, err = startSampler(cfg.PID, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}

	var runCtx context.Context
	var cancel context.CancelFunc
	if cfg.Duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
	} else {
		runCtx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	e := &env{cfg: &cfg, dripSem: make(chan struct{}, cfg.DripConns)}
	col := &collector{stats: map[string]*ClassStats{}}
	var sent atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < cfg.Conns; w++ {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
		wg.Go(func() {
			for runCtx.Err() == nil && (cfg.Frames <= 0 || sent.Load() < cfg.Frames) {
				k := classes[rng.IntN(len(classes))]
				if k.name == "drip" {
					select {
					case e.dripSem <- struct{}{}:
					default:
						continue // enough drips running: pick again
					}
				}
				r := k.run(runCtx, e, rng)
				if k.name == "drip" {
					<-e.dripSem
				}
				if runCtx.Err() != nil && !r.closed && r.errAnswers+r.okAnswers == 0 {
					r.aborted = true
				}
				n := int64(r.sent)
				if r.noConn {
					n = 1 // a failed dial is an attempt: -frames ends a run that cannot connect
				}
				sent.Add(n)
				col.add(k.name, r)
			}
		})
	}
	wg.Wait()
	cancel()

	for _, k := range classes {
		if s := col.stats[k.name]; s != nil {
			rep.Classes = append(rep.Classes, *s)
		} else {
			rep.Classes = append(rep.Classes, ClassStats{Name: k.name})
		}
	}
	rep.Unexpected, rep.Notes = col.unexpected, col.notes

	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	rep.Probe = Probe(pctx, cfg.Addr, cfg.ProbeValue, cfg.Mint)
	pcancel()

	if sampler != nil {
		rep.Proc, rep.RSSOver = sampler.finish(ctx, cfg.MaxRSSMB, cfg.Settle)
	}
	printReport(cfg.Out, &cfg, rep)
	return rep, nil
}

// ---- connection helpers ----

// wconn is one attack connection with deadlines on every operation. It is
// closed when the run's context ends.
type wconn struct {
	nc      net.Conn
	fr      *framing.Reader
	timeout time.Duration
	stop    func() bool
}

func dialConn(ctx context.Context, e *env) (*wconn, error) {
	d := net.Dialer{Timeout: e.cfg.IOTimeout}
	nc, err := d.DialContext(ctx, "tcp", e.cfg.Addr)
	if err != nil {
		return nil, err
	}
	w := &wconn{nc: nc, fr: framing.NewReader(nc, 1<<30), timeout: e.cfg.IOTimeout}
	w.stop = context.AfterFunc(ctx, func() { nc.Close() })
	return w, nil
}

func (w *wconn) close() {
	w.stop()
	w.nc.Close()
}

func (w *wconn) write(b []byte) error {
	_ = w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
	_, err := w.nc.Write(b)
	return err
}

func (w *wconn) closeWrite() {
	if tc, ok := w.nc.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// readFrame reads one frame within the I/O timeout.
func (w *wconn) readFrame() ([]byte, error) {
	_ = w.nc.SetReadDeadline(time.Now().Add(w.timeout))
	return w.fr.ReadFrame()
}

// readOutcome classifies a read error: the daemon closed, a timeout, or another failure.
type readOutcome int

const (
	outClosed readOutcome = iota
	outTimeout
	outOther
)

func classify(err error) readOutcome {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, framing.ErrTruncated), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return outClosed
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return outTimeout
	}
	return outOther
}

// expectClosed waits for the daemon to close the connection and records it.
func (w *wconn) expectClosed(r *caseResult) {
	_ = w.nc.SetReadDeadline(time.Now().Add(w.timeout))
	var buf [512]byte
	for {
		n, err := w.nc.Read(buf[:])
		if err != nil {
			switch classify(err) {
			case outClosed:
				r.closed = true
			case outTimeout:
				r.timeout = true
			default:
				r.closed = true
			}
			return
		}
		if n > 0 {
			r.bad("%d unexpected bytes before close", n)
			return
		}
	}
}

// ---- token source ----

// TokenCmd returns a Minter that runs argv (no shell) and reads the launcher
// value from the last non-empty line of its standard output.
func TokenCmd(argv []string, timeout time.Duration) Minter {
	return func(ctx context.Context) (string, error) {
		if len(argv) == 0 {
			return "", errors.New("framegen: empty -token-cmd")
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
		cmd.WaitDelay = time.Second
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("framegen: token command %q: %w", strings.Join(argv, " "), err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		v := strings.TrimSpace(lines[len(lines)-1])
		if _, err := client.ParseLauncherValue(v); err != nil {
			return "", fmt.Errorf("framegen: token command printed %q: %w", truncateText(v, 80), err)
		}
		return v, nil
	}
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
