package dns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaxConnsFor(t *testing.T) {
	for _, tc := range []struct {
		limit uint64
		want  int
	}{
		{0, 1},
		{1, 1},
		{64, 16},     // a quarter when the reserve would take it all
		{256, 64},    // ditto
		{683, 171},   // limit-reserve = 171 = limit/4 (rounded down)
		{1024, 512},  // the usual soft limit
		{1500, 988},  // limit - reserve
		{1536, 1024}, // the ceiling
		{20000, 1024},
		{^uint64(0), 1024}, // RLIM_INFINITY
	} {
		assert.Equal(t, tc.want, maxConnsFor(tc.limit), "limit %d", tc.limit)
	}
	n := DefaultGatewayMaxConns()
	assert.True(t, n >= 1 && n <= GatewayMaxConnsCeiling, "default %d", n)
	if lim, ok := openFileLimit(); ok {
		assert.Equal(t, maxConnsFor(lim), n)
	}
}

func TestGatewayOptionsValidate(t *testing.T) {
	require.NoError(t, GatewayOptions{}.Validate())
	for _, o := range []GatewayOptions{
		{MaxConns: -1}, {ShutdownTimeout: -1}, {ReadHeaderTimeout: -1},
		{ReadTimeout: -1}, {WriteTimeout: -1}, {IdleTimeout: -1},
	} {
		err := o.Validate()
		require.ErrorIs(t, err, ErrBadGatewayOptions, "%+v", o)
		assert.Contains(t, err.Error(), "is negative")
	}
	err := GatewayOptions{ReadTimeout: -5}.Validate()
	assert.Contains(t, err.Error(), "ReadTimeout")

	d := GatewayOptions{}.withDefaults()
	assert.Equal(t, DefaultGatewayMaxConns(), d.MaxConns)
	assert.Equal(t, defaultReadHeaderTimeout, d.ReadHeaderTimeout)
	assert.Equal(t, defaultReadTimeout, d.ReadTimeout)
	assert.Equal(t, defaultWriteTimeout, d.WriteTimeout)
	assert.Equal(t, defaultIdleTimeout, d.IdleTimeout)
	assert.Equal(t, defaultShutdownTimeout, d.ShutdownTimeout)
	assert.NotNil(t, d.Logger)
	k := GatewayOptions{MaxConns: 7, IdleTimeout: 3}.withDefaults()
	assert.Equal(t, 7, k.MaxConns, "a set value is kept")
	assert.EqualValues(t, 3, k.IdleTimeout)
}

// rangeCases are planRange cases for a 1000-byte file (size) unless noted;
// they seed FuzzPlanRange too.
var rangeCases = []struct {
	h    string
	size int64
	act  rangeAction
	out  string
}{
	{"", 1000, rangeNone, ""},
	{"bytes=0-0", 1000, rangeServe, "bytes=0-0"},
	{"bytes=2-5", 1000, rangeServe, "bytes=2-5"},
	{"BYTES=2-5", 1000, rangeServe, "bytes=2-5"},
	{"bytes=990-", 1000, rangeServe, "bytes=990-999"},
	{"bytes=-7", 1000, rangeServe, "bytes=993-999"},
	{"bytes=-5000", 1000, rangeServe, "bytes=0-999"},
	{"bytes=5-99999999999999999999999999", 1000, rangeServe, "bytes=5-999"},
	{"bytes=10-19,0-9", 1000, rangeServe, "bytes=0-19"},       // adjacent, out of order
	{"bytes=0-10,5-20,21-30", 1000, rangeServe, "bytes=0-30"}, // overlapping then adjacent
	{"bytes=0-1, ,\t3-4,", 1000, rangeServe, "bytes=0-1,3-4"}, // list syntax
	{"bytes=0-0,999-999,0-0,999-999", 1000, rangeServe, "bytes=0-0,999-999"},
	{"bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14", 1000, rangeServe, "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14"},
	{"bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16", 1000, rangeIgnore, ""}, // 9 ranges
	{"bytes=1000-", 1000, rangeUnsatisfiable, "bytes=1000-"},
	{"bytes=1000-2000,5000-", 1000, rangeUnsatisfiable, "bytes=1000-"},
	{"bytes=-0", 1000, rangeUnsatisfiable, "bytes=1000-"},
	{"bytes=1000-,3-4", 1000, rangeServe, "bytes=3-4"}, // the unsatisfiable one is dropped
	{"bytes=0-", 0, rangeUnsatisfiable, "bytes=0-"},
	{"bytes=-5", 0, rangeUnsatisfiable, "bytes=0-"},
	{"items=0-5", 1000, rangeIgnore, ""},
	{"bytes 0-5", 1000, rangeIgnore, ""},
	{"bytes=", 1000, rangeIgnore, ""},
	{"bytes=,", 1000, rangeIgnore, ""},
	{"bytes=5-2", 1000, rangeIgnore, ""},
	{"bytes=-", 1000, rangeIgnore, ""},
	{"bytes=--5", 1000, rangeIgnore, ""},
	{"bytes=+1-2", 1000, rangeIgnore, ""},
	{"bytes=1-+2", 1000, rangeIgnore, ""},
	{"bytes=1-2-3", 1000, rangeIgnore, ""},
	{"bytes=0x1-2", 1000, rangeIgnore, ""},
	{"bytes= 1-2", 1000, rangeServe, "bytes=1-2"},
	{"bytes =1-2", 1000, rangeIgnore, ""},
	{"bytes=1 -2", 1000, rangeIgnore, ""},
	{"bytes=１-2", 1000, rangeIgnore, ""}, // fullwidth digit
	{"bytes=0-0,1000-1000,2000-", 1000, rangeServe, "bytes=0-0"},
	{strings.Repeat("bytes=0-0", 1), 1, rangeServe, "bytes=0-0"},
	{"bytes=" + strings.Repeat("0-0,", MaxRangeSpecs), 1000, rangeServe, "bytes=0-0"},
	{"bytes=" + strings.Repeat("0-0,", MaxRangeSpecs+1), 1000, rangeIgnore, ""},
	{"bytes=" + strings.Repeat("0-0,1048575-1048575,", 1500), 1 << 20, rangeIgnore, ""}, // the hostile 3,000
}

func TestPlanRange(t *testing.T) {
	for _, tc := range rangeCases {
		act, out := planRange(tc.h, tc.size)
		assert.Equal(t, tc.act, act, "%.60q size %d", tc.h, tc.size)
		assert.Equal(t, tc.out, out, "%.60q size %d", tc.h, tc.size)
		assert.Equal(t, act, refPlanRange(tc.h, tc.size).act, "reference, %.60q", tc.h)
	}
}

// refPlanRange is planRange written another way (a regexp and a bitmap),
// for files up to refMaxSize bytes.
type refPlan struct {
	act rangeAction
	out string
}

const refMaxSize = 1 << 12

var refSpec = regexp.MustCompile(`^(?:([0-9]+)-([0-9]*)|-([0-9]+))$`)

func refPlanRange(h string, size int64) refPlan {
	if h == "" {
		return refPlan{rangeNone, ""}
	}
	i := strings.IndexByte(h, '=')
	if i < 0 || strings.ToLower(h[:i]) != "bytes" {
		return refPlan{act: rangeIgnore}
	}
	num := func(s string) uint64 {
		n, err := strconv.ParseUint(s, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return 1 << 63
		}
		return n
	}
	cover := make([]bool, size)
	specs := 0
	for _, e := range strings.Split(h[i+1:], ",") {
		e = strings.TrimLeft(strings.TrimRight(e, " \t"), " \t")
		if e == "" {
			continue
		}
		specs++
		if specs > MaxRangeSpecs {
			return refPlan{act: rangeIgnore}
		}
		m := refSpec.FindStringSubmatch(e)
		if m == nil {
			return refPlan{act: rangeIgnore}
		}
		var from, to uint64 // [from, to)
		if m[3] != "" {
			n := num(m[3])
			from, to = uint64(size)-min(n, uint64(size)), uint64(size)
		} else {
			from, to = num(m[1]), uint64(size)
			if m[2] != "" {
				last := num(m[2])
				if last < from {
					return refPlan{act: rangeIgnore}
				}
				to = min(last+1, to)
			}
		}
		for b := from; b < to; b++ {
			cover[b] = true
		}
	}
	if specs == 0 {
		return refPlan{act: rangeIgnore}
	}
	var runs []string
	for b := int64(0); b < size; b++ {
		if cover[b] && (b == 0 || !cover[b-1]) {
			e := b
			for e+1 < size && cover[e+1] {
				e++
			}
			runs = append(runs, fmt.Sprintf("%d-%d", b, e))
		}
	}
	switch {
	case len(runs) == 0:
		return refPlan{rangeUnsatisfiable, fmt.Sprintf("bytes=%d-", size)}
	case len(runs) > MaxRanges:
		return refPlan{act: rangeIgnore}
	}
	return refPlan{rangeServe, "bytes=" + strings.Join(runs, ",")}
}

// FuzzPlanRange: planRange never panics; what it serves is at most MaxRanges
// ascending, disjoint, non-adjacent ranges inside the file, in plain digits;
// and for small files it agrees with refPlanRange exactly.
func FuzzPlanRange(f *testing.F) {
	for _, tc := range rangeCases {
		f.Add(tc.h, uint32(tc.size))
	}
	f.Fuzz(func(t *testing.T, h string, size32 uint32) {
		size := int64(size32)
		act, out := planRange(h, size)
		switch act {
		case rangeNone, rangeIgnore:
			require.Empty(t, out)
		case rangeUnsatisfiable:
			require.Equal(t, fmt.Sprintf("bytes=%d-", size), out)
		case rangeServe:
			set, ok := strings.CutPrefix(out, "bytes=")
			require.True(t, ok, out)
			parts := strings.Split(set, ",")
			require.LessOrEqual(t, len(parts), MaxRanges)
			prev := int64(-2)
			for _, p := range parts {
				a, b, ok := strings.Cut(p, "-")
				require.True(t, ok, out)
				first, err1 := strconv.ParseInt(a, 10, 64)
				last, err2 := strconv.ParseInt(b, 10, 64)
				require.NoError(t, err1, out)
				require.NoError(t, err2, out)
				require.True(t, prev+1 < first && first <= last && last < size, "%s (size %d)", out, size)
				prev = last
			}
		default:
			t.Fatalf("action %d", act)
		}
		if size <= refMaxSize {
			ref := refPlanRange(h, size)
			require.Equal(t, ref.act, act, "%q size %d", h, size)
			require.Equal(t, ref.out, out, "%q size %d", h, size)
		}
	})
}

func TestSiteOf(t *testing.T) {
	for _, tc := range siteCases {
		long, svc, ok := siteOf(tc.host)
		assert.Equal(t, tc.ok, ok, tc.host)
		if tc.ok {
			assert.Equal(t, "example", long, tc.host)
			assert.Equal(t, "www", svc, tc.host)
		}
	}
}

var siteCases = []struct {
	host string
	ok   bool
}{
	{"www.example.localhost", true},
	{"www.example.localhost:30080", true},
	{"WWW.EXAMPLE.LOCALHOST.:1", true},
	{"www.example", false},
	{"www.example:30080", false},
	{"example.localhost", false},
	{"a.www.example.localhost", false},
	{"www.example.localhost.evil.com", false},
	{"www.example.localhost..", false},
	{".www.example.localhost", false},
	{"www..localhost", false},
	{"www.exa_mple.localhost", false},
	{"localhost", false},
	{"127.0.0.1:30080", false},
	{"[::1]:30080", false},
	{"", false},
}

// FuzzSiteOf: a Host siteOf accepts is exactly "<service>.<long_name>.localhost"
// for valid names, ignoring case, a trailing dot and a port.
func FuzzSiteOf(f *testing.F) {
	for _, tc := range siteCases {
		f.Add(tc.host)
	}
	f.Fuzz(func(t *testing.T, host string) {
		long, svc, ok := siteOf(host)
		if !ok {
			require.Empty(t, long)
			return
		}
		for _, n := range []string{long, svc} {
			got, err := CheckName("x", n)
			require.NoError(t, err, host)
			require.Equal(t, got, n, "lower case")
		}
		h := host
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		require.Equal(t, SiteHost(long, svc), strings.TrimSuffix(strings.ToLower(h), "."), host)
		l2, s2, ok := siteOf(SiteHost(long, svc))
		require.True(t, ok)
		require.Equal(t, [2]string{long, svc}, [2]string{l2, s2})
	})
}

// BenchmarkPlanRange: the cost of deciding on a Range header, for the
// hostile 3,000-range one (stopped at MaxRangeSpecs) and for MaxRangeSpecs
// specs merged into MaxRanges ranges.
func BenchmarkPlanRange(b *testing.B) {
	var specs []string
	for i := range MaxRangeSpecs {
		j := i % MaxRanges
		specs = append(specs, fmt.Sprintf("%d-%d", j*100+i%7, j*100+50))
	}
	for _, bc := range []struct{ name, h string }{
		{"3000-ranges", "bytes=" + strings.Repeat("0-0,1048575-1048575,", 1500)},
		{"64-specs", "bytes=" + strings.Join(specs, ",")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				planRange(bc.h, 1<<20)
			}
		})
	}
}

// gatePair returns a gateConn holding a slot of g (taken by the caller) and
// the far end of its pipe.
func gatePair(g *connGate) (*gateConn, net.Conn) {
	a, b := net.Pipe()
	return &gateConn{Conn: a, gate: g}, b
}

// TestConnGate drives the gate as http.Server would: slots, the idle list
// in order, eviction only of idle connections, waiting when none is idle.
func TestConnGate(t *testing.T) {
	g := newConnGate(2)
	closed := make(chan struct{})
	close(closed)
	drainWoke := func() {
		select {
		case <-g.woke:
		default:
		}
	}

	require.NoError(t, g.acquire(nil))
	c1, far1 := gatePair(g)
	g.connState(c1, http.StateNew)
	require.NoError(t, g.acquire(nil))
	c2, far2 := gatePair(g)
	g.connState(c2, http.StateNew)
	assert.Equal(t, GatewayStats{Max: 2, Open: 2}, g.stats())

	// Both answering a request: nothing to evict, so acquire waits (here it
	// gives up at once, its listener being closed).
	g.connState(c1, http.StateActive)
	g.connState(c2, http.StateActive)
	drainWoke()
	require.ErrorIs(t, g.acquire(closed), net.ErrClosed)
	assert.Equal(t, 2, g.stats().Open)

	// c2 goes idle, then c1: c2 has been idle longer and is evicted first.
	g.connState(c2, http.StateIdle)
	g.connState(c1, http.StateIdle)
	require.NoError(t, g.acquire(closed))
	_, err := far2.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "c2 was closed")
	assert.Equal(t, GatewayStats{Max: 2, Open: 2, Evicted: 1}, g.stats())
	c3, _ := gatePair(g)
	g.connState(c3, http.StateNew)

	// A waiting acquire takes the slot of the next connection to go idle.
	g.connState(c1, http.StateActive)
	g.connState(c3, http.StateActive)
	drainWoke()
	got := make(chan error, 1)
	go func() { got <- g.acquire(nil) }()
	g.connState(c1, http.StateIdle)
	require.NoError(t, <-got)
	_, err = far1.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "c1 was closed")
	assert.Equal(t, uint64(2), g.stats().Evicted)

	// c4 holds the slot that acquire took. Close frees it once, however
	// often it is called, and a closed connection never joins the idle list
	// again.
	c4, _ := gatePair(g)
	require.NoError(t, c4.Close())
	_ = c4.Close()
	_ = c2.Close()
	g.connState(c4, http.StateIdle)
	g.connState(c4, http.StateClosed)
	assert.Equal(t, 1, g.stats().Open, "c3 alone")
	assert.Equal(t, 0, g.idle.Len())
	require.NoError(t, c3.Close())
	assert.Equal(t, 0, g.stats().Open)
}
