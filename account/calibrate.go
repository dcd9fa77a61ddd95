package account

import (
	"math"
	"runtime"
	"time"

	"golang.org/x/crypto/argon2"
)

// Calibration targets.
const (
	// TargetDerivation is how long one derivation should take on the
	// machine that creates the account.
	TargetDerivation = 500 * time.Millisecond
	// MinMemoryKiB is the least memory a calibrated derivation uses (64 MiB).
	MinMemoryKiB = 64 << 10
	// MinTime is the fewest passes Calibrate picks: with MinMemoryKiB, the
	// second recommended setting of RFC 9106 (section 4).
	MinTime = 3
)

// Calibrate measures Argon2id on this machine and returns parameters for
// which one derivation takes about target: MinMemoryKiB of memory, up to 4
// threads (no more than the CPUs), and the number of passes found by timing
// real derivations: starting from one pass, each run moves the passes
// towards target (a secant step on the last two runs, else in proportion),
// until a run lands within a tenth of it (at most five runs), at least
// MinTime and at most MaxTime passes. Neither the memory nor the passes go
// below their floors: a machine too slow for them within target gets them
// anyway. Runs are timed by CPU time where the OS tells it (see measure), so
// a machine loaded by other programs does not get weaker parameters.
//
// A derivation's first touch of fresh memory costs page faults (about a
// quarter of a second for 64 MiB on the project's virtual machines), which a
// run that reuses the memory of a previous one does not pay; the runs take
// whichever comes, so an unlock lands between about target and target plus
// that fault cost.
func Calibrate(target time.Duration) Params {
	return calibrate(target, measure)
}

// measure times one derivation with p: the process's CPU time (user and
// system, page faults included) divided by the lanes that can run at once,
// which is its wall time on an idle machine, and does not grow when other
// programs load the machine. Where the CPU time is not known, the wall time.
func measure(p Params) time.Duration {
	cpu0, wall := cpuTime(), time.Now()
	clear(argon2.IDKey([]byte("calibration"), make([]byte, SaltSize), p.Time, p.MemoryKiB, p.Threads, KeySize))
	elapsed := time.Since(wall)
	cpu1 := cpuTime()
	if cpu0 < 0 || cpu1 <= cpu0 {
		return elapsed
	}
	return (cpu1 - cpu0) / time.Duration(max(min(int(p.Threads), runtime.GOMAXPROCS(0)), 1))
}

// calibrationRuns bounds the derivations Calibrate times.
const calibrationRuns = 5

// calibrate is Calibrate with the timing function given.
func calibrate(target time.Duration, timeOf func(Params) time.Duration) Params {
	p := Params{Time: MinTime, MemoryKiB: MinMemoryKiB, Threads: uint8(min(runtime.NumCPU(), 4))}
	var prevT float64
	var prevD time.Duration
	for range calibrationRuns {
		d := max(timeOf(p), time.Microsecond)
		if (d - target).Abs() <= target/10 {
			break
		}
		t := float64(p.Time)
		// The time of a derivation is about fixed + perPass*passes: with two
		// runs, solve for target (a secant step); else scale the passes.
		est := t * float64(target) / float64(d)
		if prevT != 0 && prevT != t {
			if perPass := float64(d-prevD) / (t - prevT); perPass > 0 {
				est = t + float64(target-d)/perPass
			}
		}
		next := uint32(min(max(math.Round(est), MinTime), MaxTime))
		if next == p.Time {
			break
		}
		prevT, prevD = t, d
		p.Time = next
	}
	return p
}
