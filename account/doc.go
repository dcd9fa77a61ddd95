// Package account owns the user's account of a data directory: the key file
// (account.key), the passphrase that unwraps the master key it holds, and the
// keys derived from that master key. It imports nothing of the launcher's own
// packages.
//
// # The key hierarchy
//
//	passphrase ──Argon2id(salt, t, m, p)──▶ key-encryption key (32 bytes)
//	key-encryption key ──XChaCha20-Poly1305 open (AD = the file's header)──▶ master key
//	master key ──HKDF-SHA256(info = "safe-launcher/account/v1/<purpose>")──▶ one key per purpose:
//	    content     file content (chunks)
//	    names       entry names (encrypted)
//	    name-lookup keyed hash of (parent id, name) for lookups
//	    metadata    user_metadata and other per-entry metadata
//	    dns         DNS records
//	    registry    the app registry's per-app data
//
// The master key is 32 random bytes (crypto/rand) made when the account is
// created; it never changes and is never written in the clear. Changing the
// passphrase re-wraps it (new salt, new nonce) and changes nothing else, so
// data encrypted under the derived keys stays readable. The Argon2id
// parameters are calibrated by Calibrate when the account is created (about
// half a second of one core's time for one derivation, and at least 64 MiB),
// stored in the key file and kept by passphrase changes.
//
// # What a caller must do
//
//   - Keep keys in the fixed-size arrays of this package (Key, Keys), pass
//     them by pointer, and Wipe them when done (on lock and at exit). Key
//     formats itself as "[redacted]" for fmt and log/slog, so a key logged by
//     mistake shows nothing.
//   - Never write, log or take a passphrase from argv or the environment;
//     wipe the passphrase's bytes (clear) once it has been used.
//   - Hold the data directory's lock while calling Create, Replace or
//     ChangePassphrase, so that two writers never race.
//   - Throttle repeated attempts: every wrong passphrase costs its caller a
//     full derivation, but this package keeps no count (the daemon backs off).
//
// The key file's format is in docs/security.md ("Account and keys"); Parse is
// its strict decoder (fuzzed by FuzzParse).
package account
