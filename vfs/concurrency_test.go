package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// version v of the "whole" file: the byte v repeated versionLen(v) times.
func versionLen(v byte) int { return 1000 + int(v)*397 }

func version(v byte) []byte { return bytes.Repeat([]byte{v}, versionLen(v)) }

// seqByte is byte i of the "seq" file; any write of seq bytes at their own
// offsets keeps the file a prefix of the sequence.
func seqByte(i int64) byte { return byte(i % 251) }

func seqRange(off, n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seqByte(off + int64(i))
	}
	return b
}

// TestConcurrentReadWrite runs writers and readers on the same files and
// checks that readers only ever see whole committed versions.
func TestConcurrentReadWrite(t *testing.T) {
	forEachOf(t, append(allBackends, memDBBackend), func(t *testing.T, b backend) {
		s, _, _ := newT(t, b, Options{})
		mkdir(t, s, app, "d")
		mkfile(t, s, app, "d/whole", string(version(0)))
		mkfile(t, s, app, "d/seq", string(seqRange(0, 10)))
		dur := 700 * time.Millisecond
		if testing.Short() {
			dur = 200 * time.Millisecond
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var reads, writes atomic.Int64
		errc := make(chan error, 64)
		fail := func(err error) {
			select {
			case errc <- err:
			default:
			}
		}
		run := func(n int, fn func(rng *rand.Rand) error) {
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(i), uint64(n)))
					for {
						select {
						case <-stop:
							return
						default:
						}
						if err := fn(rng); err != nil {
							fail(err)
							return
						}
					}
				}()
			}
		}
		whole, seq := Path{"d", "whole"}, Path{"d", "seq"}
		// Writers of whole versions: replace with any version, or patch from
		// offset 0 with the longest version, which covers any content (the
		// copy + patch path).
		run(3, func(rng *rand.Rand) error {
			c := &Content{Bytes: version(byte(rng.IntN(255)))}
			if rng.IntN(3) == 0 {
				c = &Content{Offset: ptr[int64](0), Bytes: version(255)}
			}
			_, err := s.ModifyFile(bg, app, whole, FileChange{Content: c})
			writes.Add(1)
			return err
		})
		// Writers of seq: appends in place and patches inside.
		run(3, func(rng *rand.Rand) error {
			st, err := s.StatFile(bg, app, seq)
			if err != nil {
				return err
			}
			off := st.Size
			if rng.IntN(2) == 0 {
				off = rng.Int64N(st.Size + 1)
			}
			if off+5000 > 4<<20 {
				off = rng.Int64N(1000)
			}
			_, err = s.ModifyFile(bg, app, seq, FileChange{Content: &Content{Offset: &off, Bytes: seqRange(off, 1+rng.Int64N(3000))}})
			writes.Add(1)
			return err
		})
		// Readers.
		run(4, func(rng *rand.Rand) error {
			got, fi, err := s.ReadFile(bg, app, whole, 0, -1)
			if err != nil {
				return err
			}
			if len(got) == 0 || len(got) != versionLen(got[0]) || !bytes.Equal(got, version(got[0])) || fi.Size != int64(len(got)) {
				return fmt.Errorf("torn read of whole: %d bytes starting %d, size %d", len(got), got[0], fi.Size)
			}
			off := rng.Int64N(2000)
			got, fi, err = s.ReadFile(bg, app, seq, off, rng.Int64N(10000)-100)
			if err != nil {
				if errors.Is(err, ErrOutOfRange) {
					return nil
				}
				return err
			}
			if !bytes.Equal(got, seqRange(off, int64(len(got)))) || off+int64(len(got)) > fi.Size {
				return fmt.Errorf("torn read of seq at %d (%d bytes, size %d)", off, len(got), fi.Size)
			}
			reads.Add(1)
			return nil
		})
		// Churn in the same directory.
		run(2, func(rng *rand.Rand) error {
			n := fmt.Sprintf("t%d", rng.IntN(20))
			p := Path{"d", n}
			if _, err := s.CreateFile(bg, app, p, nil); err != nil && !errors.Is(err, ErrExists) {
				return err
			}
			if _, err := s.ModifyFile(bg, app, p, FileChange{Name: ptr(n + "x"), Content: &Content{Bytes: []byte(n)}}); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrExists) {
				return err
			}
			if err := s.DeleteFile(bg, app, Path{"d", n + "x"}); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			_, err := s.GetDir(bg, app, Path{"d"})
			return err
		})
		time.Sleep(dur)
		close(stop)
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		// How many run in the time depends on the machine's load; what
		// must hold is that both ran, and that no read was torn.
		if reads.Load() < 1 || writes.Load() < 1 {
			t.Fatalf("only %d reads and %d writes", reads.Load(), writes.Load())
		}
		t.Logf("%d reads, %d writes", reads.Load(), writes.Load())
	})
}

// TestConcurrentDeleteWhileWriting deletes files while their content is
// being written; a write either lands before the delete or reports
// ErrNotFound, and no blob is left behind.
func TestConcurrentDeleteWhileWriting(t *testing.T) {
	forEachOf(t, append(allBackends, memDBBackend), func(t *testing.T, b backend) {
		s, fsys, _ := newT(t, b, Options{})
		for i := range 30 {
			p := Path{fmt.Sprint(i)}
			mkfile(t, s, app, p[0], "x")
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				for range 3 {
					_, err := s.ModifyFile(bg, app, p, FileChange{Content: &Content{Offset: ptr[int64](0), Bytes: make([]byte, 100_000)}})
					if err != nil && !errors.Is(err, ErrNotFound) {
						t.Error(err)
					}
				}
			}()
			go func() {
				defer wg.Done()
				if err := s.DeleteFile(bg, app, p); err != nil {
					t.Error(err)
				}
			}()
			wg.Wait()
		}
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		if n := len(blobFiles(t, fsys)); n != 0 {
			t.Fatalf("%d blobs left after deleting every file", n)
		}
	})
}

// TestCloseWaits checks that Close stops the store: every operation that
// starts after Close returned fails with ErrClosed, and operations racing
// Close either complete or fail with ErrClosed, never anything else.
func TestCloseWaits(t *testing.T) {
	s, _, _ := newT(t, memBackend, Options{})
	mkfile(t, s, app, "f", "")
	var wg sync.WaitGroup
	var closed atomic.Bool
	var okBefore atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				startedAfterClose := closed.Load()
				_, err := s.ModifyFile(bg, app, Path{"f"}, FileChange{Content: &Content{Bytes: make([]byte, 1000)}})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				if startedAfterClose {
					t.Error("an operation started after Close returned succeeded")
					return
				}
				okBefore.Add(1)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	s.Close()
	closed.Store(true)
	wg.Wait()
	if okBefore.Load() == 0 {
		t.Fatal("no operation ran before Close")
	}
}
