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
	inUse   bool // a handshake holds it (reserve) and has not finished
}

// tokens holds the launcher strings minted and not yet used. A string is
// used up only once the handshake that presented it has written its answer
// (reserve, then commit); a handshake that fails before that gives it back
// (release), so that a connection evicted or dropped mid-handshake does not
// burn the app's string.
type tokens struct {
	mu      sync.Mutex
	pending map[[32]byte]*pendingToken // keyed by SHA-256 of the string
	// nextSweep is the map size at which mint next drops expired strings;
	// doubling it after each sweep keeps minting amortised O(1).
	nextSweep int
	rand      io.Reader
	now       func() time.Time
	ttl       time.Duration
}

func newTokens(rand io.Reader, now func() time.Time, ttl time.Duration) *tokens {
	return &tokens{pending: map[[32]byte]*pendingToken{}, nextSweep: minSweep, rand: rand, now: now, ttl: ttl}
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
	t.pending[sha256.Sum256([]byte(s))] = &pendingToken{token: []byte(s), appID: appID, expires: t.now().Add(t.ttl)}
	return s, nil
}

// ticket is a reserved launcher string, to commit or release.
type ticket struct{ key [32]byte }

// reserve takes s for a handshake and returns its app id. Unknown, used,
// expired strings and strings another handshake holds all wrap
// ErrLauncherString with a reason.
func (t *tokens) reserve(s string) (string, ticket, error) {
	h := sha256.Sum256([]byte(s))
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.pending[h]
	if !ok || subtle.ConstantTimeCompare(p.token, []byte(s)) != 1 {
		return "", ticket{}, fmt.Errorf("%w: unknown or already used", ErrLauncherString)
	}
	if !t.now().Before(p.expires) {
		delete(t.pending, h)
		return "", ticket{}, fmt.Errorf("%w: expired", ErrLauncherString)
	}
	if p.inUse {
		return "", ticket{}, fmt.Errorf("%w: another connection is using it", ErrLauncherString)
	}
	p.inUse = true
	return p.appID, ticket{h}, nil
}

// commit uses the reserved string up.
func (t *tokens) commit(k ticket) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pending, k.key)
}

// release gives a reserved string back, unless it was revoked meanwhile.
func (t *tokens) release(k ticket) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.pending[k.key]; ok {
		p.inUse = false
	}
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
		if !now.Before(p.expires) && !p.inUse {
			delete(t.pending, k)
		}
	}
}
