package vfs

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
)

// Encryption at rest (docs/security.md, docs/vfs.md). Every name, user
// metadata and content byte passes through a keyset, the copy of the
// store's Keys an operation holds from its start to its end:
//
//   - names are found by nameKey, a keyed BLAKE2b-128 of (parent, name)
//     under Keys.NameLookup, in the name_key column; the name itself is
//     sealed in the record (record.go) under Keys.Names;
//   - user metadata is sealed in the record under Keys.Metadata;
//   - root keys (roots.key, usage.root) and app names (usage.app,
//     nodes.owner) are keyed hashes (hideRoot, hideApp); the root's key is
//     sealed as the root node's name, for LookupDir;
//   - content is sealed in chunks of chunkSize bytes (contentWriter,
//     contentReader).
//
// Every seal is XChaCha20-Poly1305 with a random 24-byte nonce: sealed =
// nonce || ciphertext || tag (sealOverhead bytes more than the plaintext).

const (
	nonceSize    = chacha20poly1305.NonceSizeX // 24
	tagSize      = chacha20poly1305.Overhead   // 16
	sealOverhead = nonceSize + tagSize
	// chunkSize is the plaintext of every content chunk but the last.
	chunkSize = 64 << 10
	// hashSize is the size of a keyed hash (name_key, root and app keys).
	hashSize = 16
)

// Labels that start every associated data and hash input, one per use, so
// that nothing sealed or hashed for one use passes for another.
const (
	adName    = "safe-launcher/vfs/v1/name\x00"
	adMeta    = "safe-launcher/vfs/v1/user_metadata\x00"
	adContent = "safe-launcher/vfs/v1/content\x00"
	adSealer  = "safe-launcher/vfs/v1/sealer\x00"
	hName     = "safe-launcher/vfs/v1/name-key\x00"
	hRoot     = "safe-launcher/vfs/v1/root-key\x00"
	hApp      = "safe-launcher/vfs/v1/app-key\x00"
	hSealer   = "safe-launcher/vfs/v1/sealer-hash\x00"
)

// errOpen: a seal did not open (wrong key, or a changed byte).
var errOpen = errors.New("message authentication failed")

// keyset is one operation's copy of the store's keys.
type keyset struct{ k Keys }

func (ks *keyset) wipe() {
	if ks != nil {
		ks.k.Wipe()
	}
}

// hash is the keyed BLAKE2b-128 of label || parts under Keys.NameLookup.
func (ks *keyset) hash(label string, parts ...[]byte) []byte {
	h, err := blake2b.New(hashSize, ks.k.NameLookup[:])
	if err != nil {
		panic("vfs: blake2b: " + err.Error()) // cannot happen: fixed sizes
	}
	h.Write([]byte(label))
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(make([]byte, 0, hashSize))
}

// nameKey is what the name is found by in the directory parent.
func (ks *keyset) nameKey(parent int64, name string) []byte {
	return ks.hash(hName, binary.LittleEndian.AppendUint64(nil, uint64(parent)), []byte(name))
}

// hideApp is the stored form of an app's root directory name (nodes.owner,
// usage.app): "" stays "".
func (ks *keyset) hideApp(name string) string {
	if name == "" {
		return ""
	}
	return hex.EncodeToString(ks.hash(hApp, []byte(name)))
}

// hideRoot is the stored key of root r (roots.key, usage.root): "shared",
// "app:" + hideApp(name) or "reserved:" + a keyed hash of the name.
func (ks *keyset) hideRoot(r Root) string {
	switch r.kind {
	case kindApp:
		return "app:" + ks.hideApp(r.name)
	case kindReserved:
		return "reserved:" + hex.EncodeToString(ks.hash(hRoot, []byte(r.name)))
	}
	return r.String()
}

// seal returns nonce || XChaCha20-Poly1305(key, nonce, pt, ad) appended to dst.
func seal(dst []byte, key *[KeySize]byte, pt, ad []byte) []byte {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		panic("vfs: chacha20poly1305: " + err.Error()) // cannot happen: fixed key size
	}
	off := len(dst)
	dst = append(dst, make([]byte, nonceSize)...)
	if _, err := io.ReadFull(rand.Reader, dst[off:]); err != nil {
		panic("vfs: crypto/rand failed: " + err.Error()) // crypto/rand does not fail (Go 1.24+)
	}
	return aead.Seal(dst, dst[off:off+nonceSize], pt, ad)
}

// open opens what seal made, appending the plaintext to dst.
func open(dst []byte, key *[KeySize]byte, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < sealOverhead {
		return nil, fmt.Errorf("%w: %d sealed bytes", errOpen, len(sealed))
	}
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		panic("vfs: chacha20poly1305: " + err.Error())
	}
	out, err := aead.Open(dst, sealed[:nonceSize], sealed[nonceSize:], ad)
	if err != nil {
		return nil, errOpen
	}
	return out, nil
}

// nameAD is the associated data of a node's sealed name: the parent's id,
// the record's clear header (format, kind, flags, uid, times, size,
// version) and the length of its sealed metadata, so that none of them can
// change unnoticed.
func nameAD(parent int64, hdr []byte, metaLen int) []byte {
	ad := make([]byte, 0, len(adName)+8+len(hdr)+8)
	ad = append(ad, adName...)
	ad = binary.LittleEndian.AppendUint64(ad, uint64(parent))
	ad = append(ad, hdr...)
	return binary.LittleEndian.AppendUint64(ad, uint64(metaLen))
}

// metaAD is the associated data of a node's sealed user metadata: the
// node's uid, the field's label and the nonce of the node's sealed name
// (fresh at every save), so that an older metadata of the same node cannot
// be put back beside a newer name.
func metaAD(uid, nameNonce []byte) []byte {
	ad := make([]byte, 0, len(adMeta)+len(uid)+len(nameNonce))
	ad = append(ad, adMeta...)
	ad = append(ad, uid...)
	return append(ad, nameNonce...)
}

// sealRec returns the record of f (f.name and f.meta in the clear) as
// stored: the header in the clear, the name and metadata sealed.
func (ks *keyset) sealRec(parent int64, f *recFields) []byte {
	b := appendRecHeader(make([]byte, 0, recHeader+3+len(f.name)+len(f.meta)+2*sealOverhead), f)
	metaLen := 0
	if len(f.meta) > 0 {
		metaLen = len(f.meta) + sealOverhead
	}
	sn := seal(nil, &ks.k.Names, []byte(f.name), nameAD(parent, b[:recHeader], metaLen))
	b = binary.AppendUvarint(b, uint64(len(sn)))
	b = append(b, sn...)
	if metaLen > 0 {
		b = seal(b, &ks.k.Metadata, f.meta, metaAD(f.uid, sn[:nonceSize]))
	}
	return b
}

// openRec reads a stored record of a node of parent. The uid of the result
// aliases rec; name and meta are new. Any failure wraps ErrIntegrity.
func (ks *keyset) openRec(parent int64, rec []byte) (recFields, error) {
	f, err := decodeRec(rec)
	if err != nil {
		return f, fmt.Errorf("%w: a stored entry: %v", ErrIntegrity, err)
	}
	name, err := open(nil, &ks.k.Names, f.name, nameAD(parent, rec[:recHeader], len(f.meta)))
	if err != nil {
		return f, fmt.Errorf("%w: a stored name: %v", ErrIntegrity, err)
	}
	var meta []byte
	if len(f.meta) > 0 {
		if meta, err = open(nil, &ks.k.Metadata, f.meta, metaAD(f.uid, f.name[:nonceSize])); err != nil {
			return f, fmt.Errorf("%w: stored user metadata: %v", ErrIntegrity, err)
		}
	}
	if meta == nil {
		meta = []byte{}
	}
	f.name, f.meta = name, meta
	return f, nil
}

// contentAD is the associated data of content chunk index of the file uid
// at content version, holding length bytes of plaintext: chunks cannot
// move between files, places or versions. Where the content ends is the
// file's size, which the row holds (sealed with the name, record.go):
// a blob cut short fails its length check or its last chunk, and bytes
// past the size are never read.
func contentAD(b []byte, uid []byte, version int64, index int64, length int) []byte {
	b = append(b[:0], adContent...)
	b = append(b, uid...)
	b = binary.LittleEndian.AppendUint64(b, uint64(version))
	b = binary.LittleEndian.AppendUint64(b, uint64(index))
	return binary.LittleEndian.AppendUint32(b, uint32(length))
}

// sealedSize is the size of the blob of size bytes of content.
func sealedSize(size int64) int64 {
	if size <= 0 {
		return 0
	}
	n := (size + chunkSize - 1) / chunkSize
	return size + n*sealOverhead
}

// contentWriter seals what is written to it in chunks into w, from chunk
// index on (0 for a new blob; the first new chunk for an append). Close
// seals the last, partial chunk (it must be called once everything is
// written).
type contentWriter struct {
	w       io.Writer
	ks      *keyset
	uid     []byte
	version int64
	index   int64
	closed  bool
	buf     []byte // plaintext of the chunk being filled
	out     []byte // a sealed chunk
	ad      []byte
}

func (ks *keyset) sealContent(uid []byte, version, index int64, w io.Writer) *contentWriter {
	return &contentWriter{w: w, ks: ks, uid: uid, version: version, index: index, buf: make([]byte, 0, chunkSize),
		out: make([]byte, 0, chunkSize+sealOverhead)}
}

func (c *contentWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(c.buf) == 0 && len(p) >= chunkSize {
			// A whole chunk: seal it from p.
			if err := c.flush(p[:chunkSize]); err != nil {
				return 0, err
			}
			p = p[chunkSize:]
			continue
		}
		k := copy(c.buf[len(c.buf):chunkSize], p)
		c.buf = c.buf[:len(c.buf)+k]
		p = p[k:]
		if len(c.buf) == chunkSize {
			if err := c.flush(c.buf); err != nil {
				return 0, err
			}
			c.buf = c.buf[:0]
		}
	}
	return n, nil
}

func (c *contentWriter) flush(pt []byte) error {
	c.ad = contentAD(c.ad, c.uid, c.version, c.index, len(pt))
	c.out = seal(c.out[:0], &c.ks.k.Content, pt, c.ad)
	c.index++
	_, err := c.w.Write(c.out)
	return err
}

// Close seals the last chunk, if it is partial.
func (c *contentWriter) Close() error {
	if c.closed {
		return fmt.Errorf("%w: content writer closed twice", ErrIO)
	}
	c.closed = true
	if len(c.buf) == 0 {
		return nil
	}
	return c.flush(c.buf)
}

// chunkReader opens the chunks of a blob holding size bytes of content
// of the file uid at version, as a ReaderAt of the plaintext: a read
// touches only its chunks. It is not safe for concurrent use. Any chunk
// that fails to open, and a blob of the wrong length, is ErrIntegrity.
type chunkReader struct {
	r       io.ReaderAt
	ks      *keyset
	uid     []byte
	version int64
	size    int64
	cached  int64 // index of the chunk in plain, -1 if none
	plain   []byte
	sealed  []byte
	ad      []byte
}

// openContent returns the plaintext reader of blob h. It checks the blob's
// length when h can tell it.
func (ks *keyset) openContent(uid []byte, version int64, h io.ReaderAt, size int64) (*chunkReader, error) {
	if st, ok := h.(interface{ Stat() (os.FileInfo, error) }); ok {
		fi, err := st.Stat()
		if err != nil {
			return nil, ioErr("checking content", err)
		}
		// Longer is the tail of an append not (or not yet) committed,
		// which is never read.
		if fi.Size() < sealedSize(size) {
			return nil, fmt.Errorf("%w: content is %d bytes stored, %d expected", ErrIntegrity, fi.Size(), sealedSize(size))
		}
	}
	return &chunkReader{r: h, ks: ks, uid: uid, version: version, size: size, cached: -1}, nil
}

// ReadAt reads plaintext at off.
func (c *chunkReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: negative offset", ErrOutOfRange)
	}
	n := 0
	for len(p) > 0 {
		if off >= c.size {
			return n, io.EOF
		}
		idx := off / chunkSize
		if err := c.load(idx); err != nil {
			return n, err
		}
		k := copy(p, c.plain[off-idx*chunkSize:])
		n += k
		off += int64(k)
		p = p[k:]
	}
	return n, nil
}

// load opens chunk idx into c.plain.
func (c *chunkReader) load(idx int64) error {
	if c.cached == idx {
		return nil
	}
	c.cached = -1
	start := idx * chunkSize
	ptLen := min(int64(chunkSize), c.size-start)
	if c.sealed == nil {
		c.sealed = make([]byte, chunkSize+sealOverhead)
	}
	buf := c.sealed[:ptLen+sealOverhead]
	if _, err := c.r.ReadAt(buf, idx*(chunkSize+sealOverhead)); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: content chunk %d is short", ErrIntegrity, idx)
		}
		return ioErr("reading content", err)
	}
	c.ad = contentAD(c.ad, c.uid, c.version, idx, int(ptLen))
	out, err := open(c.plain[:0], &c.ks.k.Content, buf, c.ad)
	if err != nil {
		return fmt.Errorf("%w: content chunk %d: %v", ErrIntegrity, idx, err)
	}
	c.plain = out
	c.cached = idx
	return nil
}
