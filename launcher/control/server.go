// Package control owns the daemon's control socket: a Unix socket in the data
// directory (mode 0600; on Linux each peer's uid is checked with SO_PEERCRED
// and connections from other users are closed at once) serving HTTP+JSON on
// versioned routes (/v0/...), and the Go client the CLI uses to talk to it.
//
// The routes are a table (routes in server.go); registering one twice panics
// at start-up. Every answer is JSON: the result on success, or
// {"error":{"code":..., "message":...}} with an HTTP error status; the client
// turns the latter into an *Error that errors.Is matches against the Err*
// sentinels.
//
// The server changes the registry (package apps) and drives the daemon
// (Daemon: mint launcher strings, end an app's sessions, list sessions). A
// removed app's sessions are ended and its pending launcher strings forgotten
// before the answer is sent.
//
// The user's account (Account) is locked and unlocked through POST
// /v0/unlock and /v0/lock, and its passphrase changed through POST
// /v0/passwd: passphrases travel in the request body over the user's own
// socket (mode 0600, peer uid checked) and are never logged; the server
// wipes its copies of them once used (the transport's own buffers, which
// Go does not let it reach, excepted). While the launcher is locked, only
// status, unlock, lock and passwd are served; every other route answers
// CodeLocked.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/apps"
)

// ErrServerClosed is returned by Serve after its context ended.
var ErrServerClosed = errors.New("control: server closed")

// ErrConfig is wrapped by configuration errors of New.
var ErrConfig = errors.New("control: invalid config")

// Daemon is what the control server needs of the launcher daemon.
// *launcher.Server implements it.
type Daemon interface {
	MintLauncherString(appID string) (string, error)
	EndApp(appID string)
	AccessChanged(appID string)
	Sessions() []launcher.SessionInfo
	Stats() launcher.Stats
	Locked() bool
}

// Account is what the control server needs of the user's account: the
// daemon's keyring (cmd/launcher), which holds the keys while unlocked.
// Its errors are passed on as they are: they should be, or wrap, *Error
// values with CodeWrongPassphrase, CodeNoAccount or CodeInvalid, else they
// answer CodeInternal. The passphrase slices are the caller's; the server
// wipes them when the call returns.
type Account interface {
	// Locked reports whether the keys are not loaded.
	Locked() bool
	// Unlock checks the passphrase (with the account's full key
	// derivation, after the back-off that earlier failures earned), loads
	// the keys and lets apps in. It reports false if it was unlocked
	// already (then the passphrase is not checked).
	Unlock(ctx context.Context, passphrase []byte) (changed bool, err error)
	// Lock ends every session and drops the keys. It reports false if it
	// was locked already.
	Lock(ctx context.Context) (changed bool)
	// ChangePassphrase re-wraps the master key under newPass once oldPass
	// opens it.
	ChangePassphrase(ctx context.Context, oldPass, newPass []byte) error
}

var _ Daemon = (*launcher.Server)(nil)

// Storage is what the control server asks the store, for app ls and status.
type Storage interface {
	// AppUsage is what the app whose private root is rootDir holds.
	AppUsage(ctx context.Context, rootDir string) (Usage, error)
	// Size is what the whole store holds.
	Size(ctx context.Context) (StoreSize, error)
}

// Config configures a Server. Registry, Daemon, Runner and Addr are required.
type Config struct {
	Registry *apps.Registry
	Daemon   Daemon
	Runner   *apps.Runner
	// Addr is the daemon's TCP address, used in launcher values.
	Addr net.Addr
	// Version is reported by status.
	Version string
	// DataDir is reported by status.
	DataDir string
	// DNS is the dns module, for the dns routes (nil: not served).
	DNS DNS
	// Gateway is the web gateway's bound address (nil: the gateway is off),
	// shown by status and used in the sites' URLs.
	Gateway net.Addr
	// Account locks and unlocks the launcher (nil: the lock routes answer
	// CodeNoAccount, and Daemon.Locked alone tells whether it is locked).
	Account Account
	// Dev is reported by status: a throwaway daemon (launcher serve --dev).
	Dev bool
	// Storage, if not nil, gives app ls each app's usage and status the
	// store's size; AppQuota is each app's quota, shown beside its usage.
	Storage  Storage
	AppQuota Usage
	// AllowedUID is the only peer uid accepted, where the OS tells it
	// (nil: the daemon's own uid).
	AllowedUID *int
	// Logger receives the server's logs (nil: discard).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Server is the control API. Build it with New; run it with Serve.
type Server struct {
	cfg     Config
	uid     int
	log     *slog.Logger
	mux     *http.ServeMux
	started time.Time
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Registry == nil || cfg.Daemon == nil || cfg.Runner == nil || cfg.Addr == nil {
		return nil, fmt.Errorf("%w: Registry, Daemon, Runner and Addr are required", ErrConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, uid: os.Getuid(), log: cfg.Logger, mux: http.NewServeMux(), started: cfg.Now()}
	if cfg.AllowedUID != nil {
		s.uid = *cfg.AllowedUID
	}
	for _, r := range s.routes() {
		h := r.h
		if !r.whileLocked {
			h = s.unlockedOnly(h)
		}
		s.mux.Handle(r.method+" "+APIPrefix+r.path, s.wrap(h))
	}
	s.mux.Handle("/", s.wrap(func(r *http.Request) (any, error) {
		return nil, &Error{Code: CodeUnknownRoute, Message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)}
	}))
	return s, nil
}

// route is one entry of the route table.
type route struct {
	method, path string // path below APIPrefix
	h            handler
	whileLocked  bool // served while the launcher is locked
}

// handler serves one route: its answer is encoded as JSON.
type handler func(r *http.Request) (any, error)

// routes is the route table.
func (s *Server) routes() []route {
	return []route{
		{"GET", "status", s.status, true},
		{"POST", "unlock", s.unlock, true},
		{"POST", "lock", s.lock, true},
		{"POST", "passwd", s.passwd, true},
		{"GET", "apps", s.list, false},
		{"POST", "apps", s.add, false},
		{"DELETE", "apps/{name}", s.remove, false},
		{"POST", "apps/{name}/grant", s.grant, false},
		{"POST", "apps/{name}/revoke", s.revoke, false},
		{"POST", "apps/{name}/launch", s.launch, false},
		{"POST", "apps/{name}/token", s.token, false},
		{"GET", "dns", s.dnsNames, false},
		{"GET", "dns/resolve/{host}", s.dnsResolve, false},
		{"GET", "roots", s.orphanRoots, false},
		{"DELETE", "roots/{root}", s.purgeRoot, false},
	}
}

// Handler returns the HTTP handler (for in-process tests).
func (s *Server) Handler() http.Handler { return s.mux }

// Serve serves the control API on ln (usually from Listen) until ctx ends,
// then closes ln, lets requests in progress finish (at most 5 s), and returns
// ErrServerClosed. Connections from a peer whose uid is not allowed are closed
// unanswered.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
	})
	err := hs.Serve(&peerListener{Listener: ln, uid: s.uid, log: s.log})
	if !errors.Is(err, http.ErrServerClosed) {
		// ln failed: make the shutdown goroutine return.
		hs.Close()
		wg.Wait()
		return fmt.Errorf("control: serve: %w", err)
	}
	wg.Wait()
	return ErrServerClosed
}

// wrap turns a handler into an http.Handler writing JSON.
func (s *Server) wrap(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		answer, err := h(r)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			status, ce := s.toError(err)
			if status == http.StatusInternalServerError {
				s.log.Error("control request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(errorBody{Error: ce})
			return
		}
		_ = json.NewEncoder(w).Encode(answer)
	})
}

// toError maps an error to an HTTP status and a control *Error; the one place
// where this happens.
func (s *Server) toError(err error) (int, *Error) {
	var ce *Error
	switch {
	case errors.As(err, &ce):
		switch ce.Code {
		case CodeUnknownRoute:
			return http.StatusNotFound, ce
		case CodeInvalid:
			return http.StatusBadRequest, ce
		case CodeLocked:
			return http.StatusLocked, ce
		case CodeWrongPassphrase:
			return http.StatusForbidden, ce
		case CodeNoAccount:
			return http.StatusConflict, ce
		}
		return http.StatusInternalServerError, ce
	case errors.Is(err, apps.ErrNotFound), errors.Is(err, launcher.ErrUnknownApp), errors.Is(err, apps.ErrNoRoot):
		return http.StatusNotFound, &Error{Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, apps.ErrExists):
		return http.StatusConflict, &Error{Code: CodeExists, Message: err.Error()}
	case errors.Is(err, apps.ErrInvalidName), errors.Is(err, apps.ErrBadExec), errors.Is(err, apps.ErrRootInUse):
		return http.StatusBadRequest, &Error{Code: CodeInvalid, Message: err.Error()}
	case errors.Is(err, apps.ErrChanged):
		return http.StatusConflict, &Error{Code: CodeChanged, Message: err.Error()}
	}
	return http.StatusInternalServerError, &Error{Code: CodeInternal, Message: err.Error()}
}

// decode reads a JSON request body strictly into v.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Code: CodeInvalid, Message: "request body: " + err.Error()}
	}
	return nil
}

func (s *Server) sessionsByApp() map[string]int {
	n := map[string]int{}
	for _, si := range s.cfg.Daemon.Sessions() {
		n[si.AppID]++
	}
	return n
}

func info(a apps.App, sessions int) AppInfo {
	return AppInfo{ID: a.ID, Name: a.Name, Exec: a.Exec, SHA512: a.SHA512, SafeDrive: a.SafeDrive,
		SecretEnv: a.SecretEnv, RootDir: a.RootDir, Added: a.Added, Sessions: sessions}
}

func (s *Server) status(*http.Request) (any, error) {
	st := s.cfg.Daemon.Stats()
	list := s.cfg.Registry.List()
	names := make(map[string]string, len(list))
	for _, a := range list {
		names[a.ID] = a.Name
	}
	out := Status{
		Address: s.cfg.Addr.String(), GatewayURL: s.gatewayURL(), Version: s.cfg.Version, PID: os.Getpid(),
		Started: s.started, UptimeSec: s.cfg.Now().Sub(s.started).Seconds(), DataDir: s.cfg.DataDir,
		Apps: len(list), Sessions: []Session{}, Conns: st.Conns, Accepted: st.Accepted, Rejected: st.Rejected,
		Locked: s.locked(), Dev: s.cfg.Dev,
	}
	if s.cfg.Storage != nil && !s.locked() {
		if sz, err := s.cfg.Storage.Size(context.Background()); err == nil {
			out.Store = &sz
		}
	}
	for _, si := range s.cfg.Daemon.Sessions() {
		out.Sessions = append(out.Sessions, Session{App: names[si.AppID], AppID: si.AppID, Remote: si.Remote,
			Mode: si.Mode, Since: si.Since, Requests: si.Requests, BytesIn: si.BytesIn, BytesOut: si.BytesOut})
	}
	return out, nil
}

func (s *Server) list(r *http.Request) (any, error) {
	n := s.sessionsByApp()
	out := []AppInfo{}
	for _, a := range s.cfg.Registry.List() {
		ai := info(a, n[a.ID])
		if s.cfg.Storage != nil && !s.locked() {
			if u, err := s.cfg.Storage.AppUsage(r.Context(), a.RootDir); err == nil {
				q := s.cfg.AppQuota
				ai.Usage, ai.Quota = &u, &q
			}
		}
		out = append(out, ai)
	}
	return out, nil
}

func (s *Server) add(r *http.Request) (any, error) {
	var req AddRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	a, err := s.cfg.Registry.Add(apps.AddRequest{Name: req.Name, Exec: req.Exec, SafeDrive: req.SafeDrive, SecretEnv: req.SecretEnv})
	if err != nil {
		return nil, err
	}
	return info(a, 0), nil
}

func (s *Server) remove(r *http.Request) (any, error) {
	purge := r.URL.Query().Get("purge") == "true"
	// All or nothing: on an error the app is still registered.
	res, err := s.cfg.Registry.Remove(r.PathValue("name"), purge)
	if err != nil {
		return nil, err
	}
	a := res.App
	ended := s.sessionsByApp()[a.ID]
	s.cfg.Daemon.EndApp(a.ID)
	deleted := res.Deleted
	if deleted == nil {
		deleted = []string{}
	}
	names := res.Names
	if names == nil {
		names = []string{}
	}
	return RemoveResult{App: info(a, 0), Purged: purge, EndedSessions: ended, DeletedRoots: deleted, DeletedNames: names}, nil
}

func (s *Server) orphanRoots(*http.Request) (any, error) {
	roots := s.cfg.Registry.OrphanRoots()
	if roots == nil {
		roots = []string{}
	}
	return RootsResult{Roots: roots}, nil
}

func (s *Server) purgeRoot(r *http.Request) (any, error) {
	if err := s.cfg.Registry.PurgeRoot(r.PathValue("root")); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// gatewayURL is the gateway's base URL, "" when it is off.
func (s *Server) gatewayURL() string {
	if s.cfg.Gateway == nil {
		return ""
	}
	return "http://" + s.cfg.Gateway.String() + "/"
}

func (s *Server) grant(r *http.Request) (any, error) {
	a, err := s.cfg.Registry.SetSafeDrive(r.PathValue("name"), true)
	if err != nil {
		return nil, err
	}
	s.cfg.Daemon.AccessChanged(a.ID)
	return info(a, s.sessionsByApp()[a.ID]), nil
}

func (s *Server) revoke(r *http.Request) (any, error) {
	a, err := s.cfg.Registry.SetSafeDrive(r.PathValue("name"), false)
	if err != nil {
		return nil, err
	}
	s.cfg.Daemon.AccessChanged(a.ID)
	return info(a, s.sessionsByApp()[a.ID]), nil
}

func (s *Server) launch(r *http.Request) (any, error) {
	var req LaunchRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	before, err := s.cfg.Registry.Get(name)
	if err != nil {
		return nil, err
	}
	a, exe, err := s.cfg.Registry.Verify(name, req.AcceptChanged)
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	ls, err := s.cfg.Daemon.MintLauncherString(a.ID)
	if err != nil {
		return nil, err
	}
	pid, err := s.cfg.Runner.Start(a, exe, launcher.LauncherValue(s.cfg.Addr, ls), req.Args)
	if err != nil {
		return nil, err
	}
	return LaunchResult{PID: pid, AcceptedChange: a.SHA512 != before.SHA512}, nil
}

func (s *Server) token(r *http.Request) (any, error) {
	a, err := s.cfg.Registry.Get(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	ls, err := s.cfg.Daemon.MintLauncherString(a.ID)
	if err != nil {
		return nil, err
	}
	return TokenResult{Value: launcher.LauncherValue(s.cfg.Addr, ls)}, nil
}
