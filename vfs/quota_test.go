package vfs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// quotaStore opens a store with the given quotas, roots app "a", app "b" and
// SAFEDrive.
func quotaStore(t *testing.T, b backend, app, shared Quota) (*Store, func() *Store) {
	t.Helper()
	fsys, _ := b.make(t)
	opts := Options{AppQuota: app, SharedQuota: shared, Clock: newClock().Now}
	s := openT(t, fsys, opts)
	for _, r := range []Root{AppRoot("a"), AppRoot("b"), SharedRoot()} {
		must[DirInfo](t)(s.CreateRoot(r))
	}
	return s, func() *Store { return openT(t, fsys, opts) }
}

// refused checks that err is a quota refusal whose message says msg, and
// that the store, its blobs and its usage are as they were.
func refused(t *testing.T, s *Store, fsys func() []string, err error, msg string, before string, blobs int, usage map[string]Usage) {
	t.Helper()
	if !errors.Is(err, ErrQuota) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v, want ErrQuota (and ErrTooLarge)", err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("message %q does not say %q", err, msg)
	}
	if after := dump(t, s); after != before {
		t.Fatalf("a refused change changed the store:\n%s\nwant\n%s", after, before)
	}
	if n := len(fsys()); n != blobs {
		t.Fatalf("%d blob files after a refused change, want %d", n, blobs)
	}
	for k, u := range usages(t, s) {
		if u != usage[k] {
			t.Fatalf("usage of %s %+v after a refused change, was %+v", k, u, usage[k])
		}
	}
}

// usages reads every usage the test looks at.
func usages(t *testing.T, s *Store) map[string]Usage {
	t.Helper()
	out := map[string]Usage{}
	for _, app := range []string{"a", "b"} {
		out["app "+app] = must[Usage](t)(s.AppUsage(bg, app))
		out["root "+app] = must[Usage](t)(s.Usage(bg, AppRoot(app)))
		out["shared "+app] = must[Usage](t)(s.Usage(bg, SharedRootFor(app)))
	}
	out["shared"] = must[Usage](t)(s.Usage(bg, SharedRoot()))
	return out
}

// TestQuotas reaches each quota through each kind of change: the change is
// refused with ErrQuota naming the quota and the numbers, nothing of it is
// left (tree, content, usage), and the usage is the same after a reopen.
func TestQuotas(t *testing.T) {
	a, sa := AppRoot("a"), SharedRootFor("a")
	sb := SharedRootFor("b")
	for _, tc := range []struct {
		name        string
		app, shared Quota
		fill        func(t *testing.T, s *Store)
		over        func(s *Store) error
		msg         string
	}{
		{"app entries by file", Quota{Entries: 3}, Quota{},
			func(t *testing.T, s *Store) {
				mkdir(t, s, a, "d")
				mkfile(t, s, a, "d/f", "")
				mkfile(t, s, sa, "g", "")
			},
			func(s *Store) error { _, err := s.CreateFile(bg, a, Path{"h"}, nil); return err },
			`app "a" would hold 4 entries, its quota is 3`},
		{"app entries by dir in SAFEDrive", Quota{Entries: 3}, Quota{},
			func(t *testing.T, s *Store) {
				mkdir(t, s, a, "d")
				mkfile(t, s, a, "d/f", "")
				mkfile(t, s, sa, "g", "")
			},
			func(s *Store) error { _, err := s.CreateDir(bg, sa, Path{"e"}, false, false, nil); return err },
			`app "a" would hold 4 entries, its quota is 3`},
		{"app content by replace", Quota{ContentBytes: 100}, Quota{},
			func(t *testing.T, s *Store) {
				mkfile(t, s, a, "f", strings.Repeat("x", 60))
				mkfile(t, s, sa, "g", strings.Repeat("y", 30))
			},
			func(s *Store) error {
				_, err := s.ModifyFile(bg, a, Path{"f"}, FileChange{Content: &Content{Bytes: make([]byte, 71)}})
				return err
			},
			`app "a" would hold 101 bytes of content, its quota is 100 (it holds 90)`},
		{"app content by append in place", Quota{ContentBytes: 100}, Quota{},
			func(t *testing.T, s *Store) { mkfile(t, s, a, "f", strings.Repeat("x", 90)) },
			func(s *Store) error {
				_, err := s.ModifyFile(bg, a, Path{"f"}, FileChange{Content: &Content{Offset: ptr[int64](90), Bytes: make([]byte, 11)}})
				return err
			},
			`would hold 101 bytes of content`},
		{"app content by patch", Quota{ContentBytes: 100}, Quota{},
			func(t *testing.T, s *Store) { mkfile(t, s, a, "f", strings.Repeat("x", 90)) },
			func(s *Store) error {
				_, err := s.ModifyFile(bg, a, Path{"f"}, FileChange{Content: &Content{Offset: ptr[int64](80), Bytes: make([]byte, 21)}})
				return err
			},
			`would hold 101 bytes of content`},
		{"app metadata by file", Quota{MetadataBytes: 10}, Quota{},
			func(t *testing.T, s *Store) {
				must[FileInfo](t)(s.CreateFile(bg, a, Path{"f"}, []byte("12345")))
				must[DirInfo](t)(s.CreateDir(bg, sa, Path{"d"}, false, false, []byte("1234")))
			},
			func(s *Store) error { _, err := s.CreateFile(bg, a, Path{"g"}, []byte("12")); return err },
			`app "a" would hold 11 bytes of user metadata, its quota is 10`},
		{"app metadata by modify-file", Quota{MetadataBytes: 10}, Quota{},
			func(t *testing.T, s *Store) { must[FileInfo](t)(s.CreateFile(bg, a, Path{"f"}, []byte("12345"))) },
			func(s *Store) error {
				_, err := s.ModifyFile(bg, a, Path{"f"}, FileChange{UserMetadata: ptr([]byte("12345678901"))})
				return err
			},
			`would hold 11 bytes of user metadata`},
		{"app metadata by modify-dir", Quota{MetadataBytes: 10}, Quota{},
			func(t *testing.T, s *Store) {
				must[DirInfo](t)(s.CreateDir(bg, sa, Path{"d"}, false, false, []byte("12345")))
			},
			func(s *Store) error {
				_, err := s.ModifyDir(bg, sa, Path{"d"}, DirChange{UserMetadata: ptr([]byte("12345678901"))})
				return err
			},
			`would hold 11 bytes of user metadata`},
		{"drive entries", Quota{}, Quota{Entries: 2},
			func(t *testing.T, s *Store) { mkfile(t, s, sa, "f", ""); mkfile(t, s, sb, "g", "") },
			func(s *Store) error { _, err := s.CreateFile(bg, sb, Path{"h"}, nil); return err },
			`SAFEDrive would hold 3 entries, its quota is 2`},
		{"drive content", Quota{}, Quota{ContentBytes: 50},
			func(t *testing.T, s *Store) {
				mkfile(t, s, sa, "f", strings.Repeat("x", 30))
				mkfile(t, s, sb, "g", strings.Repeat("x", 20))
			},
			func(s *Store) error {
				_, err := s.ModifyFile(bg, sb, Path{"g"}, FileChange{Content: &Content{Offset: ptr[int64](20), Bytes: []byte("z")}})
				return err
			},
			`SAFEDrive would hold 51 bytes of content, its quota is 50`},
		{"drive metadata by the launcher", Quota{}, Quota{MetadataBytes: 4},
			func(t *testing.T, s *Store) {
				must[FileInfo](t)(s.CreateFile(bg, SharedRoot(), Path{"f"}, []byte("1234")))
			},
			func(s *Store) error { _, err := s.CreateFile(bg, SharedRoot(), Path{"g"}, []byte("5")); return err },
			`SAFEDrive would hold 5 bytes of user metadata, its quota is 4`},
		{"taking over another app's file", Quota{ContentBytes: 100}, Quota{},
			func(t *testing.T, s *Store) {
				mkfile(t, s, sa, "f", strings.Repeat("x", 60))
				mkfile(t, s, AppRoot("b"), "g", strings.Repeat("x", 50))
			},
			// b rewrites one byte of a's file: the whole file becomes b's.
			func(s *Store) error {
				_, err := s.ModifyFile(bg, sb, Path{"f"}, FileChange{Content: &Content{Offset: ptr[int64](0), Bytes: []byte("z")}})
				return err
			},
			`app "b" would hold 110 bytes of content, its quota is 100 (it holds 50)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, b backend) {
				s, reopen := quotaStore(t, b, tc.app, tc.shared)
				fsys := s.fs
				tc.fill(t, s)
				before, blobs, usage := dump(t, s), len(blobFiles(t, fsys)), usages(t, s)
				err := tc.over(s)
				refused(t, s, func() []string { return blobFiles(t, fsys) }, err, tc.msg, before, blobs, usage)
				// No blob holds more than the committed content.
				for _, f := range hostFiles(t, fsys, contentDir) {
					fi, _ := fsys.Stat(f)
					if fi.Size() > sealedSize(100) {
						t.Fatalf("blob %s is %d bytes", f, fi.Size())
					}
				}
				s.Close()
				s2 := reopen()
				if got := usages(t, s2); fmtUsage(got) != fmtUsage(usage) {
					t.Fatalf("usage after reopen %v, was %v", got, usage)
				}
				if got := dump(t, s2); got != before {
					t.Fatalf("after reopen:\n%s\nwant\n%s", got, before)
				}
			})
		})
	}
}

func fmtUsage(m map[string]Usage) string { return fmt.Sprint(m) } // fmt sorts map keys

// TestUsage follows usage through every kind of change, in both kinds of
// root, and checks it survives a reopen; and Size.
func TestUsage(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		s, reopen := quotaStore(t, b, Quota{}, Quota{})
		a, sa, sb := AppRoot("a"), SharedRootFor("a"), SharedRootFor("b")
		want := func(s *Store, k string, u Usage) {
			t.Helper()
			if got := usages(t, s)[k]; got != u {
				t.Fatalf("usage %s = %+v, want %+v", k, got, u)
			}
		}
		must[DirInfo](t)(s.CreateDir(bg, a, Path{"d"}, false, false, []byte("dm")))
		must[FileInfo](t)(s.CreateFile(bg, a, Path{"d", "f"}, []byte("fm")))
		must[FileInfo](t)(s.ModifyFile(bg, a, Path{"d", "f"}, FileChange{Content: &Content{Bytes: []byte("hello")}}))
		must[FileInfo](t)(s.ModifyFile(bg, a, Path{"d", "f"}, FileChange{Content: &Content{Offset: ptr[int64](5), Bytes: []byte("!!")}}))
		want(s, "root a", Usage{2, 7, 4})
		want(s, "app a", Usage{2, 7, 4})
		must[DirInfo](t)(s.ModifyDir(bg, a, Path{"d"}, DirChange{UserMetadata: ptr([]byte("longer"))}))
		want(s, "root a", Usage{2, 7, 8})
		// SAFEDrive: charged to the writer, counted in its app's usage.
		must[DirInfo](t)(s.CreateDir(bg, sa, Path{"shared"}, false, false, nil))
		must[FileInfo](t)(s.CreateFile(bg, sa, Path{"shared", "x"}, []byte("xm")))
		must[FileInfo](t)(s.ModifyFile(bg, sa, Path{"shared", "x"}, FileChange{Content: &Content{Bytes: []byte("1234")}}))
		want(s, "shared a", Usage{2, 4, 2})
		want(s, "app a", Usage{4, 11, 10})
		// b writes a's file: it becomes b's; a rename does not move it.
		must[FileInfo](t)(s.ModifyFile(bg, sb, Path{"shared", "x"}, FileChange{UserMetadata: ptr([]byte("b"))}))
		want(s, "shared a", Usage{1, 0, 0})
		want(s, "shared b", Usage{1, 4, 1})
		must[FileInfo](t)(s.ModifyFile(bg, sa, Path{"shared", "x"}, FileChange{Name: ptr("y")}))
		want(s, "shared b", Usage{1, 4, 1})
		must[FileInfo](t)(s.CreateFile(bg, sb, Path{"shared", "z"}, nil))
		want(s, "shared", Usage{3, 4, 1})
		size := must[Size](t)(s.Size(bg))
		if size.Entries != 5 || size.ContentBytes != 11 || size.MetadataBytes != 9 || size.DatabaseBytes <= 0 {
			t.Fatalf("size %+v", size)
		}
		before := usages(t, s)
		s.Close()
		s = reopen()
		if got := usages(t, s); fmtUsage(got) != fmtUsage(before) {
			t.Fatalf("usage after reopen %v, was %v", got, before)
		}
		// Deleting a tree credits each owner.
		if err := s.DeleteDir(bg, sa, Path{"shared"}); err != nil {
			t.Fatal(err)
		}
		want(s, "shared", Usage{})
		want(s, "shared a", Usage{})
		want(s, "shared b", Usage{})
		if err := s.DeleteFile(bg, a, Path{"d", "f"}); err != nil {
			t.Fatal(err)
		}
		want(s, "root a", Usage{1, 0, 6})
		if err := s.DeleteRoot(a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Usage(bg, a); !errors.Is(err, ErrNoRoot) {
			t.Fatalf("usage of a deleted root: %v", err)
		}
		if u := must[Usage](t)(s.AppUsage(bg, "a")); u != (Usage{}) {
			t.Fatalf("app usage after its root is deleted: %+v", u)
		}
		if app, shared := s.Quotas(); app.Entries != DefaultAppEntries || shared.MetadataBytes != DefaultSharedMetadataBytes {
			t.Fatalf("quotas %+v %+v", app, shared)
		}
	})
}

// TestQuotaUnlimited: a negative quota field is no limit.
func TestQuotaUnlimited(t *testing.T) {
	s, _ := quotaStore(t, memDBBackend, Quota{Entries: -1, ContentBytes: 3}, Quota{})
	for _, n := range []string{"1", "2", "3", "4"} {
		mkfile(t, s, AppRoot("a"), n, "")
	}
	if _, err := s.ModifyFile(bg, AppRoot("a"), Path{"1"}, FileChange{Content: &Content{Bytes: []byte("four")}}); !errors.Is(err, ErrQuota) {
		t.Fatalf("content past a quota of 3: %v", err)
	}
}
