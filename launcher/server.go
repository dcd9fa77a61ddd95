package launcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/wire"
)

// Module is a set of routes (nfs, dns). Register is called once by New.
type Module interface {
	Register(t *route.Table)
}

// ErrServerClosed is returned by Serve after Shutdown or when its context ends.
var ErrServerClosed = errors.New("launcher: server closed")

// ErrUnknownApp is returned when minting a launcher string for an app that is
// not registered.
var ErrUnknownApp = errors.New("launcher: unknown app")

// Server is the daemon core. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	apps   Apps
	table  *route.Table
	tokens *tokens
	budget *budget
	start  time.Time
	// Lines a hostile peer could repeat at will are rate-limited.
	refusedLog *rateLog // wrong launcher strings, malformed handshakes
	peerLog    *rateLog // connections from other users

	mu          sync.Mutex
	sessions    map[*session]struct{} // accepted and not yet finished
	seq         uint64                // accept order, for eviction
	evicting    int                   // sessions evicted whose goroutine has not exited
	handshaking map[uint32]int        // verified peers not yet authenticated, by uid
	closing     bool
	locked      bool // see lock.go
	lns         map[net.Listener]struct{}
	wg          sync.WaitGroup // one per session goroutine

	writers sync.Pool // of *bufio.Writer: sessions' output buffers (outWriter)
	bufs    sync.Pool // of *[]byte: frame buffers, cleared before they go back

	changes  atomic.Uint64 // changes notified so far (events.go)
	wmu      sync.RWMutex
	watchers map[*session]struct{} // sessions with at least one watch

	activity atomic.Int64 // unix ns of the last request, for LastActivity
	accepted atomic.Int64
	rejected atomic.Int64
	evicted  atomic.Int64
}

// New builds a server serving the given modules for the registered apps.
// It panics if two modules register the same route.
func New(cfg Config, apps Apps, modules ...Module) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if apps == nil {
		return nil, fmt.Errorf("%w: nil Apps", ErrConfig)
	}
	t := route.NewTable(wire.V1_0, wire.V1_1)
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger,
		apps:        apps,
		table:       t,
		tokens:      newTokens(cfg.Rand, cfg.Now, cfg.TokenTTL),
		budget:      newBudget(cfg.InFlightBudget, cfg.AppBudget),
		start:       cfg.Now(),
		refusedLog:  newRateLog(cfg.Logger, cfg.Now, time.Second),
		peerLog:     newRateLog(cfg.Logger, cfg.Now, time.Second),
		sessions:    map[*session]struct{}{},
		handshaking: map[uint32]int{},
		watchers:    map[*session]struct{}{},
		lns:         map[net.Listener]struct{}{},
	}
	s.locked = cfg.Locked
	s.touch()
	t.SetNotifier(s)
	s.registerModule(t)
	for _, m := range modules {
		m.Register(t)
	}
	return s, nil
}

// MintLauncherString returns a fresh single-use launcher string for a
// registered app, valid for Config.TokenTTL.
func (s *Server) MintLauncherString(appID string) (string, error) {
	if _, ok := s.apps.App(appID); !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownApp, appID)
	}
	return s.tokens.mint(appID)
}

// LauncherValue formats the --launcher value "tcp:<ip>:<port>:<launcher_string>"
// for a listener address.
func LauncherValue(addr net.Addr, launcherString string) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "tcp:" + addr.String() + ":" + launcherString
	}
	return "tcp:" + host + ":" + port + ":" + launcherString
}

// EndApp ends every live session of appID at once and forgets its pending
// launcher strings. The registry calls it when an app is removed.
func (s *Server) EndApp(appID string) {
	s.tokens.revokeApp(appID)
	s.mu.Lock()
	var victims []*session
	for c := range s.sessions {
		if c.phase == phaseSession && c.appID == appID {
			victims = append(victims, c)
		}
	}
	s.mu.Unlock()
	for _, c := range victims {
		if c.hasWatches() {
			// Its watches hear "closing" before the session ends: requests
			// are cancelled, nothing more is read, and the writer sends
			// what is due, then the session closes.
			c.killed.Store(true) // gone for Sessions and Stats at once
			c.tellWatches(wire.EventClosing, func(*watch) bool { return true })
			c.cancel()
			c.stopReading()
			continue
		}
		c.kill()
	}
}

// SessionInfo describes a live session.
type SessionInfo struct {
	AppID    string
	Remote   string
	Mode     string
	Since    time.Time
	Requests int64
	BytesIn  int64
	BytesOut int64
}

// Sessions lists the live authenticated sessions. A session ended by EndApp
// or a kill is left out at once, even while its goroutine is still unwinding.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SessionInfo
	for c := range s.sessions {
		if c.live() {
			out = append(out, c.info())
		}
	}
	return out
}

// Stats are counters for status and tests.
type Stats struct {
	Uptime         time.Duration
	Conns          int   // open connections (handshaking or authenticated)
	Sessions       int   // authenticated sessions
	Accepted       int64 // connections accepted since start
	Rejected       int64 // connections closed at once (connection cap, per-user handshake cap, other users)
	Evicted        int64 // handshaking connections closed to make room under the cap
	InFlightBytes  int64 // budget in use
	InFlightBudget int64
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{Conns: len(s.sessions)}
	for c := range s.sessions {
		if c.live() {
			st.Sessions++
		}
	}
	s.mu.Unlock()
	st.Uptime = s.cfg.Now().Sub(s.start)
	st.Accepted = s.accepted.Load()
	st.Rejected = s.rejected.Load()
	st.Evicted = s.evicted.Load()
	st.InFlightBytes = s.budget.inUse()
	st.InFlightBudget = s.cfg.InFlightBudget
	return st
}

// Serve accepts connections on ln until ctx ends or Shutdown is called, then
// shuts down gracefully (see Shutdown) and returns ErrServerClosed. It closes ln.
// Each connection runs in one goroutine (its session's reader), which starts
// the session's writer once the handshake is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace+time.Second)
		defer cancel()
		s.Shutdown(sctx)
	})
	defer stop()

	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing || errors.Is(err, net.ErrClosed) {
				s.wg.Wait()
				return ErrServerClosed
			}
			// Temporary failure (e.g. out of file descriptors): back off.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			continue
		}
		delay = 0
		s.accepted.Add(1)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		if len(s.sessions)-s.evicting >= s.cfg.MaxConns && !s.evictLocked() {
			s.mu.Unlock()
			s.rejected.Add(1)
			refuse(nc, wire.CodeBusy, "too many connections")
			continue
		}
		s.seq++
		c := newSession(ctx, s, nc, s.seq)
		s.sessions[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.run()
			s.mu.Lock()
			delete(s.sessions, c)
			if c.evicted {
				s.evicting--
			}
			if c.phase == phaseHandshake {
				s.handshakeDoneLocked(c.uid)
			}
			s.mu.Unlock()
		}()
	}
}

// evictLocked makes room for a new connection when the cap is reached: it
// closes the oldest connection whose peer has not been checked yet, else the
// oldest handshaking one that has not presented a launcher string, so that
// idle or slow pre-authentication connections (which any local process can
// open) cannot lock apps out. Authenticated sessions, and handshakes holding
// a launcher string (which finish within microseconds), are never evicted.
// It reports false when there is nothing to evict. s.mu must be held.
func (s *Server) evictLocked() bool {
	if s.evicting >= s.cfg.MaxConns {
		return false // evicted connections have not exited yet: refuse
	}
	var victim *session
	for c := range s.sessions {
		if c.evicted || c.reserved || c.phase == phaseSession {
			continue
		}
		if victim == nil || c.phase < victim.phase || c.phase == victim.phase && c.seq < victim.seq {
			victim = c
		}
	}
	if victim == nil {
		return false
	}
	victim.evicted = true
	s.evicting++
	s.evicted.Add(1)
	victim.kill()
	return true
}

// handshakeStartLocked counts a verified peer's connection until its
// handshake ends; it reports false when the peer's user has
// MaxHandshakesPerUser handshakes open already. s.mu must be held.
func (s *Server) handshakeStartLocked(uid uint32) bool {
	if s.handshaking[uid] >= s.cfg.MaxHandshakesPerUser {
		return false
	}
	s.handshaking[uid]++
	return true
}

// handshakeDoneLocked undoes handshakeStartLocked. s.mu must be held.
func (s *Server) handshakeDoneLocked(uid uint32) {
	if s.handshaking[uid]--; s.handshaking[uid] <= 0 {
		delete(s.handshaking, uid)
	}
}

// refuse closes a connection at once. A short unassociated error is
// attempted first without blocking the caller for long.
func refuse(nc net.Conn, code wire.Code, desc string) {
	_ = nc.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	_ = framing.WriteFrame(nc, wire.AppendError(nil, "", code, desc))
	nc.Close()
}

// Shutdown stops accepting, lets in-flight requests finish for at most
// Config.ShutdownGrace (or until ctx ends), then closes every connection and
// waits for their goroutines. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closing
	s.closing = true
	for ln := range s.lns {
		ln.Close()
		delete(s.lns, ln)
	}
	all := s.sessionList()
	s.mu.Unlock()
	if first {
		s.log.Info("shutting down", "connections", len(all))
	}
	// Interrupt reads: each session finishes the request it is executing and
	// writes the answers it owes, then ends.
	for _, c := range all {
		if c.hasWatches() {
			c.tellWatches(wire.EventClosing, func(*watch) bool { return true })
		}
		c.stopReading()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	grace := time.NewTimer(s.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
		return nil
	case <-grace.C:
	case <-ctx.Done():
	}
	s.mu.Lock()
	all = s.sessionList()
	s.mu.Unlock()
	for _, c := range all {
		c.kill()
	}
	<-done
	return nil
}

// sessionList returns the open connections; s.mu must be held.
func (s *Server) sessionList() []*session {
	out := make([]*session, 0, len(s.sessions))
	for c := range s.sessions {
		out = append(out, c)
	}
	return out
}
