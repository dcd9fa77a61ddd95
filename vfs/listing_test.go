package vfs

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"
)

// TestListingInterleavedRows: a listing reads its entries' rows by ranges
// of row ids (dirs.go, rowsIn). Directories whose rows are interleaved with
// other directories' rows, close together and far apart, and with entries
// deleted between, list exactly their own entries, sorted by name.
func TestListingInterleavedRows(t *testing.T) {
	s, _, _ := newT(t, osBackend, Options{})
	for _, d := range []string{"a", "b", "c"} {
		mkdir(t, s, app, d)
	}
	want := map[string][]string{}
	add := func(dir, name string, isDir bool) {
		if isDir {
			mkdir(t, s, app, dir+"/"+name)
		} else {
			mkfile(t, s, app, dir+"/"+name, "x")
		}
		want[dir] = append(want[dir], name)
	}
	// a and b alternate; c gets one entry after every 150 of the others,
	// so that its rows are far apart (one range each) and a's and b's
	// ranges each skip the other's rows.
	for i := range 600 {
		add([]string{"a", "b"}[i%2], fmt.Sprintf("e%04d", 600-i), i%7 == 0)
		if i%150 == 0 {
			add("c", fmt.Sprintf("c%d", i), i%300 == 0)
		}
	}
	// Deletions leave holes in the ranges.
	for i := 0; i < 600; i += 10 {
		name := fmt.Sprintf("e%04d", 600-i)
		dir := []string{"a", "b"}[i%2]
		var err error
		if i%7 == 0 {
			err = s.DeleteDir(bg, app, Path{dir, name})
		} else {
			err = s.DeleteFile(bg, app, Path{dir, name})
		}
		require.NoError(t, err)
		want[dir] = slices.DeleteFunc(want[dir], func(n string) bool { return n == name })
	}
	for _, d := range []string{"a", "b", "c"} {
		l, err := s.GetDir(bg, app, Path{d})
		require.NoError(t, err)
		var got []string
		for _, x := range l.Dirs {
			got = append(got, x.Name)
		}
		for _, x := range l.Files {
			got = append(got, x.Name)
		}
		require.True(t, slices.IsSortedFunc(l.Dirs, func(x, y DirInfo) int { return strings.Compare(x.Name, y.Name) }), d)
		require.True(t, slices.IsSortedFunc(l.Files, func(x, y FileInfo) int { return strings.Compare(x.Name, y.Name) }), d)
		slices.Sort(got)
		w := slices.Clone(want[d])
		slices.Sort(w)
		require.Equal(t, w, got, "directory %s", d)
	}
}

// TestIDRun: a run keeps its range of row ids within about twice its
// length, and every id is in exactly one run.
func TestIDRun(t *testing.T) {
	for _, ids := range [][]int64{{5}, {1, 2, 3}, {1, 1000}, {1, 3, 5, 7, 9, 500, 502, 10000}, {10, 11, 12, 80, 81, 200}} {
		var runs [][]int64
		for rest := ids; len(rest) > 0; {
			n := idRun(rest)
			require.Positive(t, n)
			r := rest[:n]
			require.Less(t, r[len(r)-1]-r[0], 2*int64(len(r))+64, "run %v of %v", r, ids)
			runs = append(runs, r)
			rest = rest[n:]
		}
		require.Equal(t, ids, slices.Concat(runs...))
	}
	require.Equal(t, 1, idRun([]int64{1, 1000}))
	require.Equal(t, 3, idRun([]int64{1, 2, 3}))
}

// TestListingTamperedCount: a directory's entry count is a clear column;
// one changed to anything (huge, negative) still lists the directory's
// entries, without a panic or an allocation of that size.
func TestListingTamperedCount(t *testing.T) {
	for _, count := range []int64{1 << 62, -5, 0, 3} {
		fsys := afero.NewMemMapFs()
		s := openT(t, fsys, Options{})
		must[DirInfo](t)(s.CreateRoot(app))
		for _, d := range []string{"small", "large"} {
			mkdir(t, s, app, d)
		}
		for i := range 3 {
			mkfile(t, s, app, fmt.Sprintf("small/f%d", i), "x")
		}
		for i := range 100 {
			mkfile(t, s, app, fmt.Sprintf("large/f%03d", i), "x")
		}
		require.NoError(t, s.Close())
		_, err := openSQL(t, fsys).Exec(`UPDATE nodes SET nchild = ? WHERE kind = 0 AND parent IS NOT NULL`, count)
		require.NoError(t, err)
		s = openT(t, fsys, Options{})
		for d, want := range map[string]int{"small": 3, "large": 100} {
			l, err := s.GetDir(bg, app, Path{d})
			require.NoError(t, err, "count %d, %s", count, d)
			require.Len(t, l.Files, want, "count %d, %s", count, d)
		}
	}
}
