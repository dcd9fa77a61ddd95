package vfs

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
)

// memReaderAt is a blob in memory.
type memReaderAt []byte

func (m memReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func sealBlob(t testing.TB, ks *keyset, uid []byte, version int64, content []byte) []byte {
	var b bytes.Buffer
	w := ks.sealContent(uid, version, 0, &b)
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestContentChunks(t *testing.T) {
	ks := &keyset{k: *testKeys()}
	uid := bytes.Repeat([]byte{5}, 16)
	for _, size := range []int{1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 17} {
		content := make([]byte, size)
		for i := range content {
			content[i] = byte(i * 7)
		}
		blob := sealBlob(t, ks, uid, 3, content)
		if int64(len(blob)) != sealedSize(int64(size)) {
			t.Fatalf("size %d: blob %d bytes, want %d", size, len(blob), sealedSize(int64(size)))
		}
		if bytes.Contains(blob, content[:min(size, 64)]) && size >= 16 {
			t.Fatalf("size %d: content in the clear", size)
		}
		r, err := ks.openContent(uid, 3, memReaderAt(blob), int64(size))
		if err != nil {
			t.Fatal(err)
		}
		for _, rg := range [][2]int{{0, size}, {size / 2, size}, {size - 1, size}, {0, 1}} {
			got := make([]byte, rg[1]-rg[0])
			if _, err := r.ReadAt(got, int64(rg[0])); err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("size %d range %v: %v", size, rg, err)
			}
			if !bytes.Equal(got, content[rg[0]:rg[1]]) {
				t.Fatalf("size %d range %v: wrong bytes", size, rg)
			}
		}
		// Every way of moving a chunk fails: another file, another
		// version, a truncation (the size comes from the file's row), a
		// flipped byte.
		bad := map[string]func() error{
			"other file":  func() error { return readAllChunks(ks, bytes.Repeat([]byte{6}, 16), 3, blob, size) },
			"old version": func() error { return readAllChunks(ks, uid, 2, blob, size) },
			"flipped": func() error {
				b := bytes.Clone(blob)
				b[len(b)/2] ^= 1
				return readAllChunks(ks, uid, 3, b, size)
			},
		}
		if size > chunkSize {
			bad["truncated to whole chunks"] = func() error {
				return readAllChunks(ks, uid, 3, blob[:chunkSize+sealOverhead], size)
			}
		}
		if size > 2*chunkSize {
			bad["swapped"] = func() error {
				b := bytes.Clone(blob)
				c := chunkSize + sealOverhead
				copy(b[:c], blob[c:2*c])
				copy(b[c:2*c], blob[:c])
				return readAllChunks(ks, uid, 3, b, size)
			}
		}
		for name, f := range bad {
			if err := f(); !errors.Is(err, ErrIntegrity) {
				t.Errorf("size %d, %s: %v, want ErrIntegrity", size, name, err)
			}
		}
	}
}

func readAllChunks(ks *keyset, uid []byte, version int64, blob []byte, size int) error {
	r, err := ks.openContent(uid, version, memReaderAt(blob), int64(size))
	if err != nil {
		return err
	}
	_, err = r.ReadAt(make([]byte, size), 0)
	return err
}

// FuzzContentChunks: the chunk reader never panics on any blob, and any
// blob the writer did not make for (uid, version, size) is ErrIntegrity.
func FuzzContentChunks(f *testing.F) {
	ks := &keyset{k: *testKeys()}
	uid := make([]byte, 16)
	f.Add(sealBlob(f, ks, uid, 1, []byte("hello")), int64(5), int64(0))
	f.Add(sealBlob(f, ks, uid, 1, bytes.Repeat([]byte{1}, chunkSize+3)), int64(chunkSize+3), int64(chunkSize))
	f.Add([]byte{}, int64(1), int64(0))
	f.Fuzz(func(t *testing.T, blob []byte, size, off int64) {
		if size <= 0 || size > 4*chunkSize || off < 0 || off >= size {
			return
		}
		r, err := ks.openContent(uid, 1, memReaderAt(blob), size)
		if err != nil {
			t.Fatal(err) // memReaderAt has no Stat: never
		}
		buf := make([]byte, min(size-off, 100))
		if _, err := r.ReadAt(buf, off); err != nil && !errors.Is(err, ErrIntegrity) && !errors.Is(err, io.EOF) {
			t.Fatalf("error %v", err)
		}
	})
}

// FuzzSealerOpen: Open never panics, and refuses everything but what Seal
// made with the same purpose and ad.
func FuzzSealerOpen(f *testing.F) {
	s := Sealer{&keyset{k: *testKeys()}}
	good := s.Seal(PurposeDNS, []byte("row"), []byte("record"))
	f.Add(good, []byte("row"))
	f.Add(good[:20], []byte("row"))
	f.Add([]byte{1}, []byte{})
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		pt, err := s.Open(PurposeDNS, ad, sealed)
		if err != nil {
			if !errors.Is(err, ErrIntegrity) {
				t.Fatalf("error %v", err)
			}
			return
		}
		// Only seals made by Seal open (each process of the fuzzer seals
		// its own, with its own nonce): all are of "record" with "row".
		if string(ad) != "row" || string(pt) != "record" {
			t.Fatalf("opened a forgery: %x", sealed)
		}
	})
}

func TestSealer(t *testing.T) {
	s := Sealer{&keyset{k: *testKeys()}}
	for _, pt := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte("y"), 1000)} {
		b := s.Seal(PurposeRegistry, []byte("app-1"), pt)
		if len(b) != len(pt)+1+sealOverhead {
			t.Fatalf("%d bytes sealed to %d", len(pt), len(b))
		}
		got, err := s.Open(PurposeRegistry, []byte("app-1"), b)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open: %q %v", got, err)
		}
		if _, err := s.Open(PurposeDNS, []byte("app-1"), b); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("other purpose: %v", err)
		}
		if _, err := s.Open(PurposeRegistry, []byte("app-2"), b); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("other ad: %v", err)
		}
	}
	if bytes.Equal(s.Hash(PurposeDNS, []byte("a")), s.Hash(PurposeRegistry, []byte("a"))) ||
		!bytes.Equal(s.Hash(PurposeDNS, []byte("a")), s.Hash(PurposeDNS, []byte("a"))) {
		t.Fatal("Hash is not per purpose or not deterministic")
	}
}

// TestLockRacing locks and unlocks the store while operations run: each
// operation either completes with the right bytes or gets ErrLocked, never
// anything else, and after Lock new operations get ErrLocked.
func TestLockRacing(t *testing.T) {
	fsys, _ := memBackend.make(t)
	s := openT(t, fsys, Options{})
	defer s.Close()
	must[DirInfo](t)(s.CreateRoot(app))
	content := bytes.Repeat([]byte("secret content "), 20000)
	mkfile(t, s, app, "f", string(content))
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Go(func() {
			<-start
			for i := range 30 {
				var err error
				if w%2 == 0 {
					var b []byte
					b, _, err = s.ReadFile(bg, app, Path{"f"}, 0, -1)
					if err == nil && !bytes.Equal(b, content) {
						errs <- errors.New("wrong content")
						return
					}
				} else {
					_, err = s.ModifyFile(bg, app, Path{"f"}, FileChange{Content: &Content{Bytes: content}})
				}
				if err != nil && !errors.Is(err, ErrLocked) {
					errs <- err
					return
				}
				_ = i
			}
		})
	}
	wg.Go(func() {
		<-start
		for range 50 {
			s.Lock()
			if err := s.Unlock(testKeys()); err != nil {
				errs <- err
				return
			}
		}
	})
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s.Lock()
	s.Lock() // idempotent
	if !s.Locked() {
		t.Fatal("not locked")
	}
	if _, _, err := s.ReadFile(bg, app, Path{"f"}, 0, -1); !errors.Is(err, ErrLocked) {
		t.Fatalf("read after Lock: %v", err)
	}
	if err := s.Update(bg, func(*Tx) error { return nil }); !errors.Is(err, ErrLocked) {
		t.Fatalf("Update after Lock: %v", err)
	}
	if err := s.Unlock(testKeys()); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, app, "f"); got != string(content) {
		t.Fatal("content changed")
	}
	// Wrong keys read nothing: every read is an integrity error.
	wrong := testKeys()
	wrong.Names[0] ^= 1
	if err := s.Unlock(wrong); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetDir(bg, app, nil); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("GetDir with wrong keys: %v", err)
	}
}

// TestOpenContentAfterLock: a reader opened before Lock reads on with its
// own copy of the keys.
func TestOpenContentAfterLock(t *testing.T) {
	fsys, _ := memBackend.make(t)
	s := openT(t, fsys, Options{})
	defer s.Close()
	must[DirInfo](t)(s.CreateRoot(app))
	content := bytes.Repeat([]byte("0123456789"), chunkSize/5)
	mkfile(t, s, app, "f", string(content))
	rc, n, _, err := s.OpenContent(bg, app, Path{"f"}, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	s.Lock()
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || int64(len(got)) != n || !bytes.Equal(got, content) {
		t.Fatalf("read after Lock: %d bytes, %v", len(got), err)
	}
}
