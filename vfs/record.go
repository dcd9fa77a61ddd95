package vfs

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A node's attributes are kept in one column, rec, in this layout (format
// 2), so that a listing reads one value per entry (with modernc.org/sqlite
// every column read costs about a third of a microsecond):
//
//	[0]      2, the format
//	[1]      kind: 0 directory, 1 file
//	[2]      flags: 1 private, 2 versioned (directories)
//	[3:19]   uid, the stable ID (16 bytes)
//	[19:27]  created, Unix nanoseconds, int64 little-endian
//	[27:35]  modified, the same
//	[35:43]  size, bytes of content (files), int64 little-endian
//	[43:51]  version: the content version (files), bumped by every
//	         content change, int64 little-endian
//	uvarint  length of the sealed name, then the sealed name
//	rest     the sealed user metadata (none: empty)
//
// The header [0:51] is in the clear and authenticated by the sealed name
// (crypt.go: nameAD); a root's name is its key (Root.String()). The
// columns kind, uid, size and meta_len repeat what SQL needs to query
// (indexes, sums).
const (
	recFormat = 2
	recHeader = 51
)

var errRecord = errors.New("bad record")

// recFields are the attributes a record holds; name and meta are sealed in
// a decoded record, in the clear in one to seal.
type recFields struct {
	kind, flags       byte
	uid               []byte // 16 bytes
	created, modified int64
	size, version     int64
	name, meta        []byte
}

// appendRecHeader appends the clear header of f to b.
func appendRecHeader(b []byte, f *recFields) []byte {
	b = append(b, recFormat, f.kind, f.flags)
	b = append(b, f.uid...)
	b = binary.LittleEndian.AppendUint64(b, uint64(f.created))
	b = binary.LittleEndian.AppendUint64(b, uint64(f.modified))
	b = binary.LittleEndian.AppendUint64(b, uint64(f.size))
	return binary.LittleEndian.AppendUint64(b, uint64(f.version))
}

// appendRec appends the record of f (name and meta as stored, sealed) to b.
func appendRec(b []byte, f *recFields) []byte {
	b = appendRecHeader(b, f)
	b = binary.AppendUvarint(b, uint64(len(f.name)))
	b = append(b, f.name...)
	return append(b, f.meta...)
}

// decodeRec reads a record (name and meta sealed). The slices of the
// result alias b. A record that is not one (wrong format, short, a sealed
// name shorter than a seal or longer than what is left, sealed metadata
// shorter than a seal, a kind or size out of range) is an error wrapping
// errRecord.
func decodeRec(b []byte) (recFields, error) {
	var f recFields
	if len(b) < recHeader {
		return f, fmt.Errorf("%w: %d bytes", errRecord, len(b))
	}
	if b[0] != recFormat {
		return f, fmt.Errorf("%w: format %d", errRecord, b[0])
	}
	f.kind, f.flags = b[1], b[2]
	if f.kind > kindFile || f.flags&^(flagPrivate|flagVersioned) != 0 {
		return f, fmt.Errorf("%w: kind %d, flags %d", errRecord, f.kind, f.flags)
	}
	f.uid = b[3:19]
	f.created = int64(binary.LittleEndian.Uint64(b[19:]))
	f.modified = int64(binary.LittleEndian.Uint64(b[27:]))
	f.size = int64(binary.LittleEndian.Uint64(b[35:]))
	f.version = int64(binary.LittleEndian.Uint64(b[43:]))
	if f.size < 0 || f.version < 0 {
		return f, fmt.Errorf("%w: size %d, version %d", errRecord, f.size, f.version)
	}
	n, k := binary.Uvarint(b[recHeader:])
	if k <= 0 || n > uint64(len(b)-recHeader-k) || n < sealOverhead {
		return f, fmt.Errorf("%w: bad name length", errRecord)
	}
	off := recHeader + k
	f.name = b[off : off+int(n)]
	f.meta = b[off+int(n):]
	if len(f.meta) != 0 && len(f.meta) < sealOverhead {
		return f, fmt.Errorf("%w: %d bytes of sealed metadata", errRecord, len(f.meta))
	}
	return f, nil
}
