package main

// Flag value types. Each one validates in Set, so a bad value is refused
// while the command line is parsed; its error (a *flagValueError) says what
// is expected, and flagError (main.go) shows it as "--flag: message", exit
// code 2. The help shows each flag's type as its placeholder (N, BYTES,
// DURATION, ADDR, MODE) and its default in the same notation the flag
// accepts.

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/safe-launcher/launcher/launcher"
)

// flagValueError is a flag value's refusal; msg says what is expected.
type flagValueError struct{ msg string }

func (e *flagValueError) Error() string { return e.msg }

func badValue(format string, args ...any) error {
	return &flagValueError{msg: fmt.Sprintf(format, args...)}
}

// The flag definers: one call is one flag, with its name, its variable
// (which holds the default) and its meaning; the type adds the unit to the
// help and validates values.

// countFlag defines a positive integer flag (zero is refused, never "default").
func countFlag(fs *pflag.FlagSet, p *int, name, usage string) {
	fs.Var(&countValue{p: p}, name, usage)
}

// bytesFlag defines a size flag: bytes, at least minimum and at most
// maximum; values take an IEC unit (KiB, MiB, GiB, TiB) or none (bytes).
func bytesFlag[T int64 | uint64](fs *pflag.FlagSet, p *T, name string, minimum, maximum T, usage string) {
	fs.Var(&bytesValue[T]{p: p, min: minimum, max: maximum}, name, usage)
}

// durationFlag defines a duration flag; values need a unit (500ms, 10s, 2m)
// and must be more than zero.
func durationFlag(fs *pflag.FlagSet, p *time.Duration, name, usage string) {
	fs.Var(&durationValue{p: p}, name, usage)
}

// durationOrZeroFlag is durationFlag where 0 is allowed; zeroMeans says what
// it means (for the error message of a negative value).
func durationOrZeroFlag(fs *pflag.FlagSet, p *time.Duration, name, zeroMeans, usage string) {
	fs.Var(&durationValue{p: p, zeroOK: true, zeroMeans: zeroMeans}, name, usage)
}

// durationOffFlag is durationOrZeroFlag where "off" (shown as the default
// when the value is 0) also means 0.
func durationOffFlag(fs *pflag.FlagSet, p *time.Duration, name, usage string) {
	fs.Var(&durationValue{p: p, zeroOK: true, zeroMeans: "or off: never", off: true}, name, usage)
}

// addrFlagVar defines a loopback address flag; with offOK, "off" too.
func addrFlagVar(fs *pflag.FlagSet, p *addrFlag, name string, offOK bool, usage string) {
	p.offOK = offOK
	fs.Var(p, name, usage)
}

// stringFlag defines a string flag shown as placeholder (DIR, PATH) in the help.
func stringFlag(fs *pflag.FlagSet, p *string, name, placeholder, usage string) {
	fs.Var(&stringValue{p: p, placeholder: placeholder}, name, usage)
}

// enumFlag defines a flag whose value is one of choices.
func enumFlag(fs *pflag.FlagSet, p *string, name string, choices []string, usage string) {
	fs.Var(&enumValue{p: p, choices: choices}, name, usage)
}

// countValue: see countFlag.
type countValue struct{ p *int }

func (v *countValue) String() string { return strconv.Itoa(*v.p) }
func (v *countValue) Type() string   { return "N" }
func (v *countValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return badValue("%s is too large", s)
		}
		return badValue("must be a positive integer, got %q", s)
	}
	if n <= 0 {
		return badValue("must be a positive integer, got %d", n)
	}
	if n > math.MaxInt32 {
		return badValue("%d is too large (at most %d)", n, math.MaxInt32)
	}
	*v.p = int(n)
	return nil
}

// bytesValue: see bytesFlag.
type bytesValue[T int64 | uint64] struct {
	p        *T
	min, max T
}

var byteUnits = []struct {
	name  string
	shift uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}}

func (v *bytesValue[T]) String() string { return formatBytes(uint64(*v.p)) }
func (v *bytesValue[T]) Type() string   { return "BYTES" }
func (v *bytesValue[T]) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	switch {
	case n == 0:
		return badValue("must be more than 0, got %s", s)
	case n < uint64(v.min):
		return badValue("must be at least %s, got %s", formatBytes(uint64(v.min)), s)
	case n > uint64(v.max):
		return badValue("must be at most %s, got %s", formatBytes(uint64(v.max)), s)
	}
	*v.p = T(n)
	return nil
}

// parseBytes parses "1048576", "300MiB", "1GiB" and the like.
func parseBytes(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	shift := uint(0)
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(t, u.name); ok {
			t, shift = strings.TrimSpace(num), u.shift
			break
		}
	}
	t = strings.TrimSuffix(t, "B")
	if strings.HasPrefix(t, "-") {
		return 0, badValue("must be a positive size, got %s", s)
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, badValue("%q is not a size; give bytes or a number with KiB, MiB, GiB or TiB, e.g. 300MiB", s)
	}
	if n > math.MaxUint64>>shift {
		return 0, badValue("%s is too large", s)
	}
	return n << shift, nil
}

// formatBytes writes n in the largest IEC unit that divides it.
func formatBytes(n uint64) string {
	for _, u := range byteUnits {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.FormatUint(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatUint(n, 10)
}

// durationValue: see durationFlag.
type durationValue struct {
	p         *time.Duration
	zeroOK    bool
	zeroMeans string
	off       bool // "off" is 0
}

func (v *durationValue) String() string {
	if v.off && *v.p == 0 {
		return "off"
	}
	return formatDuration(*v.p)
}

func (v *durationValue) Type() string {
	if v.off {
		return "DURATION|off"
	}
	return "DURATION"
}

func (v *durationValue) Set(s string) error {
	t := strings.TrimSpace(s)
	if v.off && t == "off" {
		*v.p = 0
		return nil
	}
	if _, err := strconv.ParseFloat(t, 64); err == nil && t != "0" {
		return badValue("%q needs a unit, e.g. %ss (units: ms, s, m, h)", s, t)
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return badValue("%q is not a duration; use a number with a unit, e.g. 500ms, 10s, 2m", s)
	}
	switch {
	case d < 0 && v.zeroOK:
		return badValue("must not be negative, got %s (0 %s)", s, v.zeroMeans)
	case d < 0, d == 0 && !v.zeroOK:
		return badValue("must be more than 0, got %s", s)
	}
	*v.p = d
	return nil
}

// formatDuration is d.String() without zero trailing units ("2m", not "2m0s").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// addrFlag is a loopback listen address flag (see launcher.ParseLoopback).
// set records that the user gave it: only a default address moves to the
// next free port when taken.
type addrFlag struct {
	text  string         // as given or the default
	addr  netip.AddrPort // parsed; zero when off
	off   bool
	set   bool
	offOK bool
}

// newAddrFlag returns an address flag holding def (which must parse).
func newAddrFlag(def string) *addrFlag {
	a := &addrFlag{text: def}
	ap, err := launcher.ParseLoopback(def)
	if err != nil {
		panic(fmt.Sprintf("default address %q: %v", def, err))
	}
	a.addr = ap
	return a
}

func (a *addrFlag) String() string { return a.text }
func (a *addrFlag) Type() string {
	if a.offOK {
		return "ADDR|off"
	}
	return "ADDR"
}
func (a *addrFlag) Set(s string) error {
	if a.offOK && s == "off" {
		a.text, a.off, a.set = s, true, true
		return nil
	}
	ap, err := launcher.ParseLoopback(s)
	if err != nil {
		var ae *launcher.AddressError
		if errors.As(err, &ae) {
			return badValue("%s", ae.Reason)
		}
		return badValue("%v", err)
	}
	a.text, a.addr, a.off, a.set = s, ap, false, true
	return nil
}

// stringValue: see stringFlag.
type stringValue struct {
	p           *string
	placeholder string
}

func (v *stringValue) String() string     { return *v.p }
func (v *stringValue) Type() string       { return v.placeholder }
func (v *stringValue) Set(s string) error { *v.p = s; return nil }

// enumValue: see enumFlag.
type enumValue struct {
	p       *string
	choices []string
}

func (v *enumValue) String() string { return *v.p }
func (v *enumValue) Type() string   { return "MODE" }
func (v *enumValue) Set(s string) error {
	for _, c := range v.choices {
		if s == c {
			*v.p = s
			return nil
		}
	}
	return badValue("must be %s, got %q", strings.Join(v.choices, " or "), s)
}
