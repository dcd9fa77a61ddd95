package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const us1 = time.Microsecond

// smallResults are the small section's figures: echo 40 µs and compute
// 60 µs make a floor of 100 µs; the SDK takes sdk, the minimal client mini.
func smallResults(sdk, mini time.Duration) *results {
	r := &results{When: time.Now(), Lat: map[string]map[string]latencyPair{}, Thr: map[string]map[string]map[int]rate{},
		HS: map[string]float64{}, HSCost: map[string]cost{}, Sess: map[string]sessionMem{}}
	for kind, p50 := range map[string]time.Duration{kindEcho: 40 * us1, kindCompute: 60 * us1, kindDaemon: sdk, kindMini: mini, kindHTTP: 400 * us1} {
		r.Lat[kind] = map[string]latencyPair{}
		for _, op := range []string{opGetDir, opCreateDelete} {
			r.Lat[kind][op] = latencyPair{P50: p50, P99: 2 * p50, RoundMin: p50 - us1, RoundMax: p50 + us1}
		}
	}
	return r
}

// find returns the rows whose figure and reference name contain the
// given strings.
func find(rs []row, figure, ref string) []row {
	var out []row
	for _, x := range rs {
		if strings.Contains(x.Figure, figure) && strings.Contains(x.RefName, ref) {
			out = append(out, x)
		}
	}
	return out
}

func TestSmallTargets(t *testing.T) {
	for _, c := range []struct {
		sdk, mini         time.Duration
		floorMet, miniMet string
	}{
		{150 * us1, 125 * us1, "yes", "yes"}, // 1.5x the floor, 1.2x the client
		{151 * us1, 125 * us1, "**no**", "**no**"},
		{90 * us1, 200 * us1, "yes", "yes"},
		{160 * us1, 140 * us1, "**no**", "yes"},
	} {
		rs := rows(smallResults(c.sdk, c.mini))
		for _, op := range []string{opGetDir, opCreateDelete} {
			fl := find(rs, op+" round trip p50, SDK", "small-request floor")
			require.Len(t, fl, 1)
			assert.Equal(t, c.floorMet, fl[0].Met, "%s sdk %s", op, c.sdk)
			assert.Equal(t, "100 µs", fl[0].Ref)
			assert.Contains(t, fl[0].RefName, "echo 40 µs + compute 60 µs")
			mc := find(rs, op+" round trip p50, SDK", nameMini)
			require.Len(t, mc, 1)
			assert.Equal(t, c.miniMet, mc[0].Met, "%s sdk %s mini %s", op, c.sdk, c.mini)
		}
	}
}

func TestBeforeAfter(t *testing.T) {
	r := smallResults(100*us1, 110*us1)
	assert.Empty(t, beforeAfter(r), "no table without a baseline")
	r.Before = &build{Rev: "8a59922", Commit: strings.Repeat("8", 40), Subject: "before"}
	r.Lat[kindBefore] = map[string]latencyPair{opGetDir: {P50: 200 * us1}, opCreateDelete: {P50: 50 * us1}}
	r.Lat[kindMiniBefore] = map[string]latencyPair{opGetDir: {P50: 100 * us1}, opCreateDelete: {P50: 100 * us1}}
	ba := beforeAfter(r)
	get := func(figure string) baRow {
		for _, x := range ba {
			if x.Figure == figure {
				return x
			}
		}
		t.Fatalf("no row %q", figure)
		return baRow{}
	}
	gd := get("get-dir round trip p50, SDK")
	assert.Equal(t, [3]string{"200 µs", "100 µs", "0.50x"}, [3]string{gd.Before, gd.After, gd.Ratio})
	assert.Equal(t, "2.00x", get("create+delete round trip p50, SDK").Ratio)
	fl := get("get-dir p50, SDK / small-request floor (target <= 1.5x)")
	assert.Equal(t, [2]string{"2.00x", "1.00x"}, [2]string{fl.Before, fl.After})

	var md bytes.Buffer
	require.NoError(t, writeMarkdown(&md, r, "perf.svg"))
	assert.Contains(t, md.String(), "## Before and after")
	assert.Contains(t, md.String(), "| get-dir round trip p50, SDK | 200 µs | 100 µs | 0.50x |")
	assert.Contains(t, md.String(), "Baseline (`-baseline 8a59922`)")
}

// The chart is well-formed SVG, with or without a baseline.
func TestSVG(t *testing.T) {
	for _, before := range []bool{false, true} {
		r := smallResults(100*us1, 110*us1)
		if before {
			r.Before = &build{Rev: "x"}
			r.Lat[kindBefore] = r.Lat[kindDaemon]
			r.Lat[kindMiniBefore] = r.Lat[kindMini]
		}
		var b bytes.Buffer
		require.NoError(t, writeSVG(&b, r))
		d := xml.NewDecoder(&b)
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
	}
}

// A whole run on a tiny plan, with this build also standing in as the
// baseline: every section, every client, the report and the chart.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dozen server children")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	p := plan{LatN: 20, LatCDN: 10, ThrDur: 60 * time.Millisecond, Depth1: 2, Depth64: 1,
		Sizes: []int{64 << 10}, Reps: map[int]int{64 << 10: 1}, HSDur: 50 * time.Millisecond, HSWorkers: 2, HSBudget: 200, Sessions: 5,
		EvWatchers: 3, EvChanges: 6, EvPairs: 4, Scale: tinyScale("")}
	var progress bytes.Buffer
	r, err := run(p, build{Rev: "test"}, &build{Rev: "self", Exe: exe}, &progress)
	require.NoError(t, err, progress.String())
	for _, kind := range []string{kindEcho, kindCompute, kindMini, kindDaemon, kindMiniBefore, kindBefore, kindHTTP} {
		for _, op := range []string{opGetDir, opCreateDelete} {
			assert.Positive(t, r.Lat[kind][op].P50, "%s %s", kind, op)
		}
	}
	assert.Positive(t, r.Lat[kindDaemonCommit][opCreateDelete].P50)
	for _, kind := range []string{kindEcho, kindDaemon, kindBefore, kindHTTP} {
		assert.Positive(t, r.Thr[kind][opGetDir][64].Median, kind)
	}
	require.Len(t, r.Files, 1)
	require.Len(t, r.FilesBefore, 1)
	assert.Positive(t, r.Files[0].FloorUp)
	assert.Positive(t, r.Files[0].FloorDown)
	assert.Positive(t, r.HS["before-counter"])
	assert.Positive(t, r.Sess[kindBefore].Goroutines)
	assert.Positive(t, r.Sess[kindDaemon].GoBytes)
	require.NotNil(t, r.Events)
	assert.Equal(t, 3*6, r.Events.Samples)
	assert.Positive(t, r.Events.With.P50)
	assert.Positive(t, r.Events.Without.P50)
	require.NotNil(t, r.Scale)
	assert.Positive(t, r.Scale.CD.P50)

	var md, svg bytes.Buffer
	require.NoError(t, writeMarkdown(&md, r, "perf.svg"))
	require.NoError(t, writeSVG(&svg, r))
	for _, want := range []string{"small-request floor: echo", "<= 1.2x minimal client", "## Before and after", "3 sessions watching"} {
		assert.Contains(t, md.String(), want)
	}
	assert.NotContains(t, md.String(), "NaN")
}
