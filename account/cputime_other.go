//go:build !unix

package account

import "time"

// cpuTime is unknown here: Calibrate times wall time.
func cpuTime() time.Duration { return -1 }
