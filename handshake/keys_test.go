package handshake

import (
	"bytes"
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/nacl/box"
)

// The key pair and shared key are nacl/box's, bit for bit, including for
// low-order peer keys (a hostile peer's choice).
func TestKeysMatchBox(t *testing.T) {
	peers := []Key{
		{},  // zero: low order
		{1}, // low order
		{9}, // the base point
		{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00}, // low order
	}
	for range 8 {
		var k Key
		_, _ = rand.Read(k[:])
		peers = append(peers, k)
	}
	for i, peer := range peers {
		var seed [32]byte
		_, _ = rand.Read(seed[:])
		priv, pub, err := newKeyPair(bytes.NewReader(seed[:]))
		if err != nil {
			t.Fatal(err)
		}
		wantPub, wantPriv, err := box.GenerateKey(bytes.NewReader(seed[:]))
		if err != nil {
			t.Fatal(err)
		}
		if pub != *wantPub {
			t.Fatalf("case %d: public key differs from box.GenerateKey", i)
		}
		var want [32]byte
		box.Precompute(&want, (*[32]byte)(&peer), wantPriv)
		if got := boxSharedKey(priv, &peer); got != Key(want) {
			t.Fatalf("case %d: shared key differs from box.Precompute", i)
		}
	}
	if _, _, err := newKeyPair(bytes.NewReader(nil)); err == nil {
		t.Fatal("newKeyPair with no randomness: no error")
	}
}
