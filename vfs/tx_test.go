package vfs

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestUpdateWithOwnTables: a package's own table and the tree change in one
// transaction, all or nothing; a failed tree operation inside it leaves
// nothing behind and the rest commits.
func TestUpdateWithOwnTables(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		s, fsys, _ := newT(t, b, Options{AppQuota: Quota{ContentBytes: 5}})
		setup := func(tx *Tx) error {
			q := tx.SQL()
			if _, err := q.ExecContext(tx.Context(), `CREATE TABLE test_records (name TEXT PRIMARY KEY, home BLOB)`); err != nil {
				return err
			}
			_, err := q.ExecContext(tx.Context(), `INSERT INTO schema_version (component, version) VALUES ('test', 1)`)
			return err
		}
		if err := s.Update(bg, setup); err != nil {
			t.Fatal(err)
		}
		records := func() int {
			var n int
			if err := s.View(bg, func(tx *Tx) error {
				return tx.SQL().QueryRowContext(tx.Context(), `SELECT count(*) FROM test_records`).Scan(&n)
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := dump(t, s)
		blobs := len(blobFiles(t, fsys))
		boom := errors.New("boom")
		err := s.Update(bg, func(tx *Tx) error {
			d, err := tx.CreateDir(app, Path{"site"}, false, false, nil)
			if err != nil {
				return err
			}
			if _, err := tx.CreateFile(app, Path{"site", "index.html"}, nil); err != nil {
				return err
			}
			if _, err := tx.ModifyFile(app, Path{"site", "index.html"}, FileChange{Content: &Content{Bytes: []byte("<h1>")}}); err != nil {
				return err
			}
			if _, err := tx.SQL().ExecContext(tx.Context(), `INSERT INTO test_records VALUES ('www', ?)`, []byte(d.ID)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v", err)
		}
		if got := dump(t, s); got != before || records() != 0 || len(blobFiles(t, fsys)) != blobs {
			t.Fatalf("a rolled back Update left something: %d records, %d blobs\n%s", records(), len(blobFiles(t, fsys)), got)
		}

		err = s.Update(bg, func(tx *Tx) error {
			if _, err := tx.CreateDir(app, Path{"site"}, false, false, nil); err != nil {
				return err
			}
			// Fails after making a blob and changing a row: nothing of it stays.
			_, err := tx.ModifyFile(app, Path{"site"}, FileChange{Content: &Content{Bytes: []byte("x")}})
			if !errors.Is(err, ErrNotFile) {
				return fmt.Errorf("content for a directory: %v", err)
			}
			if _, err := tx.CreateFile(app, Path{"site", "f"}, nil); err != nil {
				return err
			}
			if _, err := tx.ModifyFile(app, Path{"site", "f"}, FileChange{Content: &Content{Bytes: []byte("kept")}}); err != nil {
				return err
			}
			// Fails at the quota, after its blob is written and the parent
			// touched by the rename: nothing of it stays.
			_, err = tx.ModifyFile(app, Path{"site", "f"}, FileChange{Name: ptr("g"), Content: &Content{Bytes: []byte("too long")}})
			if !errors.Is(err, ErrQuota) {
				return fmt.Errorf("past the quota: %v", err)
			}
			if err := tx.DeleteDir(app, Path{"nope"}); !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("DeleteDir of nothing: %v", err)
			}
			_, err = tx.SQL().ExecContext(tx.Context(), `INSERT INTO test_records VALUES ('www', x'00')`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if records() != 1 || readAll(t, s, app, "site/f") != "kept" || len(blobFiles(t, fsys)) != blobs+1 {
			t.Fatalf("after the Update: %d records, %d blobs, %q", records(), len(blobFiles(t, fsys)), readAll(t, s, app, "site/f"))
		}
		site := must[Listing](t)(s.GetDir(bg, app, Path{"site"}))
		f := must[FileInfo](t)(s.StatFile(bg, app, Path{"site", "f"}))
		if len(site.Files) != 1 || site.Info.Modified.After(f.Modified) || !site.Info.Modified.After(site.Info.Created) {
			t.Fatalf("the failed rename left a trace: %+v, file %+v", site, f)
		}
		var v int
		if err := s.View(bg, func(tx *Tx) error {
			return tx.SQL().QueryRowContext(tx.Context(), `SELECT version FROM schema_version WHERE component = 'test'`).Scan(&v)
		}); err != nil || v != 1 {
			t.Fatalf("schema_version of test: %d %v", v, err)
		}
	})
}

// TestViewIsReadOnly: a View cannot change the tree or the tables, and a Tx
// is dead once its function returns.
func TestViewIsReadOnly(t *testing.T) {
	s, _, _ := newT(t, memDBBackend, Options{})
	var kept *Tx
	err := s.View(bg, func(tx *Tx) error {
		kept = tx
		if _, err := tx.CreateFile(app, Path{"f"}, nil); !errors.Is(err, ErrIO) {
			t.Errorf("CreateFile in a View: %v", err)
		}
		if _, err := tx.SQL().ExecContext(tx.Context(), `DELETE FROM usage`); err == nil {
			t.Error("a View wrote a table")
		}
		_, err := tx.GetDir(app, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kept.GetDir(app, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("a Tx after its View: %v", err)
	}
}

// TestUpdateWaitsForTheWriter: write transactions take turns; a caller
// whose context ends while it waits gives up with the context's error.
func TestUpdateWaitsForTheWriter(t *testing.T) {
	s, _, _ := newT(t, memBackend, Options{})
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(bg, func(tx *Tx) error {
			close(holding)
			<-release
			_, err := tx.CreateFile(app, Path{"first"}, nil)
			return err
		})
	}()
	<-holding
	ctx, cancel := context.WithCancel(bg)
	waiting := make(chan error, 1)
	go func() { _, err := s.CreateFile(ctx, app, Path{"second"}, nil); waiting <- err }()
	cancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Fatalf("a change waiting for the writer, canceled: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := s.StatFile(bg, app, Path{"second"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the canceled change happened: %v", err)
	}
	var n int
	if err := s.View(bg, func(tx *Tx) error {
		return tx.SQL().QueryRowContext(tx.Context(), `SELECT count(*) FROM nodes`).Scan(&n)
	}); err != nil || n != 2 {
		t.Fatalf("%d nodes (%v), want the root and first", n, err)
	}
}
