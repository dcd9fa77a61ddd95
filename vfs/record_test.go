package vfs

import (
	"bytes"
	"errors"
	"testing"
)

// sealedLike is n bytes standing for a seal (at least sealOverhead).
func sealedLike(n int, b byte) []byte { return bytes.Repeat([]byte{b}, sealOverhead+n) }

func TestRecordRoundTrip(t *testing.T) {
	for _, f := range []recFields{
		{kind: kindDir, uid: bytes.Repeat([]byte{1}, 16), created: 1, modified: 2, name: sealedLike(0, 3)},
		{kind: kindFile, flags: 0, uid: bytes.Repeat([]byte{0xff}, 16), created: -5, modified: 1 << 62, size: 1 << 40, version: 7,
			name: sealedLike(3, 4), meta: sealedLike(70000, 7)},
		{kind: kindDir, flags: flagPrivate | flagVersioned, uid: make([]byte, 16), name: sealedLike(300, 'n')},
	} {
		b := appendRec(nil, &f)
		got, err := decodeRec(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.kind != f.kind || got.flags != f.flags || !bytes.Equal(got.uid, f.uid) || got.created != f.created ||
			got.modified != f.modified || got.size != f.size || got.version != f.version || !bytes.Equal(got.name, f.name) || !bytes.Equal(got.meta, f.meta) {
			t.Fatalf("round trip of %+v gave %+v", f, got)
		}
	}
}

func TestRecordRefused(t *testing.T) {
	good := appendRec(nil, &recFields{kind: kindFile, uid: make([]byte, 16), name: sealedLike(4, 1), meta: sealedLike(1, 2)})
	for name, b := range map[string][]byte{
		"empty":       nil,
		"short":       good[:recHeader-1],
		"format":      append([]byte{1}, good[1:]...),
		"kind":        append([]byte{recFormat, 2}, good[2:]...),
		"flags":       append([]byte{recFormat, 0, 4}, good[3:]...),
		"size":        append(append(append([]byte{}, good[:35]...), 0, 0, 0, 0, 0, 0, 0, 0x80), good[43:]...),
		"version":     append(append(append([]byte{}, good[:43]...), 0, 0, 0, 0, 0, 0, 0, 0x80), good[51:]...),
		"name length": append(append([]byte{}, good[:recHeader]...), 100, 'x'),
		"short name":  append(append([]byte{}, good[:recHeader]...), 2, 'x', 'y'),
		"short meta":  append(append(append([]byte{}, good[:recHeader]...), sealOverhead), append(sealedLike(0, 1), 1, 2, 3)...),
		"no length":   good[:recHeader],
		"bad varint":  append(append([]byte{}, good[:recHeader]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
	} {
		if _, err := decodeRec(b); !errors.Is(err, errRecord) {
			t.Errorf("%s: %v, want errRecord", name, err)
		}
	}
}

// FuzzDecodeRecord: decodeRec never panics, and what it accepts encodes
// back to the same bytes; openRec refuses everything not sealed by the
// keys with ErrIntegrity, never panics.
func FuzzDecodeRecord(f *testing.F) {
	ks := &keyset{k: *testKeys()}
	f.Add(ks.sealRec(5, &recFields{kind: kindFile, uid: make([]byte, 16), size: 3, name: []byte("f"), meta: []byte("m")}))
	f.Add(ks.sealRec(0, &recFields{kind: kindDir, flags: 3, uid: bytes.Repeat([]byte{9}, 16), name: []byte("app:x")}))
	f.Add(appendRec(nil, &recFields{kind: kindFile, uid: make([]byte, 16), name: sealedLike(1, 1)}))
	f.Add([]byte{recFormat, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ks.openRec(5, b); err != nil && !errors.Is(err, ErrIntegrity) {
			t.Fatalf("openRec error %v does not wrap ErrIntegrity", err)
		}
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
