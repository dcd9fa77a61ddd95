package benchfloor

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/nacl/secretbox"
)

func TestFloorRoundTrips(t *testing.T) {
	var f Floor
	for _, n := range []int{0, 1, 2, 3, 4, 5, 1000, 1<<20 + 1} {
		data := make([]byte, n)
		_, _ = rand.Read(data)
		for _, dir := range []struct {
			name string
			run  func([]byte) error
		}{{"upload", f.Upload}, {"download", f.Download}, {"run", f.Run}} {
			t.Run(fmt.Sprintf("%s/%d", dir.name, n), func(t *testing.T) {
				require.NoError(t, dir.run(data))
				assert.Equal(t, data, append([]byte{}, f.Decoded()...))
			})
		}
	}
}

// The upload hashes what it sealed (the answer id); the download does not
// hash its body.
func TestFloorHashesOnlyUploads(t *testing.T) {
	var f Floor
	data := []byte("some content")
	require.NoError(t, f.Download(data))
	assert.Empty(t, f.id)
	require.NoError(t, f.Upload(data))
	sum := sha512.Sum512(f.box)
	assert.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), string(f.id))
	// The sealed body is the content's JSON string, in a box x/crypto opens.
	plain, ok := secretbox.Open(nil, f.box, &f.nonce, &f.key)
	require.True(t, ok)
	assert.Equal(t, `{"content":"`+base64.StdEncoding.EncodeToString(data)+`"}`, string(plain))
}

func BenchmarkFloor(b *testing.B) {
	for _, n := range []int{1 << 20, 16 << 20} {
		data := make([]byte, n)
		_, _ = rand.Read(data)
		for _, dir := range []struct {
			name string
			run  func(*Floor, []byte) error
		}{{"Upload", (*Floor).Upload}, {"Download", (*Floor).Download}} {
			b.Run(fmt.Sprintf("%s/%dMiB", dir.name, n>>20), func(b *testing.B) {
				var f Floor
				b.SetBytes(int64(n))
				for b.Loop() {
					if err := dir.run(&f, data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
