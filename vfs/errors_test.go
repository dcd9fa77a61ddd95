package vfs

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// fixture: root "app" with /a (dir), /a/b (dir), /a/f.txt ("hello"), /g (file).
func fixture(t *testing.T, b backend, opts Options) (*Store, string) {
	s, _, dir := newT(t, b, opts)
	mkdir(t, s, app, "a")
	mkdir(t, s, app, "a/b")
	mkfile(t, s, app, "a/f.txt", "hello")
	mkfile(t, s, app, "g", "")
	return s, dir
}

type errCase struct {
	name string
	op   func(s *Store) error
	want error
	msg  string // must appear in the message
}

func errCases(t *testing.T) []errCase {
	none := AppRoot("nobody")
	big := make([]byte, 17)
	lit := func(segs ...string) Path { return Path(segs) }
	return []errCase{
		{"CreateRoot exists", func(s *Store) error { _, err := s.CreateRoot(app); return err }, ErrExists, "app:app"},
		{"CreateRoot empty name", func(s *Store) error { _, err := s.CreateRoot(AppRoot("")); return err }, ErrInvalidPath, "empty name"},
		{"CreateRoot dotdot", func(s *Store) error { _, err := s.CreateRoot(AppRoot("..")); return err }, ErrInvalidPath, `".."`},
		{"CreateRoot zero", func(s *Store) error { _, err := s.CreateRoot(Root{}); return err }, ErrNoRoot, "zero"},
		{"DeleteRoot missing", func(s *Store) error { return s.DeleteRoot(none) }, ErrNoRoot, "app:nobody"},
		{"DeleteRoot reserved of same name", func(s *Store) error { return s.DeleteRoot(ReservedRoot("app")) }, ErrNoRoot, "reserved:app"},

		{"CreateDir dir exists", func(s *Store) error { _, err := s.CreateDir(bg, app, P(t, "a"), false, false, nil); return err }, ErrExists, `"a"`},
		{"CreateDir file exists", func(s *Store) error { _, err := s.CreateDir(bg, app, P(t, "g"), false, false, nil); return err }, ErrExists, `file "g"`},
		{"CreateDir no parent", func(s *Store) error { _, err := s.CreateDir(bg, app, P(t, "x/y"), false, false, nil); return err }, ErrNotFound, `"x"`},
		{"CreateDir deep no parent", func(s *Store) error { _, err := s.CreateDir(bg, app, P(t, "a/zz/y"), false, false, nil); return err }, ErrNotFound, `"zz"`},
		{"CreateDir parent is file", func(s *Store) error { _, err := s.CreateDir(bg, app, P(t, "g/y"), false, false, nil); return err }, ErrNotDir, `"g"`},
		{"CreateDir root", func(s *Store) error { _, err := s.CreateDir(bg, app, nil, false, false, nil); return err }, ErrIsRoot, "root"},
		{"CreateDir no root", func(s *Store) error { _, err := s.CreateDir(bg, none, P(t, "a"), false, false, nil); return err }, ErrNoRoot, "nobody"},
		{"CreateDir zero root", func(s *Store) error { _, err := s.CreateDir(bg, Root{}, P(t, "a"), false, false, nil); return err }, ErrNoRoot, "zero"},
		{"CreateDir meta", func(s *Store) error { _, err := s.CreateDir(bg, app, P(t, "m"), false, false, big); return err }, ErrTooLarge, "17 bytes"},
		{"CreateDir literal dotdot", func(s *Store) error {
			_, err := s.CreateDir(bg, app, lit("a", "..", "x"), false, false, nil)
			return err
		}, ErrInvalidPath, `".."`},
		{"CreateDir literal slash", func(s *Store) error { _, err := s.CreateDir(bg, app, lit("a/b"), false, false, nil); return err }, ErrInvalidPath, `"a/b"`},
		{"CreateDir too deep", func(s *Store) error {
			_, err := s.CreateDir(bg, app, lit("1", "2", "3", "4", "5"), false, false, nil)
			return err
		}, ErrTooLarge, "5 segments"},
		{"CreateDir full", func(s *Store) error {
			for _, n := range []string{"c1", "c2", "c3"} {
				if _, err := s.CreateDir(bg, app, P(t, n), false, false, nil); err != nil {
					return err
				}
			}
			return nil
		}, ErrTooLarge, "limit is 4"},
		{"CreateDir canceled", func(s *Store) error {
			ctx, cancel := context.WithCancel(bg)
			cancel()
			_, err := s.CreateDir(ctx, app, P(t, "n"), false, false, nil)
			return err
		}, context.Canceled, "canceled"},

		{"DeleteDir root", func(s *Store) error { return s.DeleteDir(bg, app, nil) }, ErrIsRoot, "root"},
		{"DeleteDir missing", func(s *Store) error { return s.DeleteDir(bg, app, P(t, "a/nope")) }, ErrNotFound, `"nope"`},
		{"DeleteDir file", func(s *Store) error { return s.DeleteDir(bg, app, P(t, "g")) }, ErrNotDir, `"g"`},
		{"DeleteDir under file", func(s *Store) error { return s.DeleteDir(bg, app, P(t, "g/x")) }, ErrNotDir, `"g"`},

		{"GetDir missing", func(s *Store) error { _, err := s.GetDir(bg, app, P(t, "nope")); return err }, ErrNotFound, `"nope"`},
		{"GetDir file", func(s *Store) error { _, err := s.GetDir(bg, app, P(t, "a/f.txt")); return err }, ErrNotDir, `"f.txt"`},
		{"GetDir no root", func(s *Store) error { _, err := s.GetDir(bg, none, nil); return err }, ErrNoRoot, "nobody"},

		{"ModifyDir rename root", func(s *Store) error { _, err := s.ModifyDir(bg, app, nil, DirChange{Name: ptr("x")}); return err }, ErrIsRoot, "root"},
		{"ModifyDir rename taken by file", func(s *Store) error { _, err := s.ModifyDir(bg, app, P(t, "a"), DirChange{Name: ptr("g")}); return err }, ErrExists, `"g"`},
		{"ModifyDir rename bad", func(s *Store) error {
			_, err := s.ModifyDir(bg, app, P(t, "a"), DirChange{Name: ptr("..")})
			return err
		}, ErrInvalidPath, `".."`},
		{"ModifyDir rename slash", func(s *Store) error {
			_, err := s.ModifyDir(bg, app, P(t, "a"), DirChange{Name: ptr("x/y")})
			return err
		}, ErrInvalidPath, `"x/y"`},
		{"ModifyDir meta", func(s *Store) error {
			_, err := s.ModifyDir(bg, app, P(t, "a"), DirChange{UserMetadata: &big})
			return err
		}, ErrTooLarge, "limit is 16"},
		{"ModifyDir missing", func(s *Store) error { _, err := s.ModifyDir(bg, app, P(t, "q"), DirChange{}); return err }, ErrNotFound, `"q"`},

		{"CreateFile root", func(s *Store) error { _, err := s.CreateFile(bg, app, nil, nil); return err }, ErrIsRoot, "root"},
		{"CreateFile dir exists", func(s *Store) error { _, err := s.CreateFile(bg, app, P(t, "a/b"), nil); return err }, ErrExists, `directory "b"`},
		{"CreateFile file exists", func(s *Store) error { _, err := s.CreateFile(bg, app, P(t, "a/f.txt"), nil); return err }, ErrExists, `"f.txt"`},
		{"CreateFile no parent", func(s *Store) error { _, err := s.CreateFile(bg, app, P(t, "x/f"), nil); return err }, ErrNotFound, `"x"`},
		{"CreateFile under file", func(s *Store) error { _, err := s.CreateFile(bg, app, P(t, "g/f"), nil); return err }, ErrNotDir, `"g"`},
		{"CreateFile meta", func(s *Store) error { _, err := s.CreateFile(bg, app, P(t, "m"), big); return err }, ErrTooLarge, "user metadata"},
		{"CreateFile bad name", func(s *Store) error { _, err := s.CreateFile(bg, app, lit("a\x00"), nil); return err }, ErrInvalidPath, `"a\x00"`},

		{"DeleteFile dir", func(s *Store) error { return s.DeleteFile(bg, app, P(t, "a")) }, ErrNotFile, "/a"},
		{"DeleteFile missing", func(s *Store) error { return s.DeleteFile(bg, app, P(t, "a/nope")) }, ErrNotFound, `"nope"`},
		{"DeleteFile root", func(s *Store) error { return s.DeleteFile(bg, app, nil) }, ErrNotFile, "root"},

		{"ReadFile negative offset", func(s *Store) error { _, _, err := s.ReadFile(bg, app, P(t, "a/f.txt"), -1, 1); return err }, ErrOutOfRange, "-1"},
		{"ReadFile past end", func(s *Store) error { _, _, err := s.ReadFile(bg, app, P(t, "a/f.txt"), 6, 1); return err }, ErrOutOfRange, "size 5"},
		{"ReadFile dir", func(s *Store) error { _, _, err := s.ReadFile(bg, app, P(t, "a/b"), 0, 1); return err }, ErrNotFile, "/a/b"},
		{"ReadFile missing", func(s *Store) error { _, _, err := s.ReadFile(bg, app, P(t, "zz"), 0, 1); return err }, ErrNotFound, `"zz"`},

		{"StatFile dir", func(s *Store) error { _, err := s.StatFile(bg, app, P(t, "a")); return err }, ErrNotFile, "/a"},
		{"StatFile missing", func(s *Store) error { _, err := s.StatFile(bg, app, P(t, "a/b/c")); return err }, ErrNotFound, `"c"`},

		{"ModifyFile offset past end", func(s *Store) error {
			_, err := s.ModifyFile(bg, app, P(t, "a/f.txt"), FileChange{Content: &Content{Offset: ptr[int64](6), Bytes: []byte("x")}})
			return err
		}, ErrOutOfRange, "size 5"},
		{"ModifyFile negative offset", func(s *Store) error {
			_, err := s.ModifyFile(bg, app, P(t, "a/f.txt"), FileChange{Content: &Content{Offset: ptr[int64](-1), Bytes: []byte("x")}})
			return err
		}, ErrOutOfRange, "-1"},
		{"ModifyFile too large", func(s *Store) error {
			_, err := s.ModifyFile(bg, app, P(t, "a/f.txt"), FileChange{Content: &Content{Bytes: make([]byte, 33)}})
			return err
		}, ErrTooLarge, "limit is 32"},
		{"ModifyFile grows too large", func(s *Store) error {
			_, err := s.ModifyFile(bg, app, P(t, "a/f.txt"), FileChange{Content: &Content{Offset: ptr[int64](5), Bytes: make([]byte, 28)}})
			return err
		}, ErrTooLarge, "limit is 32"},
		{"ModifyFile rename taken", func(s *Store) error {
			_, err := s.ModifyFile(bg, app, P(t, "a/f.txt"), FileChange{Name: ptr("b")})
			return err
		}, ErrExists, `"b"`},
		{"ModifyFile rename bad", func(s *Store) error {
			_, err := s.ModifyFile(bg, app, P(t, "g"), FileChange{Name: ptr(".")})
			return err
		}, ErrInvalidPath, `"."`},
		{"ModifyFile dir", func(s *Store) error {
			_, err := s.ModifyFile(bg, app, P(t, "a"), FileChange{Name: ptr("z")})
			return err
		}, ErrNotFile, "/a"},
		{"ModifyFile meta", func(s *Store) error {
			_, err := s.ModifyFile(bg, app, P(t, "g"), FileChange{UserMetadata: &big})
			return err
		}, ErrTooLarge, "user metadata"},

		{"LookupDir unknown", func(s *Store) error { _, _, _, err := s.LookupDir(bg, "0123"); return err }, ErrNotFound, `"0123"`},
		{"LookupDir deleted", func(s *Store) error {
			l, err := s.GetDir(bg, app, P(t, "a/b"))
			if err != nil {
				return err
			}
			if err := s.DeleteDir(bg, app, P(t, "a")); err != nil {
				return err
			}
			_, _, _, err = s.LookupDir(bg, l.Info.ID)
			return err
		}, ErrNotFound, "no directory"},

		{"MoveDir into itself", func(s *Store) error { _, err := s.MoveDir(bg, app, P(t, "a"), P(t, "a")); return err }, ErrInvalidPath, "itself"},
		{"MoveDir into descendant", func(s *Store) error { _, err := s.MoveDir(bg, app, P(t, "a"), P(t, "a/b")); return err }, ErrInvalidPath, "itself"},
		{"MoveDir root", func(s *Store) error { _, err := s.MoveDir(bg, app, nil, P(t, "a")); return err }, ErrIsRoot, "root"},
		{"MoveDir name taken", func(s *Store) error {
			if _, err := s.CreateDir(bg, app, P(t, "b"), false, false, nil); err != nil {
				return err
			}
			_, err := s.MoveDir(bg, app, P(t, "a/b"), nil)
			return err
		}, ErrExists, `"b"`},
		{"MoveDir dest missing", func(s *Store) error { _, err := s.MoveDir(bg, app, P(t, "a/b"), P(t, "zz")); return err }, ErrNotFound, `"zz"`},
		{"MoveDir dest file", func(s *Store) error { _, err := s.MoveDir(bg, app, P(t, "a/b"), P(t, "g")); return err }, ErrNotDir, `"g"`},
		{"MoveDir source file", func(s *Store) error { _, err := s.MoveDir(bg, app, P(t, "g"), nil); return err }, ErrNotDir, `"g"`},
		{"MoveDir too deep", func(s *Store) error {
			for _, p := range []string{"d1", "d1/d2", "d1/d2/d3"} {
				if _, err := s.CreateDir(bg, app, P(t, p), false, false, nil); err != nil {
					return err
				}
			}
			_, err := s.MoveDir(bg, app, P(t, "a"), P(t, "d1/d2/d3"))
			return err
		}, ErrTooLarge, "segments"},
	}
}

// TestErrors runs every error case on a fresh fixture per backend, and
// checks the sentinel, the message and that no host path leaks.
func TestErrors(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		for _, tc := range errCases(t) {
			t.Run(tc.name, func(t *testing.T) {
				s, dir := fixture(t, b, Options{MaxMetadata: 16, MaxFileSize: 32, MaxEntries: 4, MaxDepth: 4})
				before := dump(t, s)
				err := tc.op(s)
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("message %q does not say %q", err, tc.msg)
				}
				if dir != "" && strings.Contains(err.Error(), dir) {
					t.Errorf("message %q reveals the host path", err)
				}
				if strings.HasPrefix(tc.name, "ModifyFile") || strings.HasPrefix(tc.name, "ModifyDir") || strings.HasPrefix(tc.name, "Read") || strings.HasPrefix(tc.name, "Stat") || strings.HasPrefix(tc.name, "DeleteFile") {
					if after := dump(t, s); after != before {
						t.Errorf("failed operation changed the store:\n%s\nwant\n%s", after, before)
					}
				}
			})
		}
	})
}

func TestClosed(t *testing.T) {
	s, _ := fixture(t, memBackend, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	p := Path{"a"}
	fp := Path{"a", "f.txt"}
	ops := map[string]func() error{
		"CreateRoot": func() error { _, err := s.CreateRoot(SharedRoot()); return err },
		"DeleteRoot": func() error { return s.DeleteRoot(app) },
		"CreateDir":  func() error { _, err := s.CreateDir(bg, app, Path{"n"}, false, false, nil); return err },
		"DeleteDir":  func() error { return s.DeleteDir(bg, app, p) },
		"GetDir":     func() error { _, err := s.GetDir(bg, app, p); return err },
		"ModifyDir":  func() error { _, err := s.ModifyDir(bg, app, p, DirChange{}); return err },
		"CreateFile": func() error { _, err := s.CreateFile(bg, app, Path{"n"}, nil); return err },
		"DeleteFile": func() error { return s.DeleteFile(bg, app, fp) },
		"ReadFile":   func() error { _, _, err := s.ReadFile(bg, app, fp, 0, -1); return err },
		"StatFile":   func() error { _, err := s.StatFile(bg, app, fp); return err },
		"ModifyFile": func() error { _, err := s.ModifyFile(bg, app, fp, FileChange{}); return err },
		"LookupDir":  func() error { _, _, _, err := s.LookupDir(bg, "x"); return err },
		"MoveDir":    func() error { _, err := s.MoveDir(bg, app, p, nil); return err },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if s.RootExists(app) {
		t.Error("RootExists after Close = true")
	}
}
