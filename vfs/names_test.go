package vfs_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
	"github.com/spf13/afero"
)

// TestNotUTF8Refused: names that are not valid UTF-8, and U+FFFD (what a
// JSON decoder makes of a lone surrogate such as "a\ud800b", or of bytes
// that are not UTF-8), are refused with ErrInvalidPath naming the segment,
// wherever a name enters the store; two such names never collide.
func TestNotUTF8Refused(t *testing.T) {
	ctx := t.Context()
	s, err := vfs.Open(afero.NewMemMapFs(), vfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := vfs.RandomKeys(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(keys); err != nil {
		t.Fatal(err)
	}
	root := vfs.AppRoot("app")
	if _, err := s.CreateRoot(root); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFile(ctx, root, vfs.Path{"f"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateDir(ctx, root, vfs.Path{"d"}, false, false, nil); err != nil {
		t.Fatal(err)
	}

	// What the daemon's decoder gives the nfs module for a JSON path with a
	// lone surrogate: U+FFFD in place of it.
	var req wire.CreateDirRequest
	if err := wire.Decode([]byte(`{"dir_path":"x/a\ud800b","is_path_shared":false,"is_private":false,"is_versioned":false,"user_metadata":""}`), &req); err != nil {
		t.Fatal(err)
	}
	var std string
	if err := json.Unmarshal([]byte(`"a\udfffb"`), &std); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a\xffb", "a\xed\xa0\x80b", "\xc0\xae", strings.TrimPrefix(req.DirPath, "x/"), std, "\ufffd"} {
		checks := map[string]error{
			"ValidName": vfs.ValidName(name),
			"ParsePath": func() error { _, err := vfs.ParsePath("d/" + name); return err }(),
			"CreateDir": func() error { _, err := s.CreateDir(ctx, root, vfs.Path{name}, false, false, nil); return err }(),
			"CreateFile": func() error {
				_, err := s.CreateFile(ctx, root, vfs.Path{"d", name}, nil)
				return err
			}(),
			"rename file": func() error {
				_, err := s.ModifyFile(ctx, root, vfs.Path{"f"}, vfs.FileChange{Name: &name})
				return err
			}(),
			"rename dir": func() error {
				_, err := s.ModifyDir(ctx, root, vfs.Path{"d"}, vfs.DirChange{Name: &name})
				return err
			}(),
			"GetDir":     func() error { _, err := s.GetDir(ctx, root, vfs.Path{name}); return err }(),
			"CreateRoot": func() error { _, err := s.CreateRoot(vfs.AppRoot(name)); return err }(),
			"SAFEDrive writer": func() error {
				_, err := s.CreateFile(ctx, vfs.SharedRootFor(name), vfs.Path{"g"}, nil)
				return err
			}(),
		}
		for what, err := range checks {
			if !errors.Is(err, vfs.ErrInvalidPath) {
				t.Errorf("%s of %q: %v, want ErrInvalidPath", what, name, err)
			}
		}
		if err := vfs.ValidName(name); !strings.Contains(err.Error(), "name \"") {
			t.Errorf("error %q does not quote the name", err)
		}
	}
	l, err := s.GetDir(ctx, root, nil)
	if err != nil || len(l.Dirs) != 1 || len(l.Files) != 1 {
		t.Fatalf("refused names changed the store: %+v %v", l, err)
	}
}
