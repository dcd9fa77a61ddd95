package account

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestCalibrate drives calibrate with made-up machines, whose derivation
// takes fixed + perPass*passes (plus a cold penalty on chosen runs): the
// passes found make a derivation land near the target, within 1..MaxTime;
// the memory is always MinMemoryKiB and the passes at least MinTime.
func TestCalibrate(t *testing.T) {
	threads := uint8(min(runtime.NumCPU(), 4))
	ms := time.Millisecond
	for _, c := range []struct {
		name           string
		fixed, perPass time.Duration
		cold           []bool // runs that pay fault costs (250 ms)
		want           uint32 // 0: anything from 10 to 19
	}{
		{"this VM warm", 0, 26 * ms, nil, 19},
		{"this VM, first run cold", 0, 26 * ms, []bool{true}, 19},
		{"this VM, two runs cold", 0, 26 * ms, []bool{true, true}, 19},
		{"this VM, every run cold", 0, 26 * ms, []bool{true, true, true, true, true}, 10}, // 250+10*26 = 510 ms
		{"this VM, cold then warm then cold", 0, 26 * ms, []bool{true, false, true, false, true}, 0},
		{"fast", 2 * ms, 5 * ms, nil, 64},        // capped at MaxTime
		{"slow", 0, 900 * ms, nil, MinTime},      // keeps its floors
		{"overhead", 100 * ms, 40 * ms, nil, 10}, // 100+10*40 = 500 ms
		{"instant", 0, 0, nil, MaxTime},
	} {
		var runs []Params
		p := calibrate(500*ms, func(p Params) time.Duration {
			d := c.fixed + c.perPass*time.Duration(p.Time)
			if len(runs) < len(c.cold) && c.cold[len(runs)] {
				d += 250 * ms
			}
			runs = append(runs, p)
			return d
		})
		want := Params{Time: c.want, MemoryKiB: MinMemoryKiB, Threads: threads}
		if c.want == 0 {
			assert.GreaterOrEqual(t, p.Time, uint32(10), c.name)
			assert.LessOrEqual(t, p.Time, uint32(19), c.name)
			want.Time = p.Time
		}
		assert.Equal(t, want, p, c.name)
		assert.LessOrEqual(t, len(runs), calibrationRuns, c.name)
		assert.Equal(t, uint32(MinTime), runs[0].Time, "%s: starts with the fewest passes", c.name)
		for _, r := range runs {
			assert.Equal(t, uint32(MinMemoryKiB), r.MemoryKiB, c.name)
		}
		assert.NoError(t, p.Validate())
	}
}
