package account_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/safe-launcher/launcher/account"
)

// FuzzParse feeds arbitrary bytes to the key file decoder: it never panics,
// it refuses with ErrMalformed alone, and a file it accepts has valid
// parameters and encodes back to exactly its bytes. Files with tiny
// parameters are opened too: a made-up file never opens. The seed corpus is
// testdata/fuzz/FuzzParse (the golden file and hand-made refusals).
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "golden.key")); err == nil {
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte(account.Magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		kf, err := account.Parse(b)
		if err != nil {
			if !errors.Is(err, account.ErrMalformed) {
				t.Fatalf("refused with %v, not ErrMalformed", err)
			}
			return
		}
		if err := kf.Params.Validate(); err != nil {
			t.Fatalf("accepted invalid parameters %v: %v", kf.Params, err)
		}
		back, _ := kf.MarshalBinary()
		if !bytes.Equal(back, b) {
			t.Fatalf("%x re-encodes as %x", b, back)
		}
		if kf.Params.MemoryKiB <= 256 && kf.Params.Time <= 2 {
			if _, err := kf.Open([]byte("fuzz")); !errors.Is(err, account.ErrWrongPassphrase) {
				t.Fatalf("a made-up file opened or failed oddly: %v", err)
			}
		}
	})
}
