package gcfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPercentFor: the heap goal is the floor for a small live heap (GOGC at
// most 1000), the process's own GOGC for a live heap of half the floor or
// more, and the process's own for a while after a large message.
func TestPercentFor(t *testing.T) {
	now := time.Unix(1000, 0)
	tu := &Tuner{floor: 32 << 20, base: 100, now: func() time.Time { return now }}
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100}, {1 << 20, 1000}, {3 << 20, 966}, {8 << 20, 300}, {16 << 20, 100}, {20 << 20, 100}, {1 << 30, 100},
	} {
		require.Equal(t, c.want, tu.percentFor(c.live), "live %d", c.live)
	}
	tu.lastLarge = now.Add(-time.Second)
	require.Equal(t, 100, tu.percentFor(3<<20), "within hold of a large message")
	tu.lastLarge = now.Add(-hold)
	require.Equal(t, 966, tu.percentFor(3<<20), "hold over")
	tu.base = 200
	require.Equal(t, 200, tu.percentFor(16<<20), "the process's own GOGC is a minimum")
}

// TestTuner: on a small heap, a collection raises GOGC; Large puts the
// process's own back at once; Stop leaves it as it found it.
func TestTuner(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	tu := Start(256 << 20) // far above this test's live heap
	defer tu.Stop()
	require.Eventually(t, func() bool {
		runtime.GC()
		return tu.Percent() > 100
	}, 10*time.Second, 10*time.Millisecond, "GOGC not raised after collections")
	require.Equal(t, tu.Percent(), debug.SetGCPercent(tu.Percent()), "the runtime's GOGC is the Tuner's")

	tu.Large()
	require.Equal(t, 100, tu.Percent())
	require.Equal(t, 100, debug.SetGCPercent(100))
	seen := tu.seen()
	require.Eventually(t, func() bool {
		runtime.GC()
		return tu.seen() > seen
	}, 10*time.Second, 10*time.Millisecond, "no collection seen")
	require.Equal(t, 100, tu.Percent(), "raised again within hold of a large message")

	tu.Stop()
	require.Equal(t, 100, debug.SetGCPercent(100), "Stop restores the process's own GOGC")
}

// TestTunerLeavesLaxGOGC: a process whose GOGC is off or already high is
// left alone.
func TestTunerLeavesLaxGOGC(t *testing.T) {
	old := debug.SetGCPercent(2000)
	defer debug.SetGCPercent(old)
	tu := Start(256 << 20)
	runtime.GC()
	tu.Large()
	tu.Stop()
	require.Equal(t, 2000, debug.SetGCPercent(2000))
}

func (t *Tuner) seen() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cycles
}
