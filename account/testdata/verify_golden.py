#!/usr/bin/env python3
"""Opens golden.key with an implementation independent of the Go code:
Python's cryptography (Argon2id, IETF ChaCha20-Poly1305) and HChaCha20
written out here, as XChaCha20-Poly1305 is HChaCha20 then ChaCha20-Poly1305.
Prints the master key, which TestGolden pins (bytes 00 01 ... 1f).
Not run by CI: pip install cryptography (44 or later) and run it by hand."""
import pathlib
import struct

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

b = (pathlib.Path(__file__).parent / "golden.key").read_bytes()
assert len(b) == 124 and b[:8] == b"LNCHACCT"
version, kdf, lanes = struct.unpack("<H", b[8:10])[0], b[10], b[11]
passes, memory = struct.unpack("<II", b[12:20])
assert (version, kdf) == (1, 1)
salt, nonce, sealed = b[20:52], b[52:76], b[76:124]
kek = Argon2id(salt=salt, length=32, iterations=passes, lanes=lanes,
               memory_cost=memory).derive(b"correct horse battery staple")


def rotl(v, c):
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))


def quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 7)


def hchacha20(key, n16):
    s = list(struct.unpack("<4I", b"expand 32-byte k")) + list(struct.unpack("<8I", key)) \
        + list(struct.unpack("<4I", n16))
    for _ in range(10):
        quarter(s, 0, 4, 8, 12); quarter(s, 1, 5, 9, 13); quarter(s, 2, 6, 10, 14); quarter(s, 3, 7, 11, 15)
        quarter(s, 0, 5, 10, 15); quarter(s, 1, 6, 11, 12); quarter(s, 2, 7, 8, 13); quarter(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


master = ChaCha20Poly1305(hchacha20(kek, nonce[:16])).decrypt(b"\0" * 4 + nonce[16:], sealed, b[:76])
print(master.hex())
