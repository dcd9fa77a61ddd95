package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
)

// decodeCorpus parses a go test fuzz v1 file the way the go command does for
// []byte and string values.
func decodeCorpus(t *testing.T, b []byte) []any {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Equal(t, "go test fuzz v1", lines[0])
	var out []any
	for _, l := range lines[1:] {
		switch {
		case strings.HasPrefix(l, "[]byte(") && strings.HasSuffix(l, ")"):
			s, err := strconv.Unquote(l[len("[]byte(") : len(l)-1])
			require.NoError(t, err, l)
			out = append(out, []byte(s))
		case strings.HasPrefix(l, "string(") && strings.HasSuffix(l, ")"):
			s, err := strconv.Unquote(l[len("string(") : len(l)-1])
			require.NoError(t, err, l)
			out = append(out, s)
		default:
			t.Fatalf("bad corpus line %q", truncateText(l, 60))
		}
	}
	return out
}

func TestCorpusDeterministic(t *testing.T) {
	a, err := buildCorpus(42, LayoutTree, nil)
	require.NoError(t, err)
	b, err := buildCorpus(42, LayoutTree, nil)
	require.NoError(t, err)
	require.Equal(t, a, b, "same seed must give the same files")

	c, err := buildCorpus(43, LayoutTree, nil)
	require.NoError(t, err)
	require.Equal(t, len(a), len(c))
	differ := 0
	for i := range a {
		require.Equal(t, a[i].path, c[i].path, "names do not depend on the seed")
		if !bytes.Equal(a[i].data, c[i].data) {
			differ++
		}
	}
	assert.Greater(t, differ, 10, "the seed must change the random parts")

	// A subset has the same bytes as in the full run.
	only, err := buildCorpus(42, LayoutTree, []string{"launcher.FuzzSession"})
	require.NoError(t, err)
	full := map[string][]byte{}
	for _, f := range a {
		full[f.path] = f.data
	}
	require.NotEmpty(t, only)
	for _, f := range only {
		require.Equal(t, full[f.path], f.data, f.path)
	}
	_, err = buildCorpus(42, LayoutTree, []string{"nope.FuzzNope"})
	require.Error(t, err)
	_, err = buildCorpus(42, "sideways", nil)
	require.Error(t, err)
}

func TestCorpusFilesParseAndCoverEveryTarget(t *testing.T) {
	files, err := buildCorpus(1, LayoutTree, nil)
	require.NoError(t, err)
	perDir := map[string]int{}
	for _, f := range files {
		vals := decodeCorpus(t, f.data)
		require.Len(t, vals, 1, f.path)
		perDir[filepath.Dir(f.path)]++
		if strings.Contains(f.path, "FuzzParseEndpoint") || strings.Contains(f.path, "FuzzParsePath") {
			require.IsType(t, "", vals[0], f.path)
		} else {
			require.IsType(t, []byte(nil), vals[0], f.path)
		}
	}
	for _, tg := range fuzzTargets() {
		dir := filepath.Join(tg.pkg, "testdata", "fuzz", tg.name)
		assert.GreaterOrEqual(t, perDir[dir], 10, dir)
	}

	dir := t.TempDir()
	require.NoError(t, writeCorpus(dir, files))
	got, err := os.ReadFile(filepath.Join(dir, files[0].path))
	require.NoError(t, err)
	require.Equal(t, files[0].data, got)

	flat, err := buildCorpus(1, LayoutFlat, []string{"wire.FuzzParseRequest"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(flat[0].path, filepath.Join("wire", "FuzzParseRequest")+string(filepath.Separator)), flat[0].path)
	cache, err := buildCorpus(1, LayoutCache, []string{"wire.FuzzParseRequest"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(cache[0].path, filepath.FromSlash(ModulePath+"/wire/FuzzParseRequest/")), cache[0].path)
}

func TestCommandLine(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, 2, run(nil, &out, &errb))
	assert.Equal(t, 2, run([]string{"bogus"}, &out, &errb))
	assert.Equal(t, 2, run([]string{"attack", "-duration", "1s"}, &out, &errb), "no target")
	assert.Equal(t, 2, run([]string{"attack", "-target", "nonsense"}, &out, &errb))
	dir := t.TempDir()
	require.Equal(t, 0, run([]string{"corpus", "-out", dir, "-seed", "5", "-targets", "vfs.FuzzParsePath"}, &out, &errb), errb.String())
	ents, err := os.ReadDir(filepath.Join(dir, "vfs", "testdata", "fuzz", "FuzzParsePath"))
	require.NoError(t, err)
	assert.NotEmpty(t, ents)
}

func TestTokenCmd(t *testing.T) {
	ctx := context.Background()
	v, err := TokenCmd([]string{"echo", "tcp:127.0.0.1:30000:abc:def"}, 5*time.Second)(ctx)
	require.NoError(t, err)
	assert.Equal(t, "tcp:127.0.0.1:30000:abc:def", v)
	_, err = TokenCmd([]string{"echo", "not-a-value"}, 5*time.Second)(ctx)
	require.Error(t, err)
	_, err = TokenCmd([]string{"false"}, 5*time.Second)(ctx)
	require.Error(t, err)
	_, err = TokenCmd(nil, 5*time.Second)(ctx)
	require.Error(t, err)
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestAttackInProcess runs every class for about 3 s against a real daemon and
// requires the probe to pass, no protocol violation, and goroutines and file
// descriptors back at their baseline afterwards.
func TestAttackInProcess(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("attack takes seconds; under -race its one-second handshake deadline and answer checks do not hold")
	}
	d := launchertest.Start(t, launcher.Config{HandshakeTimeout: time.Second, BudgetWait: 200 * time.Millisecond, InFlightBudget: 64 << 20})
	app := d.AddApp("framegen", false)
	mint := func(ctx context.Context) (string, error) {
		s, err := d.Srv.MintLauncherString(app.ID)
		if err != nil {
			return "", err
		}
		return launcher.LauncherValue(d.Addr, s), nil
	}
	runtime.GC()
	baseG, baseFD := runtime.NumGoroutine(), countFDs(t)

	var out bytes.Buffer
	rep, err := Attack(context.Background(), AttackConfig{
		Addr: d.Addr.String(), Mint: mint, Conns: 16, Duration: 3 * time.Second, Seed: 7,
		IOTimeout: 5 * time.Second, DripInterval: 50 * time.Millisecond, DripMax: 10 * time.Second,
		HugeB64: 256 << 10, ClaimSize: 32 << 20, PID: os.Getpid(), MaxRSSMB: 4096, Settle: time.Second, Out: &out,
	})
	require.NoError(t, err)
	t.Log("\n" + out.String())
	require.NoError(t, rep.Probe)
	require.Empty(t, rep.Unexpected)
	require.False(t, rep.Failed())
	require.NotNil(t, rep.Proc)
	for _, c := range rep.Classes {
		// A case whose dial failed never reached the daemon (the final probe
		// checks that it still accepts): it is reported, not held against
		// it, but every class must have reached it.
		assert.Positive(t, c.Cases-c.NoConn-c.Aborted, "%s: no case reached the daemon", c.Name)
		assert.Zero(t, c.Timeouts, "%s: the daemon must cut or answer every case", c.Name)
	}
	byName := map[string]ClassStats{}
	for _, c := range rep.Classes {
		byName[c.Name] = c
	}
	assert.Positive(t, byName["drip"].Closed, "the handshake deadline must cut drips")
	assert.Positive(t, byName["hs-json"].ErrAnswers)
	assert.Positive(t, byName["bitflip"].ErrAnswers)
	assert.Contains(t, out.String(), "probe: ok")

	require.Eventually(t, func() bool { return d.Srv.Stats().Conns == 0 && d.Srv.Stats().InFlightBytes == 0 },
		10*time.Second, 20*time.Millisecond, "stats: %+v", d.Srv.Stats())
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= baseG+1 && countFDs(t) <= baseFD+1 },
		10*time.Second, 20*time.Millisecond, "goroutines %d (baseline %d), fds %d (baseline %d)",
		runtime.NumGoroutine(), baseG, countFDs(t), baseFD)
}

// fakeDaemon answers every frame with {"id":"","data":{}}, a success that no
// hostile handshake may get.
func fakeDaemon(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := framing.NewReader(nc, 1<<20).ReadFrame(); err == nil {
					_ = framing.WriteFrame(nc, []byte(`{"id":"","data":{}}`))
				}
			})
		}
	})
	return ln.Addr().String()
}

func TestAttackFlagsABrokenDaemon(t *testing.T) {
	addr := fakeDaemon(t)
	var out bytes.Buffer
	rep, err := Attack(context.Background(), AttackConfig{
		Addr: addr, ProbeValue: "tcp:" + addr + ":tok", Conns: 2, Frames: 20,
		Classes: []string{"hs-json"}, IOTimeout: 2 * time.Second, Out: &out,
	})
	require.NoError(t, err)
	assert.True(t, rep.Failed())
	assert.NotEmpty(t, rep.Unexpected)
	assert.Error(t, rep.Probe)
	assert.Contains(t, out.String(), "result: FAIL")
}

func TestProbeFailsWithoutDaemon(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = Probe(ctx, addr, "tcp:"+addr+":tok", nil)
	require.Error(t, err)
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
}

// TestAttackCountsFailedDials: a case whose connection cannot be made is
// counted as no-conn with its error, not as a timeout the daemon caused.
func TestAttackCountsFailedDials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every dial is refused
	var out bytes.Buffer
	rep, err := Attack(context.Background(), AttackConfig{
		Addr: addr, ProbeValue: "tcp:" + addr + ":tok", Conns: 2, Frames: 10,
		Classes: []string{"garbage"}, IOTimeout: 2 * time.Second, Out: &out,
	})
	require.NoError(t, err)
	require.Len(t, rep.Classes, 1)
	c := rep.Classes[0]
	assert.Positive(t, c.NoConn)
	assert.Equal(t, c.Cases, c.NoConn+c.Aborted)
	assert.Zero(t, c.Timeouts)
	assert.Error(t, rep.Probe)
	assert.Contains(t, out.String(), "timed out or not connected: garbage: dial:")
}
