package vfs

import (
	"bytes"
	"errors"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, f := range []recFields{
		{kind: kindDir, uid: bytes.Repeat([]byte{1}, 16), created: 1, modified: 2},
		{kind: kindFile, flags: 0, uid: bytes.Repeat([]byte{0xff}, 16), created: -5, modified: 1 << 62, size: 1 << 40,
			name: []byte("é\x00x"), meta: bytes.Repeat([]byte{7}, 70000)},
		{kind: kindDir, flags: flagPrivate | flagVersioned, uid: make([]byte, 16), name: bytes.Repeat([]byte("n"), 300)},
	} {
		b := appendRec(nil, &f)
		got, err := decodeRec(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.kind != f.kind || got.flags != f.flags || !bytes.Equal(got.uid, f.uid) || got.created != f.created ||
			got.modified != f.modified || got.size != f.size || !bytes.Equal(got.name, f.name) || !bytes.Equal(got.meta, f.meta) {
			t.Fatalf("round trip of %+v gave %+v", f, got)
		}
	}
}

func TestRecordRefused(t *testing.T) {
	good := appendRec(nil, &recFields{kind: kindFile, uid: make([]byte, 16), name: []byte("name"), meta: []byte("m")})
	for name, b := range map[string][]byte{
		"empty":       nil,
		"short":       good[:recHeader-1],
		"format":      append([]byte{2}, good[1:]...),
		"kind":        append([]byte{1, 2}, good[2:]...),
		"flags":       append([]byte{1, 0, 4}, good[3:]...),
		"size":        append(append(append([]byte{}, good[:35]...), 0, 0, 0, 0, 0, 0, 0, 0x80), good[43:]...),
		"name length": append(append([]byte{}, good[:recHeader]...), 100, 'x'),
		"no length":   good[:recHeader],
		"bad varint":  append(append([]byte{}, good[:recHeader]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
	} {
		if _, err := decodeRec(b); !errors.Is(err, errRecord) {
			t.Errorf("%s: %v, want errRecord", name, err)
		}
	}
}

// FuzzDecodeRecord: decodeRec never panics, and what it accepts encodes
// back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRec(nil, &recFields{kind: kindFile, uid: make([]byte, 16), size: 3, name: []byte("f"), meta: []byte("m")}))
	f.Add(appendRec(nil, &recFields{kind: kindDir, flags: 3, uid: bytes.Repeat([]byte{9}, 16), name: []byte{}}))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRec(b)
		if err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("error %v does not wrap errRecord", err)
			}
			return
		}
		if again := appendRec(nil, &r); !bytes.Equal(again, b) {
			// A non-minimal varint is the only way two encodings decode
			// alike; the store never writes one.
			if again2, err := decodeRec(again); err != nil || !bytes.Equal(again2.name, r.name) || !bytes.Equal(again2.meta, r.meta) {
				t.Fatalf("re-encoding %x gave %x", b, again)
			}
		}
	})
}
