package vfs

import (
	"bytes"
	"fmt"
	"testing"
)

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, _, _ := newT(b, osBackend, Options{Clock: nil})
	return s
}

func BenchmarkGetDir10(b *testing.B) {
	s := benchStore(b)
	mkdir(b, s, app, "d")
	for i := range 5 {
		mkdir(b, s, app, fmt.Sprintf("d/sub%d", i))
		mkfile(b, s, app, fmt.Sprintf("d/file%d", i), "content")
	}
	p := Path{"d"}
	b.ReportAllocs()
	for b.Loop() {
		l, err := s.GetDir(bg, app, p)
		if err != nil || len(l.Dirs)+len(l.Files) != 10 {
			b.Fatal(err, l)
		}
	}
}

func BenchmarkCreateDeleteFile(b *testing.B) {
	s := benchStore(b)
	mkdir(b, s, app, "d")
	p := Path{"d", "f"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.CreateFile(bg, app, p, []byte("meta")); err != nil {
			b.Fatal(err)
		}
		if err := s.DeleteFile(bg, app, p); err != nil {
			b.Fatal(err)
		}
	}
}

func benchModify(b *testing.B, size int, offset bool) {
	s := benchStore(b)
	data := bytes.Repeat([]byte{7}, size)
	mkfile(b, s, app, "f", string(data))
	p := Path{"f"}
	c := &Content{Bytes: data}
	if offset {
		// Patch 4 KiB in the middle: copy + patch into a new blob.
		c = &Content{Offset: ptr(int64(size / 2)), Bytes: data[:4096]}
	}
	if !offset {
		b.SetBytes(int64(len(c.Bytes)))
	}
	for b.Loop() {
		if _, err := s.ModifyFile(bg, app, p, FileChange{Content: c}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkModifyFile1MiB(b *testing.B)       { benchModify(b, 1<<20, false) }
func BenchmarkModifyFile16MiB(b *testing.B)      { benchModify(b, 16<<20, false) }
func BenchmarkModifyFilePatch16MiB(b *testing.B) { benchModify(b, 16<<20, true) }

func BenchmarkAppend64KiB(b *testing.B) {
	s := benchStore(b)
	mkfile(b, s, app, "f", "")
	p := Path{"f"}
	data := bytes.Repeat([]byte{1}, 64<<10)
	var size int64
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if size+int64(len(data)) > DefaultMaxFileSize {
			b.StopTimer()
			if _, err := s.ModifyFile(bg, app, p, FileChange{Content: &Content{}}); err != nil {
				b.Fatal(err)
			}
			size = 0
			b.StartTimer()
		}
		fi, err := s.ModifyFile(bg, app, p, FileChange{Content: &Content{Offset: &size, Bytes: data}})
		if err != nil {
			b.Fatal(err)
		}
		size = fi.Size
	}
}

func BenchmarkReadFile1MiB(b *testing.B) {
	s := benchStore(b)
	mkfile(b, s, app, "f", string(bytes.Repeat([]byte{7}, 1<<20)))
	p := Path{"f"}
	b.SetBytes(1 << 20)
	for b.Loop() {
		got, _, err := s.ReadFile(bg, app, p, 0, -1)
		if err != nil || len(got) != 1<<20 {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetDir1000(b *testing.B) {
	s := benchStore(b)
	mkdir(b, s, app, "d")
	for i := range 1000 {
		if _, err := s.CreateFile(bg, app, Path{"d", fmt.Sprintf("file%05d", i)}, []byte("meta")); err != nil {
			b.Fatal(err)
		}
	}
	p := Path{"d"}
	b.ReportAllocs()
	for b.Loop() {
		l, err := s.GetDir(bg, app, p)
		if err != nil || len(l.Files) != 1000 {
			b.Fatal(err, len(l.Files))
		}
	}
}
