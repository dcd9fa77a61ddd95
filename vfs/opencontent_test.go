package vfs

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestOpenContent: the streamed content is exactly what ReadFile returns,
// for every offset and length rule, and a reader keeps the version it opened.
func TestOpenContent(t *testing.T) {
	for _, b := range allBackends {
		t.Run(b.name, func(t *testing.T) {
			s, _, _ := newT(t, b, Options{})
			content := "0123456789abcdefghij"
			mkfile(t, s, app, "f", content)
			p := Path{"f"}
			for _, c := range []struct{ off, n int64 }{{0, -1}, {0, 5}, {3, 100}, {20, -1}, {19, 1}, {5, 0}} {
				want, wantInfo, err := s.ReadFile(bg, app, p, c.off, c.n)
				if err != nil {
					t.Fatal(err)
				}
				rc, n, info, err := s.OpenContent(bg, app, p, c.off, c.n)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, want) || n != int64(len(want)) || info.Size != wantInfo.Size {
					t.Fatalf("%+v: got %q (%d, %v), want %q", c, got, n, err, want)
				}
			}
			if _, _, _, err := s.OpenContent(bg, app, p, 21, -1); !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("offset past the end: %v", err)
			}
			if _, _, _, err := s.OpenContent(bg, app, Path{"missing"}, 0, -1); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing file: %v", err)
			}

			// A reader opened before a rewrite reads the old version.
			rc, _, _, err := s.OpenContent(bg, app, p, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if _, err := s.ModifyFile(bg, app, p, FileChange{Content: &Content{Bytes: []byte("new")}}); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil || string(got) != content {
				t.Fatalf("after rewrite: %q, %v", got, err)
			}
		})
	}
}
