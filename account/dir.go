package account

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// FileName is the key file's name in the data directory.
const FileName = "account.key"

// tempPrefix starts the name of a key file being written.
const tempPrefix = FileName + ".tmp-"

// Path returns the key file's path in the data directory dir.
func Path(dir string) string { return filepath.Join(dir, FileName) }

// Exists reports whether dir has a key file (of any content). It does not
// follow a symbolic link.
func Exists(dir string) (bool, error) {
	_, err := os.Lstat(Path(dir))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("account: %w", err)
}

// Load reads and decodes dir's key file: ErrNoAccount when there is none,
// ErrUnsafe when it is a symbolic link (never followed) or not a regular
// file, ErrMalformed when Parse refuses it.
func Load(dir string) (*File, error) {
	path := Path(dir)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoAccount, path)
	case errors.Is(err, syscall.ELOOP):
		return nil, fmt.Errorf("%w: %s is a symbolic link, which the launcher never makes; remove it", ErrUnsafe, path)
	case err != nil:
		return nil, fmt.Errorf("account: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (%v)", ErrUnsafe, path, st.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, FileSize+1))
	if err != nil {
		return nil, fmt.Errorf("account: reading %s: %w", path, err)
	}
	kf, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kf, nil
}

// Create makes a new account in dir: a random master key from rand, wrapped
// under passphrase with parameters p (from Calibrate), written to the key
// file atomically. It returns the master key (the caller wipes it) and the
// file. An existing key file is never replaced: ErrExists. The caller holds
// the data directory's lock.
func Create(dir string, passphrase []byte, p Params, rand io.Reader) (*Key, *File, error) {
	if ok, err := Exists(dir); err != nil {
		return nil, nil, err
	} else if ok {
		return nil, nil, fmt.Errorf("%w: %s", ErrExists, Path(dir))
	}
	master, err := NewKey(rand)
	if err != nil {
		return nil, nil, err
	}
	f, err := Seal(master, passphrase, p, rand)
	if err != nil {
		master.Wipe()
		return nil, nil, err
	}
	if err := write(dir, f, rand, true); err != nil {
		master.Wipe()
		return nil, nil, err
	}
	return master, f, nil
}

// Replace writes f as dir's key file in place of the one there, atomically:
// after a crash the file is the old one or f, never a mix. The caller holds
// the data directory's lock.
func Replace(dir string, f *File, rand io.Reader) error {
	return write(dir, f, rand, false)
}

// ChangePassphrase re-wraps dir's master key: it opens the key file with
// oldPass (ErrWrongPassphrase), seals the same master key under newPass
// with the file's parameters, a new salt and a new nonce, and replaces the
// file. The data encrypted under the derived keys is untouched. The caller
// holds the data directory's lock (the daemon does it itself, in memory,
// with File.Open, Seal and Replace).
func ChangePassphrase(dir string, oldPass, newPass []byte, rand io.Reader) (*File, error) {
	if err := CheckPassphrase(newPass); err != nil {
		return nil, err
	}
	f, err := Load(dir)
	if err != nil {
		return nil, err
	}
	master, err := f.Open(oldPass)
	if err != nil {
		return nil, err
	}
	defer master.Wipe()
	nf, err := Seal(master, newPass, f.Params, rand)
	if err != nil {
		return nil, err
	}
	if err := Replace(dir, nf, rand); err != nil {
		return nil, err
	}
	return nf, nil
}

// RemoveTemp removes the temporary files a crash in the middle of a write
// left in dir. The caller holds the data directory's lock.
func RemoveTemp(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("account: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("account: removing temporary files: %w", errors.Join(errs...))
	}
	return nil
}

// write writes f to dir's key file through a temporary file (mode 0600,
// created exclusively, never through a link), fsynced, then renamed over the
// key file, or, when exclusive, linked to the key file's name, which fails
// if it exists; then the directory is fsynced.
func write(dir string, f *File, rand io.Reader, exclusive bool) error {
	var id [8]byte
	if _, err := io.ReadFull(rand, id[:]); err != nil {
		return fmt.Errorf("account: %w", err)
	}
	tmp := filepath.Join(dir, tempPrefix+hex.EncodeToString(id[:]))
	final := Path(dir)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("account: creating the key file: %w", err)
	}
	b, _ := f.MarshalBinary()
	_, err = out.Write(b)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("account: writing the key file: %w", err)
	}
	if exclusive {
		err = os.Link(tmp, final)
		os.Remove(tmp)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, final)
		}
	} else {
		err = os.Rename(tmp, final)
		if err != nil {
			os.Remove(tmp)
		}
	}
	if err != nil {
		return fmt.Errorf("account: writing the key file: %w", err)
	}
	return syncDir(dir)
}

// syncDir fsyncs dir, so that a rename or link in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("account: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("account: syncing %s: %w", dir, err)
	}
	return nil
}
