package account_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/account"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.key")

// fixedRand is a deterministic stream (bytes 0, 1, 2, ... mod 251), so a
// seal made from it is the same every run.
type fixedRand struct{ n int }

func (r *fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.n % 251)
		r.n++
	}
	return len(p), nil
}

// cheap are parameters for tests that derive many times; a key file never
// gets them from init (Calibrate gives at least 64 MiB).
var cheap = account.Params{Time: 1, MemoryKiB: 64, Threads: 1}

// The golden key file: goldenPass wraps goldenMaster with goldenParams
// (real-size memory), salt and nonce from fixedRand.
var (
	goldenPass   = []byte("correct horse battery staple")
	goldenParams = account.Params{Time: 1, MemoryKiB: 64 << 10, Threads: 2}
	goldenMaster = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	// The derived keys of goldenMaster: they pin the HKDF labels. They were
	// checked against an independent HKDF (Python's hmac module), and
	// golden.key against Python's cryptography Argon2id and ChaCha20-Poly1305
	// with HChaCha20 (testdata/verify_golden.py).
	goldenDerived = map[string]string{
		account.PurposeContent:    "764e57e468d0dbeaf4cdf0bb101cbddad569bb92ec6e8eadfed9d17e64e6fe53",
		account.PurposeNames:      "0bc8445e31b53b4c498d5c0417be01638ba61eea8e7572f362a2abd6c96f233e",
		account.PurposeNameLookup: "a2425e0e52988e6f2e4f3c6d7660ba840140f0bd455fc1be0e172361bebb1356",
		account.PurposeMetadata:   "01d09706d542b198046ec8858b9cc7249bdc9369d9a4841f188367707f010eff",
		account.PurposeDNS:        "89e1a84fb681a16c3529112e3a96dc64b2591c81530679a403ce52f5eb81eb73",
		account.PurposeRegistry:   "2a7cd69741e9217476a54fc121f74deb6bd8a059805211216ad41c4a14de27e1",
	}
)

func hexKey(t *testing.T, s string) *account.Key {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	var k account.Key
	require.Len(t, b, account.KeySize)
	copy(k[:], b)
	return &k
}

// TestGolden: testdata/golden.key opens with its passphrase to the known
// master key, and sealing that key again with the same parameters and the
// same random stream gives the very same bytes (the format is pinned).
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "golden.key")
	master := hexKey(t, goldenMaster)
	if *update {
		r := &fixedRand{n: account.KeySize} // the master key is bytes 0..31 of the stream
		f, err := account.Seal(master, goldenPass, goldenParams, r)
		require.NoError(t, err)
		b, _ := f.MarshalBinary()
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./account -run TestGolden -update")
	require.Len(t, b, account.FileSize)
	f, err := account.Parse(b)
	require.NoError(t, err)
	assert.Equal(t, goldenParams, f.Params)

	got, err := f.Open(goldenPass)
	require.NoError(t, err)
	assert.True(t, got.Equal(master), "the golden file opens to the golden master key")

	again, err := account.Seal(got, goldenPass, goldenParams, &fixedRand{n: account.KeySize})
	require.NoError(t, err)
	ab, _ := again.MarshalBinary()
	assert.Equal(t, b, ab, "sealing is deterministic for a fixed random stream")

	_, err = f.Open([]byte("correct horse battery stapler"))
	assert.ErrorIs(t, err, account.ErrWrongPassphrase)
	_, err = f.Open(nil)
	assert.ErrorIs(t, err, account.ErrWrongPassphrase)
}

// TestDerivedGolden pins the key of every purpose derived from the golden
// master key, and checks that they are all different.
func TestDerivedGolden(t *testing.T) {
	master := hexKey(t, goldenMaster)
	keys := account.DeriveKeys(master)
	byPurpose := map[string]*account.Key{
		account.PurposeContent: &keys.Content, account.PurposeNames: &keys.Names,
		account.PurposeNameLookup: &keys.NameLookup, account.PurposeMetadata: &keys.Metadata,
		account.PurposeDNS: &keys.DNS, account.PurposeRegistry: &keys.Registry,
	}
	seen := map[string]string{hex.EncodeToString(master[:]): "master"}
	for purpose, want := range goldenDerived {
		k := byPurpose[purpose]
		d := account.Derive(master, purpose)
		assert.True(t, d.Equal(k), "Derive and DeriveKeys agree for %s", purpose)
		h := hex.EncodeToString(k[:])
		if want != "" {
			assert.Equal(t, want, h, "the %s key changed: the HKDF label or hash changed", purpose)
		} else {
			t.Errorf("goldenDerived[%q] is empty; it is %s", purpose, h)
		}
		if other, dup := seen[h]; dup {
			t.Errorf("%s and %s have the same key", purpose, other)
		}
		seen[h] = purpose
	}
	assert.Len(t, byPurpose, len(goldenDerived))
	other := account.Derive(hexKey(t, strings.Repeat("11", 32)), account.PurposeContent)
	assert.False(t, other.Equal(&keys.Content), "another master key gives other keys")
	assert.Panics(t, func() { account.Derive(master, "") })

	keys.Wipe()
	var zero account.Key
	for p, k := range byPurpose {
		assert.True(t, k.Equal(&zero), "%s wiped", p)
	}
}

// sealed returns a key file with cheap parameters, its encoding and master key.
func sealed(t *testing.T, pass string) (*account.File, []byte, *account.Key) {
	t.Helper()
	m, err := account.NewKey(rand.Reader)
	require.NoError(t, err)
	f, err := account.Seal(m, []byte(pass), cheap, rand.Reader)
	require.NoError(t, err)
	b, _ := f.MarshalBinary()
	return f, b, m
}

// TestTamperEveryByte flips bits in every byte of a key file: each change is
// refused, by Parse (header) or by Open (the header through the associated
// data, the salt through the derived key, the nonce and the sealed key
// through the tag). Never is a key returned.
func TestTamperEveryByte(t *testing.T) {
	f, b, m := sealed(t, "pass")
	got, err := f.Open([]byte("pass"))
	require.NoError(t, err)
	require.True(t, got.Equal(m))
	for i := range b {
		for _, mask := range []byte{0x01, 0x80} {
			c := bytes.Clone(b)
			c[i] ^= mask
			tf, err := account.Parse(c)
			if err != nil {
				assert.ErrorIs(t, err, account.ErrMalformed, "byte %d ^%#x", i, mask)
				continue
			}
			_, err = tf.Open([]byte("pass"))
			assert.ErrorIs(t, err, account.ErrWrongPassphrase, "byte %d ^%#x opened", i, mask)
		}
	}
}

// TestParseStrict: every malformed file is ErrMalformed with a message
// naming what is wrong; a parsed file encodes back to its bytes.
func TestParseStrict(t *testing.T) {
	_, b, _ := sealed(t, "pass")
	f, err := account.Parse(b)
	require.NoError(t, err)
	back, _ := f.MarshalBinary()
	assert.Equal(t, b, back)

	set := func(off int, v ...byte) []byte { c := bytes.Clone(b); copy(c[off:], v); return c }
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "0 bytes, want 124"},
		{"short", b[:account.FileSize-1], "123 bytes, want 124"},
		{"long", append(bytes.Clone(b), 0), "125 bytes, want 124"},
		{"magic", set(0, 'X'), "bad magic"},
		{"version 0", set(8, 0, 0), "version 0, want 1"},
		{"version 2", set(8, 2, 0), "version 2, want 1"},
		{"kdf", set(10, 2), "KDF 2"},
		{"no threads", set(11, 0), "threads 0"},
		{"many threads", set(11, 65), "threads 65"},
		{"no passes", set(12, 0, 0, 0, 0), "time 0"},
		{"many passes", set(12, 65, 0, 0, 0), "time 65"},
		{"little memory", set(16, 7, 0, 0, 0), "memory 7 KiB"},
		{"huge memory", set(16, 0, 0, 0, 0x80), "memory 2147483648 KiB"},
		{"memory over the cap", set(16, 1, 0, 0x10, 0), "memory 1048577 KiB"},
	} {
		_, err := account.Parse(c.in)
		require.ErrorIs(t, err, account.ErrMalformed, c.name)
		assert.Contains(t, err.Error(), c.want, c.name)
	}
	// A parsed file with parameters changed in memory is refused by Open
	// before any derivation.
	f.Params.MemoryKiB = account.MaxMemoryKiB + 1
	_, err = f.Open([]byte("pass"))
	assert.ErrorIs(t, err, account.ErrMalformed)
}

// TestCreateLoadChange goes through an account's life in a directory.
func TestCreateLoadChange(t *testing.T) {
	dir := t.TempDir()
	_, err := account.Load(dir)
	require.ErrorIs(t, err, account.ErrNoAccount)
	ok, err := account.Exists(dir)
	require.NoError(t, err)
	require.False(t, ok)

	master, f, err := account.Create(dir, []byte("first"), cheap, rand.Reader)
	require.NoError(t, err)
	st, err := os.Lstat(account.Path(dir))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	assert.Equal(t, int64(account.FileSize), st.Size())
	ok, err = account.Exists(dir)
	require.NoError(t, err)
	require.True(t, ok)

	_, _, err = account.Create(dir, []byte("second"), cheap, rand.Reader)
	require.ErrorIs(t, err, account.ErrExists)

	loaded, err := account.Load(dir)
	require.NoError(t, err)
	assert.Equal(t, f, loaded)
	m, err := loaded.Open([]byte("first"))
	require.NoError(t, err)
	assert.True(t, m.Equal(master))
	before, err := os.ReadFile(account.Path(dir))
	require.NoError(t, err)

	_, err = account.ChangePassphrase(dir, []byte("wrong"), []byte("new"), rand.Reader)
	require.ErrorIs(t, err, account.ErrWrongPassphrase)
	now, err := os.ReadFile(account.Path(dir))
	require.NoError(t, err)
	assert.Equal(t, before, now, "a wrong old passphrase changes nothing")
	_, err = account.ChangePassphrase(dir, []byte("first"), nil, rand.Reader)
	require.ErrorIs(t, err, account.ErrInvalidPassphrase)

	nf, err := account.ChangePassphrase(dir, []byte("first"), []byte("new"), rand.Reader)
	require.NoError(t, err)
	assert.Equal(t, cheap, nf.Params, "the parameters are kept")
	assert.NotEqual(t, f.Salt, nf.Salt, "a new salt")
	loaded, err = account.Load(dir)
	require.NoError(t, err)
	_, err = loaded.Open([]byte("first"))
	require.ErrorIs(t, err, account.ErrWrongPassphrase, "the old passphrase stops working")
	m, err = loaded.Open([]byte("new"))
	require.NoError(t, err)
	assert.True(t, m.Equal(master), "the master key is the same")

	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 1, "no temporary file is left")
	st, err = os.Lstat(account.Path(dir))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

// TestLoadRefusesUnsafe: a symbolic link is never followed, a directory or
// a malformed file is refused, a missing file is ErrNoAccount.
func TestLoadRefusesUnsafe(t *testing.T) {
	_, b, _ := sealed(t, "pass")
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, b, 0o600))

	dir := t.TempDir()
	require.NoError(t, os.Symlink(victim, account.Path(dir)))
	_, err := account.Load(dir)
	require.ErrorIs(t, err, account.ErrUnsafe)
	assert.Contains(t, err.Error(), "symbolic link")
	_, _, err = account.Create(dir, []byte("x"), cheap, rand.Reader)
	require.ErrorIs(t, err, account.ErrExists, "a dangling or planted link is not replaced")
	got, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, b, got)

	dir = t.TempDir()
	require.NoError(t, os.Mkdir(account.Path(dir), 0o700))
	_, err = account.Load(dir)
	require.ErrorIs(t, err, account.ErrUnsafe)

	dir = t.TempDir()
	require.NoError(t, os.WriteFile(account.Path(dir), b[:10], 0o600))
	_, err = account.Load(dir)
	require.ErrorIs(t, err, account.ErrMalformed)
	assert.Contains(t, err.Error(), account.Path(dir))

	dir = t.TempDir()
	require.NoError(t, os.WriteFile(account.Path(dir), bytes.Repeat(b, 1000), 0o600))
	_, err = account.Load(dir)
	require.ErrorIs(t, err, account.ErrMalformed, "a huge file is read only up to one byte past the size")
}

// TestRemoveTemp removes what a crashed write left, and nothing else.
func TestRemoveTemp(t *testing.T) {
	dir := t.TempDir()
	_, _, err := account.Create(dir, []byte("p"), cheap, rand.Reader)
	require.NoError(t, err)
	for _, n := range []string{"account.key.tmp-0011223344556677", "account.key.tmp-x", "other"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), nil, 0o600))
	}
	require.NoError(t, account.RemoveTemp(dir))
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"account.key", "other"}, names)
}

// TestPassphraseRules: Seal refuses an empty or too long passphrase.
func TestPassphraseRules(t *testing.T) {
	m, err := account.NewKey(rand.Reader)
	require.NoError(t, err)
	for _, p := range [][]byte{nil, {}, bytes.Repeat([]byte("a"), account.MaxPassphrase+1)} {
		_, err := account.Seal(m, p, cheap, rand.Reader)
		assert.ErrorIs(t, err, account.ErrInvalidPassphrase, "%d bytes", len(p))
	}
	f, err := account.Seal(m, bytes.Repeat([]byte("a"), account.MaxPassphrase), cheap, rand.Reader)
	require.NoError(t, err)
	got, err := f.Open(bytes.Repeat([]byte("a"), account.MaxPassphrase))
	require.NoError(t, err)
	assert.True(t, got.Equal(m))
	_, err = account.Seal(m, []byte("p"), account.Params{}, rand.Reader)
	assert.ErrorIs(t, err, account.ErrMalformed, "invalid parameters")
	_, err = account.NewKey(io.LimitReader(rand.Reader, 5))
	assert.Error(t, err, "a short random source")
}

// TestKeyRedacted: no fmt verb and no slog handler shows a key's bytes.
func TestKeyRedacted(t *testing.T) {
	k := hexKey(t, strings.Repeat("ab", 32))
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprint(*k), fmt.Sprintf("%x", *k), fmt.Sprintf("%X", k), fmt.Sprintf("%#v", *k),
		fmt.Sprintf("%s", *k), fmt.Sprintf("%d", *k), fmt.Sprintf("%v", account.Keys{Content: *k}),
	} {
		assert.NotContains(t, strings.ToLower(s), "abab", s)
		assert.NotContains(t, s, "171", s)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "key", *k, "ptr", k)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "key", *k, "ptr", k)
	assert.NotContains(t, strings.ToLower(buf.String()), "abab")
	assert.NotContains(t, buf.String(), "171")
	assert.Contains(t, buf.String(), "[redacted]")

	k.Wipe()
	var zero account.Key
	assert.True(t, k.Equal(&zero))
	assert.False(t, k.Equal(hexKey(t, strings.Repeat("00", 31)+"01")))
}

// TestErrorsDistinct: the sentinels are told apart by errors.Is.
func TestErrorsDistinct(t *testing.T) {
	all := []error{account.ErrNoAccount, account.ErrExists, account.ErrWrongPassphrase, account.ErrMalformed,
		account.ErrInvalidPassphrase, account.ErrUnsafe}
	for i, a := range all {
		for j, b := range all {
			assert.Equal(t, i == j, errors.Is(a, b), "%v / %v", a, b)
		}
	}
}

// BenchmarkUnlock measures one unlock (File.Open: the Argon2id derivation
// and the unwrap) with the parameters Calibrate picks on this machine; the
// target is about 0.5 s, at most 1 s. It reports the passes and memory
// chosen. Run: go test ./account -run '^$' -bench Unlock -benchtime 5x
func BenchmarkUnlock(b *testing.B) {
	p := account.Calibrate(account.TargetDerivation)
	m, err := account.NewKey(rand.Reader)
	require.NoError(b, err)
	f, err := account.Seal(m, []byte("pass"), p, rand.Reader)
	require.NoError(b, err)
	for b.Loop() {
		k, err := f.Open([]byte("pass"))
		if err != nil {
			b.Fatal(err)
		}
		k.Wipe()
	}
	b.ReportMetric(float64(p.Time), "passes")
	b.ReportMetric(float64(p.MemoryKiB)/1024, "MiB")
	b.ReportMetric(float64(p.Threads), "lanes")
}
