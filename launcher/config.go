package launcher

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/safe-launcher/launcher/framing"
)

// Config holds a Server's settings. Start from DefaultConfig.
type Config struct {
	// MaxFrame is the largest frame payload accepted (default 300 MiB).
	MaxFrame uint64
	// MaxHandshakeFrame is the largest handshake frame accepted (default 64 KiB).
	MaxHandshakeFrame uint64
	// HandshakeTimeout bounds the whole handshake, from accept to answer (default 10 s).
	HandshakeTimeout time.Duration
	// TokenTTL is how long a launcher string stays valid (default 2 min).
	TokenTTL time.Duration
	// MaxConns caps concurrent connections; the ones over it are closed at once (default 256).
	MaxConns int
	// MaxHandshakesPerUser caps the connections of one peer user that have
	// not finished their handshake (default 64); more are refused at once.
	// Where the peer's user cannot be known (no PeerCheck), all peers count
	// as one user.
	MaxHandshakesPerUser int
	// InFlightBudget caps the bytes of frames being read or processed, and of
	// large answers being written, across all connections (default 1 GiB).
	// Bytes are taken as they arrive, not as a frame claims them; an eighth
	// of it is kept for frames of at most 64 KiB, so that small requests
	// find room while large transfers fill the rest.
	InFlightBudget int64
	// AppBudget caps what one app's sessions hold of InFlightBudget at once
	// (default half of it).
	AppBudget int64
	// BudgetWait is how long a frame waits for budget before it is refused with
	// a busy error (default 5 s).
	BudgetWait time.Duration
	// FrameIdleTimeout bounds how long the body of a session frame may stall:
	// once a length prefix has arrived, each read of the body must bring bytes
	// within this time, or the session ends (default 30 s); and the whole body
	// must arrive within this time plus one second per MiB. A peer that claims a
	// large frame and stalls or trickles holds in-flight budget only that long.
	// It does not apply between frames: an idle session may stay open.
	FrameIdleTimeout time.Duration
	// MaxJSONDepth caps the nesting of request JSON (default 32).
	MaxJSONDepth int
	// WriteTimeout bounds writing one answer to a peer that does not read (default 60 s).
	WriteTimeout time.Duration
	// ShutdownGrace bounds how long in-flight requests may run after shutdown begins (default 5 s).
	ShutdownGrace time.Duration
	// RefuseFixedNonce refuses sessions in the original fixed-nonce mode. The
	// default (false) accepts them, for compatibility with the original apps;
	// see docs/security.md.
	RefuseFixedNonce bool
	// PeerCheck, if not nil, refuses before the handshake any connection
	// whose peer socket belongs to another user than PeerCheck.UID (see
	// docs/security.md). Nil turns the check off.
	PeerCheck *PeerCheck
	// Locked starts the launcher locked (see Server.Lock): apps are refused
	// with -134 until Unlock.
	Locked bool
	// Version is the build's semantic version, which launcher/version
	// reports (default "0.0.0-dev").
	Version string
	// GatewayURL, if not nil, returns the web gateway's base URL for
	// launcher/version ("" when the gateway is off).
	GatewayURL func() string
	// Logger receives the daemon's logs (default: discard).
	Logger *slog.Logger
	// Rand is the source of keys, nonces and launcher strings (default crypto/rand).
	Rand io.Reader
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		MaxFrame:             framing.DefaultMaxSize,
		MaxHandshakeFrame:    64 << 10,
		HandshakeTimeout:     10 * time.Second,
		TokenTTL:             2 * time.Minute,
		MaxConns:             256,
		MaxHandshakesPerUser: 64,
		InFlightBudget:       1 << 30,
		BudgetWait:           5 * time.Second,
		FrameIdleTimeout:     30 * time.Second,
		MaxJSONDepth:         32,
		WriteTimeout:         60 * time.Second,
		ShutdownGrace:        5 * time.Second,
	}
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("launcher: invalid config")

// withDefaults fills zero values from DefaultConfig and validates the result.
// orDefault sets *v to def when *v is the zero value.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	orDefault(&c.MaxFrame, d.MaxFrame)
	orDefault(&c.MaxHandshakeFrame, d.MaxHandshakeFrame)
	orDefault(&c.HandshakeTimeout, d.HandshakeTimeout)
	orDefault(&c.TokenTTL, d.TokenTTL)
	orDefault(&c.MaxConns, d.MaxConns)
	orDefault(&c.MaxHandshakesPerUser, d.MaxHandshakesPerUser)
	orDefault(&c.InFlightBudget, d.InFlightBudget)
	orDefault(&c.AppBudget, c.InFlightBudget/2)
	orDefault(&c.BudgetWait, d.BudgetWait)
	orDefault(&c.FrameIdleTimeout, d.FrameIdleTimeout)
	orDefault(&c.MaxJSONDepth, d.MaxJSONDepth)
	orDefault(&c.WriteTimeout, d.WriteTimeout)
	orDefault(&c.ShutdownGrace, d.ShutdownGrace)
	orDefault(&c.Version, "0.0.0-dev")
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.MaxFrame > 1<<40:
		return c, fmt.Errorf("%w: MaxFrame %d is over 1 TiB", ErrConfig, c.MaxFrame)
	case c.MaxHandshakeFrame > c.MaxFrame:
		return c, fmt.Errorf("%w: MaxHandshakeFrame %d is over MaxFrame %d", ErrConfig, c.MaxHandshakeFrame, c.MaxFrame)
	case c.MaxConns < 0, c.InFlightBudget < 0, c.AppBudget < 0, c.MaxJSONDepth < 0, c.MaxHandshakesPerUser < 0:
		return c, fmt.Errorf("%w: negative limit", ErrConfig)
	case c.AppBudget > c.InFlightBudget:
		return c, fmt.Errorf("%w: AppBudget %d is over InFlightBudget %d", ErrConfig, c.AppBudget, c.InFlightBudget)
	case c.PeerCheck != nil && c.PeerCheck.Owner == nil:
		return c, fmt.Errorf("%w: PeerCheck without an Owner", ErrConfig)
	case c.HandshakeTimeout < 0, c.TokenTTL < 0, c.BudgetWait < 0, c.FrameIdleTimeout < 0, c.WriteTimeout < 0, c.ShutdownGrace < 0:
		return c, fmt.Errorf("%w: negative duration", ErrConfig)
	}
	return c, nil
}
