package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/vfs"
)

// tinyScale is a scale plan small enough for a test.
func tinyScale(cache string) scalePlan {
	return scalePlan{Dirs: 3, PerDir: 40, Big: 1500, GetDirN: 6, BigN: 2, CDN: 20,
		MetaFiles: 4, MetaBytes: 64 << 10, OtherFiles: 30, CacheDir: cache}
}

// TestScaleSection runs the scale section end to end on a tiny store: the
// store is built through the vfs API, the real daemon child (this test
// binary re-executed, see TestMain) serves it, and the SDK lists every
// file; a second run reuses the store kept in the cache directory.
func TestScaleSection(t *testing.T) {
	cache := t.TempDir()
	// dirsOf is a run's temporary directories (run's dirOf).
	dirsOf := func() dirFunc {
		tmp := t.TempDir()
		return func(name string) (string, error) {
			d := filepath.Join(tmp, name)
			return d, os.MkdirAll(d, 0o700)
		}
	}
	dirOf := dirsOf()
	var log strings.Builder
	logf := func(format string, a ...any) { fmt.Fprintf(&log, format+"\n", a...) }
	p := plan{Scale: tinyScale(cache)}
	res := &results{}
	require.NoError(t, runScale(p, res, dirOf, logf), log.String())
	s := res.Scale
	require.NotNil(t, s)
	assert.False(t, s.Reused)
	assert.Equal(t, 3*40+1500, s.Listed)
	assert.Positive(t, s.Build)
	assert.Positive(t, s.DB)
	assert.Positive(t, s.Start)
	assert.Positive(t, s.AfterStart.RSSKiB)
	assert.GreaterOrEqual(t, s.AfterList.HWMKiB, s.AfterList.RSSKiB)
	assert.GreaterOrEqual(t, s.AfterList.HWMKiB, s.AfterDirs.HWMKiB)
	assert.Positive(t, s.AfterDirs.RSSKiB)
	assert.Positive(t, s.GetDir.P50)
	assert.GreaterOrEqual(t, s.GetDir.P99, s.GetDir.P50)
	assert.Positive(t, s.GetDirBig.P50)
	assert.Positive(t, s.CD.P50)
	assert.Positive(t, s.CDEmpty.P50)
	assert.Equal(t, 4, s.Meta.Files)
	assert.Positive(t, s.Meta.Peak)
	assert.Positive(t, s.Meta.OtherN, "the other app listed while the files were created")

	// The store is as the plan says, and create+delete left it so.
	dir := filepath.Join(cache, "store-3x40+1500")
	store, err := openStore(dir, vfs.SyncBackground, true)
	require.NoError(t, err)
	ctx := context.Background()
	root := vfs.AppRoot(benchAppRoot)
	l, err := store.GetDir(ctx, root, nil)
	require.NoError(t, err)
	assert.Len(t, l.Dirs, 4)
	l, err = store.GetDir(ctx, root, vfs.Path{scaleDirName(1)})
	require.NoError(t, err)
	assert.Len(t, l.Files, 40)
	require.NoError(t, store.Close())

	// A second run reuses it.
	res2 := &results{}
	require.NoError(t, runScale(p, res2, dirsOf(), logf), log.String())
	assert.True(t, res2.Scale.Reused)
	assert.Equal(t, s.Build.String(), res2.Scale.Build.String())
	assert.Equal(t, s.Listed, res2.Scale.Listed)

	// The report has its rows and says how the store was made.
	var md strings.Builder
	res2.When = time.Now()
	require.NoError(t, writeMarkdown(&md, res2, ""))
	assert.Contains(t, md.String(), "through the vfs API directly (reused from -scale-dir")
	assert.Contains(t, md.String(), "**scale**")
}

// A store whose build did not finish is not reused: it is built again.
func TestScaleStoreRebuildsUnfinished(t *testing.T) {
	cache := t.TempDir()
	sp := tinyScale(cache)
	sp.Dirs, sp.Big = 1, 10
	dir := filepath.Join(cache, "store-1x40+10")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "leftover"), []byte("x"), 0o600))
	logf := func(string, ...any) {}
	got, took, reused, err := scaleStore(sp, nil, logf)
	require.NoError(t, err)
	assert.Equal(t, dir, got)
	assert.False(t, reused)
	assert.Positive(t, took)
	assert.NoFileExists(t, filepath.Join(dir, "leftover"))
	_, took2, reused, err := scaleStore(sp, nil, logf)
	require.NoError(t, err)
	assert.True(t, reused)
	assert.Equal(t, took.String(), took2.String())

	require.NoError(t, os.WriteFile(dir+".built", []byte("soon\n"), 0o600))
	_, _, _, err = scaleStore(sp, nil, logf)
	assert.ErrorContains(t, err, ".built", "a marker that does not parse is an error, not a rebuild")
}

// TestScaleTargets: the scale rows meet their targets exactly at the
// limits, and not past them.
func TestScaleTargets(t *testing.T) {
	const mib = 1024 // memInfo is in KiB
	for _, c := range []struct {
		start              time.Duration
		rss, peak, metaHWM int64
		getDir, other      time.Duration
		cd                 time.Duration
		met                string
	}{
		{2 * time.Second, 150 * mib, 150 * mib, 150 * mib, 2 * time.Millisecond, 50*time.Millisecond - us1, 130 * us1, "yes"},
		{2*time.Second + us1, 150*mib + 1, 150*mib + 1, 150*mib + 1, 2*time.Millisecond + us1, 50 * time.Millisecond, 131 * us1, "**no**"},
	} {
		r := &results{Scale: &scaleResult{Plan: quickPlan().Scale, Build: time.Second, DB: 1e6,
			Start: c.start, StartEmpty: time.Millisecond,
			AfterStart: memInfo{RSSKiB: c.rss}, AfterStartEmpty: memInfo{RSSKiB: 10 * mib},
			AfterDirs: memInfo{RSSKiB: 20 * mib, HWMKiB: c.peak}, AfterList: memInfo{RSSKiB: 20 * mib, HWMKiB: c.peak},
			GetDir: latencyPair{P50: c.getDir, P99: 2 * c.getDir}, GetDirBig: latencyPair{P50: time.Second},
			CD: latencyPair{P50: c.cd}, CDEmpty: latencyPair{P50: 100 * us1},
			Meta: metaResult{Files: 200, Bytes: 64 << 10, Took: time.Second, Before: 10 * mib, Peak: c.metaHWM, After: 20 * mib,
				Other: latencyPair{P50: time.Millisecond, P99: c.other}, OtherN: 100}}}
		rs := scaleRows(r)
		require.Len(t, rs, 11)
		n := 0
		for _, x := range rs {
			if x.Met != "" {
				assert.Equal(t, c.met, x.Met, "%s: %s", x.Figure, x.Value)
				n++
			}
		}
		assert.Equal(t, 8, n, "rows with a target")
		assert.Len(t, find(rs, "10,000 files in 10 directories plus one of 5,000", "its database"), 1)
		assert.Len(t, find(rs, "5,000-file directory p50", "1,000-file directory"), 1)
	}
	assert.Empty(t, scaleRows(&results{}), "no scale section, no rows")
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 5282: "5,282", 100_000: "100,000", 1_000_000: "1,000,000"} {
		assert.Equal(t, want, thousands(n))
	}
}
