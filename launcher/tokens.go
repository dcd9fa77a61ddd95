package launcher

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// ErrLauncherString is returned when a launcher string is unknown, used or expired.
var ErrLauncherString = errors.New("launcher: invalid launcher string")

// tokenBytes is the entropy of a launcher string.
const tokenBytes = 32

// minSweep is the smallest number of pending strings that triggers a sweep of
// the expired ones.
const minSweep = 64

type pendingToken struct {
	token   []byte
	appID   string
	expires time.Time
}

// tokens holds the launcher strings minted and not yet used.
type tokens struct {
	mu      sync.Mutex
	pending map[[32]byte]pendingToken // keyed by SHA-256 of the string
	// nextSweep is the map size at which mint next drops expired strings;
	// doubling it after each sweep keeps minting amortised O(1).
	nextSweep int
	rand      io.Reader
	now       func() time.Time
	ttl       time.Duration
}

func newTokens(rand io.Reader, now func() time.Time, ttl time.Duration) *tokens {
	return &tokens{pending: map[[32]byte]pendingToken{}, nextSweep: minSweep, rand: rand, now: now, ttl: ttl}
}

// mint makes a new single-use launcher string for appID.
func (t *tokens) mint(appID string) (string, error) {
	var raw [tokenBytes]byte
	if _, err := io.ReadFull(t.rand, raw[:]); err != nil {
		return "", fmt.Errorf("launcher: reading random launcher string: %w", err)
	}
	s := base64.RawURLEncoding.EncodeToString(raw[:])
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) >= t.nextSweep {
		t.sweepLocked()
		t.nextSweep = max(minSweep, 2*len(t.pending))
	}
	t.pending[sha256.Sum256([]byte(s))] = pendingToken{token: []byte(s), appID: appID, expires: t.now().Add(t.ttl)}
	return s, nil
}

// redeem consumes s and returns its app id. Unknown, used and expired strings
// all wrap ErrLauncherString with a reason.
func (t *tokens) redeem(s string) (string, error) {
	h := sha256.Sum256([]byte(s))
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.pending[h]
	if !ok || subtle.ConstantTimeCompare(p.token, []byte(s)) != 1 {
		return "", fmt.Errorf("%w: unknown or already used", ErrLauncherString)
	}
	delete(t.pending, h)
	if !t.now().Before(p.expires) {
		return "", fmt.Errorf("%w: expired", ErrLauncherString)
	}
	return p.appID, nil
}

// revokeApp forgets every pending string of appID.
func (t *tokens) revokeApp(appID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, p := range t.pending {
		if p.appID == appID {
			delete(t.pending, k)
		}
	}
}

// sweepLocked drops expired strings so the map cannot grow without bound.
func (t *tokens) sweepLocked() {
	now := t.now()
	for k, p := range t.pending {
		if !now.Before(p.expires) {
			delete(t.pending, k)
		}
	}
}
