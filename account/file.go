package account

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// Sentinels; errors.Is matches them through the wrapped errors of this
// package.
var (
	// ErrNoAccount: the data directory has no key file.
	ErrNoAccount = errors.New("account: no account")
	// ErrExists: an account exists already (Create).
	ErrExists = errors.New("account: an account exists already")
	// ErrWrongPassphrase: the passphrase does not open the key file.
	ErrWrongPassphrase = errors.New("account: wrong passphrase")
	// ErrMalformed: the key file is not one this package writes (bad size,
	// magic, version, algorithm or parameters).
	ErrMalformed = errors.New("account: malformed key file")
	// ErrInvalidPassphrase: a new passphrase is empty or longer than
	// MaxPassphrase bytes.
	ErrInvalidPassphrase = errors.New("account: invalid passphrase")
	// ErrUnsafe: the key file is a symbolic link or not a regular file.
	ErrUnsafe = errors.New("account: unsafe key file")
)

// MaxPassphrase is the longest passphrase accepted, in bytes.
const MaxPassphrase = 1024

// The key file's layout, version 1 (docs/security.md). Integers are
// little-endian.
//
//	offset size field
//	     0    8 magic "LNCHACCT"
//	     8    2 version, 1
//	    10    1 KDF, 1 = Argon2id (version 0x13)
//	    11    1 Argon2id threads (lanes), 1..MaxThreads
//	    12    4 Argon2id time (passes), 1..MaxTime
//	    16    4 Argon2id memory in KiB, 8*threads..MaxMemoryKiB
//	    20   32 salt (random)
//	    52   24 nonce (random), XChaCha20-Poly1305
//	    76   48 the master key sealed: 32 bytes of ciphertext, 16 of tag
//	   124      end: FileSize
//
// The associated data of the seal is bytes 0..76 (everything before the
// sealed key), so no header byte, parameter, salt or nonce can be changed
// without the file failing to open.
const (
	// Magic starts every key file.
	Magic = "LNCHACCT"
	// Version is the only format version written and read.
	Version = 1
	// KDFArgon2id is the KDF byte of Argon2id.
	KDFArgon2id = 1
	// FileSize is the exact size of a version 1 key file.
	FileSize = headerSize + sealedSize

	offVersion = 8
	offKDF     = 10
	offThreads = 11
	offTime    = 12
	offMemory  = 16
	offSalt    = 20
	offNonce   = offSalt + SaltSize
	headerSize = offNonce + chacha20poly1305.NonceSizeX
	sealedSize = KeySize + chacha20poly1305.Overhead
)

// SaltSize is the size of the Argon2id salt.
const SaltSize = 32

// Bounds of the Argon2id parameters a key file may hold. They keep a hostile
// file from making a derivation take minutes or more memory than a desktop
// has; Calibrate stays well inside them.
const (
	MaxTime      = 64
	MaxThreads   = 64
	MaxMemoryKiB = 1 << 20 // 1 GiB
)

// Params are the Argon2id parameters of a key file.
type Params struct {
	Time      uint32 // passes over the memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// String describes p, e.g. "Argon2id t=3 m=64MiB p=2".
func (p Params) String() string {
	m := fmt.Sprintf("%dKiB", p.MemoryKiB)
	if p.MemoryKiB%1024 == 0 {
		m = fmt.Sprintf("%dMiB", p.MemoryKiB/1024)
	}
	return fmt.Sprintf("Argon2id t=%d m=%s p=%d", p.Time, m, p.Threads)
}

// Validate reports parameters outside the bounds as ErrMalformed.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("%w: Argon2id threads %d, want 1 to %d", ErrMalformed, p.Threads, MaxThreads)
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("%w: Argon2id time %d, want 1 to %d", ErrMalformed, p.Time, MaxTime)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > MaxMemoryKiB:
		return fmt.Errorf("%w: Argon2id memory %d KiB, want %d to %d", ErrMalformed, p.MemoryKiB, 8*uint32(p.Threads), MaxMemoryKiB)
	}
	return nil
}

// File is a decoded key file: the master key wrapped under a passphrase.
// Its fields are public (a key file is not secret without the passphrase).
type File struct {
	Params Params                            // Argon2id's parameters
	Salt   [SaltSize]byte                    // Argon2id's salt
	Nonce  [chacha20poly1305.NonceSizeX]byte // the seal's nonce
	Sealed [sealedSize]byte                  // the master key sealed, and its tag
}

// Parse decodes a key file strictly: anything but exactly FileSize bytes
// with the magic, version 1, Argon2id and parameters within the bounds is
// ErrMalformed, with a message saying what is wrong.
func Parse(b []byte) (*File, error) {
	if len(b) != FileSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrMalformed, len(b), FileSize)
	}
	if string(b[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("%w: not a launcher key file (bad magic)", ErrMalformed)
	}
	if v := binary.LittleEndian.Uint16(b[offVersion:]); v != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, v, Version)
	}
	if k := b[offKDF]; k != KDFArgon2id {
		return nil, fmt.Errorf("%w: KDF %d, want %d (Argon2id)", ErrMalformed, k, KDFArgon2id)
	}
	f := &File{Params: Params{
		Threads:   b[offThreads],
		Time:      binary.LittleEndian.Uint32(b[offTime:]),
		MemoryKiB: binary.LittleEndian.Uint32(b[offMemory:]),
	}}
	if err := f.Params.Validate(); err != nil {
		return nil, err
	}
	copy(f.Salt[:], b[offSalt:])
	copy(f.Nonce[:], b[offNonce:])
	copy(f.Sealed[:], b[headerSize:])
	return f, nil
}

// header returns bytes 0..headerSize of f's encoding: the associated data.
func (f *File) header() []byte {
	b := make([]byte, headerSize, FileSize)
	copy(b, Magic)
	binary.LittleEndian.PutUint16(b[offVersion:], Version)
	b[offKDF] = KDFArgon2id
	b[offThreads] = f.Params.Threads
	binary.LittleEndian.PutUint32(b[offTime:], f.Params.Time)
	binary.LittleEndian.PutUint32(b[offMemory:], f.Params.MemoryKiB)
	copy(b[offSalt:], f.Salt[:])
	copy(b[offNonce:], f.Nonce[:])
	return b
}

// MarshalBinary encodes f (FileSize bytes). It never fails.
func (f *File) MarshalBinary() ([]byte, error) {
	return append(f.header(), f.Sealed[:]...), nil
}

// kek derives the key-encryption key of passphrase under p and salt.
func kek(passphrase []byte, p Params, salt *[SaltSize]byte) *Key {
	k := new(Key)
	out := argon2.IDKey(passphrase, salt[:], p.Time, p.MemoryKiB, p.Threads, KeySize)
	copy(k[:], out)
	clear(out)
	return k
}

// Open derives the key-encryption key from passphrase (the full Argon2id
// cost of f.Params) and unwraps the master key. A wrong passphrase, or any
// byte of the file changed, is ErrWrongPassphrase: the two cannot be told
// apart. The caller wipes the key.
func (f *File) Open(passphrase []byte) (*Key, error) {
	if err := f.Params.Validate(); err != nil {
		return nil, err
	}
	k := kek(passphrase, f.Params, &f.Salt)
	defer k.Wipe()
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	master := new(Key)
	if _, err := aead.Open(master[:0], f.Nonce[:], f.Sealed[:], f.header()); err != nil {
		master.Wipe()
		return nil, ErrWrongPassphrase
	}
	return master, nil
}

// Seal wraps master under passphrase with parameters p, a fresh salt and a
// fresh nonce read from rand (crypto/rand in the daemon). The passphrase
// must be 1 to MaxPassphrase bytes (else ErrInvalidPassphrase) and p valid.
func Seal(master *Key, passphrase []byte, p Params, rand io.Reader) (*File, error) {
	if err := CheckPassphrase(passphrase); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	f := &File{Params: p}
	if _, err := io.ReadFull(rand, f.Salt[:]); err != nil {
		return nil, fmt.Errorf("account: reading a salt: %w", err)
	}
	if _, err := io.ReadFull(rand, f.Nonce[:]); err != nil {
		return nil, fmt.Errorf("account: reading a nonce: %w", err)
	}
	k := kek(passphrase, p, &f.Salt)
	defer k.Wipe()
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	aead.Seal(f.Sealed[:0], f.Nonce[:], master[:], f.header())
	return f, nil
}

// CheckPassphrase reports a passphrase that Seal refuses (empty, or longer
// than MaxPassphrase bytes) as ErrInvalidPassphrase.
func CheckPassphrase(passphrase []byte) error {
	switch {
	case len(passphrase) == 0:
		return fmt.Errorf("%w: it is empty", ErrInvalidPassphrase)
	case len(passphrase) > MaxPassphrase:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidPassphrase, MaxPassphrase)
	}
	return nil
}
