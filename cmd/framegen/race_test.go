//go:build race

package main

// raceEnabled is true when the race detector is on: its slowdown makes the
// in-process attack's every-case-answered assertions meaningless.
const raceEnabled = true
