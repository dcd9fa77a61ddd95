// Package apps owns the launcher's app registry: the apps the user added, each
// with a random id, a unique name, the absolute path and SHA-512 of its
// executable, its SAFEDrive permission and the name of its private root in the
// store. The registry is persisted in one JSON file in the data directory,
// rewritten atomically (temporary file, fsync, rename, fsync of the directory)
// on every change, so it survives kill -9 and power loss.
//
// A Registry implements launcher.Apps: the daemon asks it at every request, so
// grants and revocations apply to live sessions at their next request.
//
// The registry also records the private roots that removed apps left in the
// store (OrphanRoots lists the roots no app owns, PurgeRoot deletes one).
//
// The package also owns launching (Runner): an app is started as an
// independent process, after its executable's hash was checked (Verify),
// with its output in a log file of its own that the Runner rotates at a size
// bound. Files in the data directory are opened without following symbolic
// links.
//
// # What the caller must do
//
//   - Give the Registry exclusive use of its file: one process per data
//     directory (the daemon holds a lock on it).
//   - After Remove, end the app's live sessions and forget its pending
//     launcher strings (launcher.Server.EndApp); the registry does not know
//     the daemon.
package apps

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/vfs"
)

// Sentinel errors; every error of the package wraps one of them.
var (
	// ErrInvalidName is returned for an app name that breaks the name rules (see ValidName).
	ErrInvalidName = errors.New("apps: invalid app name")
	// ErrExists is returned when adding an app whose name is taken.
	ErrExists = errors.New("apps: an app of that name exists")
	// ErrNotFound is returned for a name that is not registered.
	ErrNotFound = errors.New("apps: no such app")
	// ErrBadExec is returned when the executable is not an absolute path to a
	// regular, executable file.
	ErrBadExec = errors.New("apps: bad executable")
	// ErrChanged is returned by Verify when the executable's SHA-512 differs
	// from the one recorded.
	ErrChanged = errors.New("apps: executable changed since it was added")
	// ErrStorage is returned when the registry file cannot be read or written.
	ErrStorage = errors.New("apps: registry storage error")
	// ErrCorrupt is returned by Open for a registry file that cannot be parsed
	// or breaks the registry's invariants.
	ErrCorrupt = errors.New("apps: registry file corrupt")
	// ErrNoRoot is returned by PurgeRoot for a name that is no app root in the store.
	ErrNoRoot = errors.New("apps: no such root")
	// ErrRootInUse is returned by PurgeRoot for the root of a registered app.
	ErrRootInUse = errors.New("apps: the root belongs to an app")
)

// MaxNameLen is the longest app name.
const MaxNameLen = 64

// ValidName checks an app name: 1 to 64 characters, each an ASCII letter,
// digit, '-', '_' or '.', the first a letter or digit. The error wraps
// ErrInvalidName and says what is wrong.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: the name is empty", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %q is %d characters, more than %d", ErrInvalidName, name[:MaxNameLen]+"...", len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%w: %q must start with a letter or digit", ErrInvalidName, name)
		}
		if !alnum && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("%w: %q contains %q; use letters, digits, '-', '_' and '.'", ErrInvalidName, name, rune(c))
		}
	}
	return nil
}

// App is one registered app.
type App struct {
	ID        string    `json:"id"`         // random, 32 hex digits
	Name      string    `json:"name"`       // unique, see ValidName
	Exec      string    `json:"exec"`       // absolute path of the executable
	SHA512    string    `json:"sha512"`     // hex SHA-512 of the executable as accepted
	SafeDrive bool      `json:"safe_drive"` // may use SAFEDrive
	SecretEnv bool      `json:"secret_env"` // launcher value in SAFE_LAUNCHER, not argv
	RootDir   string    `json:"root_dir"`   // name of its private root in the store
	Added     time.Time `json:"added"`
}

// Roots is what the registry needs of the store: its app roots. *vfs.Store
// implements it.
type Roots interface {
	CreateRoot(r vfs.Root) (vfs.DirInfo, error)
	RootExists(r vfs.Root) bool
	DeleteRoot(r vfs.Root) error
}

var (
	_ Roots         = (*vfs.Store)(nil)
	_ launcher.Apps = (*Registry)(nil)
)

// fileFormat is the registry file's content.
type fileFormat struct {
	Version int   `json:"version"`
	Apps    []App `json:"apps"`
	// KeptRoots are the private roots that `app rm` without purge left in
	// the store, until they are purged or reused (see OrphanRoots).
	KeptRoots []string `json:"kept_roots,omitempty"`
}

const formatVersion = 1

// Registry is the persisted set of apps. It is safe for concurrent use.
type Registry struct {
	path  string
	roots Roots
	log   *slog.Logger
	rand  io.Reader

	mu     sync.RWMutex // guards byID, byName and kept; held while the file is written
	byID   map[string]*App
	byName map[string]*App
	kept   map[string]bool // roots kept by Remove without purge
}

// Options configure Open. The zero value is ready to use.
type Options struct {
	Logger *slog.Logger // nil: discard
	Rand   io.Reader    // source of app ids; nil: crypto/rand
}

// Open loads the registry kept in the file at path (created on the first
// change if absent) over the store roots. Leftover temporary files of an
// interrupted write are removed, and the private root of any app whose root
// is missing (a crash between the registry write and the root's creation) is
// created.
func Open(path string, roots Roots, opts Options) (*Registry, error) {
	if roots == nil {
		return nil, fmt.Errorf("%w: nil Roots", ErrStorage)
	}
	r := &Registry{path: path, roots: roots, log: opts.Logger, rand: opts.Rand,
		byID: map[string]*App{}, byName: map[string]*App{}, kept: map[string]bool{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	r.removeTemps()
	data, err := readNoFollow(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("%w: reading %s: %v", ErrStorage, path, err)
	}
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	if f.Version != formatVersion {
		return nil, fmt.Errorf("%w: %s: unknown format version %d", ErrCorrupt, path, f.Version)
	}
	roots0 := map[string]bool{}
	for i := range f.Apps {
		a := f.Apps[i]
		switch {
		case ValidName(a.Name) != nil, a.ID == "", a.RootDir == "", !filepath.IsAbs(a.Exec):
			return nil, fmt.Errorf("%w: %s: app %d (%q) is incomplete or invalid", ErrCorrupt, path, i, a.Name)
		case r.byID[a.ID] != nil, r.byName[a.Name] != nil, roots0[a.RootDir]:
			return nil, fmt.Errorf("%w: %s: app %q is duplicated", ErrCorrupt, path, a.Name)
		}
		roots0[a.RootDir] = true
		r.byID[a.ID], r.byName[a.Name] = &a, &a
	}
	for _, k := range f.KeptRoots {
		if vfs.ValidName(k) == nil && !roots0[k] && roots.RootExists(vfs.AppRoot(k)) {
			r.kept[k] = true
		}
	}
	for _, a := range r.byID {
		root := vfs.AppRoot(a.RootDir)
		if !roots.RootExists(root) {
			if _, err := roots.CreateRoot(root); err != nil {
				return nil, fmt.Errorf("%w: creating the missing root of app %q: %v", ErrStorage, a.Name, err)
			}
			r.log.Warn("created missing private root", "app", a.Name, "root", a.RootDir)
		}
	}
	return r, nil
}

// App implements launcher.Apps.
func (r *Registry) App(id string) (launcher.App, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.byID[id]
	if !ok {
		return launcher.App{}, false
	}
	return launcher.App{ID: a.ID, Name: a.Name, RootDir: a.RootDir, SharedDrive: a.SafeDrive}, true
}

// Get returns the app named name.
func (r *Registry) Get(name string) (App, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.byName[name]
	if !ok {
		return App{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return *a, nil
}

// List returns every app, sorted by name.
func (r *Registry) List() []App {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]App, 0, len(r.byName))
	for _, a := range r.byName {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b App) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// AddRequest describes an app to add.
type AddRequest struct {
	Name      string
	Exec      string // absolute path of a regular executable file
	SafeDrive bool
	SecretEnv bool
}

// Add registers an app: it checks the name and the executable, records the
// executable's SHA-512, picks the private root name "<name>-Root-Dir" (or
// "<name>-Root-Dir-2", -3, ... when a root of that name exists, for instance
// one kept from a removed app), persists the registry and creates the root.
func (r *Registry) Add(req AddRequest) (App, error) {
	if err := ValidName(req.Name); err != nil {
		return App{}, err
	}
	if !filepath.IsAbs(req.Exec) {
		return App{}, fmt.Errorf("%w: %q is not an absolute path", ErrBadExec, req.Exec)
	}
	exec := filepath.Clean(req.Exec)
	f, err := openExec(exec)
	if err != nil {
		return App{}, err
	}
	sum, err := hashFile(f)
	f.Close()
	if err != nil {
		return App{}, err
	}
	var idb [16]byte
	if _, err := io.ReadFull(r.rand, idb[:]); err != nil {
		return App{}, fmt.Errorf("%w: generating an id: %v", ErrStorage, err)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byName[req.Name]; ok {
		return App{}, fmt.Errorf("%w: %q", ErrExists, req.Name)
	}
	a := &App{ID: hex.EncodeToString(idb[:]), Name: req.Name, Exec: exec, SHA512: sum,
		SafeDrive: req.SafeDrive, SecretEnv: req.SecretEnv, RootDir: r.freeRootLocked(req.Name),
		Added: time.Now().UTC().Truncate(time.Second)}
	r.byID[a.ID], r.byName[a.Name] = a, a
	if err := r.saveLocked(); err != nil {
		delete(r.byID, a.ID)
		delete(r.byName, a.Name)
		return App{}, err
	}
	if _, err := r.roots.CreateRoot(vfs.AppRoot(a.RootDir)); err != nil {
		delete(r.byID, a.ID)
		delete(r.byName, a.Name)
		if serr := r.saveLocked(); serr != nil {
			r.log.Error("rolling back an add", "app", a.Name, "err", serr)
		}
		return App{}, fmt.Errorf("%w: creating root %s: %v", ErrStorage, a.RootDir, err)
	}
	r.log.Info("app added", "app", a.Name, "id", a.ID, "root", a.RootDir)
	return *a, nil
}

// freeRootLocked returns the first root name for an app called name that no
// app uses and the store does not hold.
func (r *Registry) freeRootLocked(name string) string {
	used := map[string]bool{}
	for _, a := range r.byID {
		used[a.RootDir] = true
	}
	for n := 1; ; n++ {
		cand := rootName(name, n)
		if !used[cand] && !r.roots.RootExists(vfs.AppRoot(cand)) {
			return cand
		}
	}
}

// Removed is what Remove did.
type Removed struct {
	App App
	// Deleted lists the roots deleted with purge: the app's own first, then
	// those left in the store by earlier apps of the same name that no app
	// owns (see OrphanRoots).
	Deleted []string
}

// Remove unregisters the app named name. Its private root is kept (and listed
// by OrphanRoots) unless purge is set; purge deletes it, and also the roots
// that earlier apps of the same name left behind. The caller ends the app's
// sessions (see the package doc). If deleting a root fails the app is
// removed all the same: the error says which root is left.
func (r *Registry) Remove(name string, purge bool) (Removed, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.byName[name]
	if !ok {
		return Removed{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	delete(r.byID, a.ID)
	delete(r.byName, a.Name)
	// Recorded as kept either way: if purging fails half-way (or the
	// process dies), what is left stays listed.
	wasKept := r.kept[a.RootDir]
	r.kept[a.RootDir] = true
	if err := r.saveLocked(); err != nil {
		r.byID[a.ID], r.byName[a.Name] = a, a
		if !wasKept {
			delete(r.kept, a.RootDir)
		}
		return Removed{}, err
	}
	r.log.Info("app removed", "app", a.Name, "id", a.ID, "purge", purge)
	res := Removed{App: *a}
	if !purge {
		return res, nil
	}
	roots := []string{a.RootDir}
	for _, o := range r.orphansOfLocked(name) {
		if o != a.RootDir {
			roots = append(roots, o)
		}
	}
	for _, root := range roots {
		if err := r.roots.DeleteRoot(vfs.AppRoot(root)); err != nil && !errors.Is(err, vfs.ErrNoRoot) && !errors.Is(err, vfs.ErrNotFound) {
			return res, fmt.Errorf("%w: app %q removed, but deleting root %s failed: %v", ErrStorage, a.Name, root, err)
		}
		delete(r.kept, root)
		res.Deleted = append(res.Deleted, root)
	}
	// Drop the deleted roots from the file too (a failure only leaves names
	// that Open and OrphanRoots skip, as their roots are gone).
	if err := r.saveLocked(); err != nil {
		r.log.Warn("recording the purged roots", "err", err)
	}
	return res, nil
}

// OrphanRoots lists, sorted, the private roots in the store that no app
// owns: those kept by Remove without purge, and those named like the roots of
// a registered or removed app (NAME-Root-Dir, NAME-Root-Dir-2, ...) next to
// them, which covers roots kept before the registry recorded them. A root
// kept by an older daemon from an app whose name is not in use is not found
// by name; PurgeRoot deletes it all the same.
func (r *Registry) OrphanRoots() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := map[string]bool{}
	for n := range r.byName {
		names[n] = true
	}
	for k := range r.kept {
		if n, _, ok := parseRootName(k); ok {
			names[n] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	add := func(root string) {
		if !seen[root] {
			seen[root] = true
			out = append(out, root)
		}
	}
	for k := range r.kept {
		if r.orphanLocked(k) {
			add(k)
		}
	}
	for n := range names {
		for _, root := range r.orphansOfLocked(n) {
			add(root)
		}
	}
	slices.Sort(out)
	return out
}

// PurgeRoot deletes the private root named root with everything in it. It
// refuses the root of a registered app (ErrRootInUse) and a name that is no
// app root in the store (ErrNoRoot).
func (r *Registry) PurgeRoot(root string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if vfs.ValidName(root) != nil {
		return fmt.Errorf("%w: %q is not a root name", ErrNoRoot, root)
	}
	for _, a := range r.byID {
		if a.RootDir == root {
			return fmt.Errorf("%w: %s is the private root of app %q; remove the app with: launcher app rm %s --purge", ErrRootInUse, root, a.Name, a.Name)
		}
	}
	if !r.roots.RootExists(vfs.AppRoot(root)) {
		return fmt.Errorf("%w: %q", ErrNoRoot, root)
	}
	if err := r.roots.DeleteRoot(vfs.AppRoot(root)); err != nil {
		return fmt.Errorf("%w: deleting root %s: %v", ErrStorage, root, err)
	}
	r.log.Info("root purged", "root", root)
	if r.kept[root] {
		delete(r.kept, root)
		if err := r.saveLocked(); err != nil {
			return err
		}
	}
	return nil
}

// orphanLocked reports whether root exists in the store and no app owns it.
func (r *Registry) orphanLocked(root string) bool {
	for _, a := range r.byID {
		if a.RootDir == root {
			return false
		}
	}
	return r.roots.RootExists(vfs.AppRoot(root))
}

// orphansOfLocked returns the orphan roots named like the roots of an app
// called name: NAME-Root-Dir and NAME-Root-Dir-N, probed up to the first
// missing one past the highest suffix known (from the app's own root and the
// kept roots).
func (r *Registry) orphansOfLocked(name string) []string {
	highest := 1
	if a, ok := r.byName[name]; ok {
		if n, k, ok := parseRootName(a.RootDir); ok && n == name {
			highest = max(highest, k)
		}
	}
	for root := range r.kept {
		if n, k, ok := parseRootName(root); ok && n == name {
			highest = max(highest, k)
		}
	}
	var out []string
	for k := 1; ; k++ {
		root := rootName(name, k)
		exists := r.roots.RootExists(vfs.AppRoot(root))
		if !exists && k > highest {
			return out
		}
		if exists && r.orphanLocked(root) {
			out = append(out, root)
		}
	}
}

// rootSuffix ends every private root name (before an optional -N).
const rootSuffix = "-Root-Dir"

// rootName is the k-th root name of an app called name (k >= 1).
func rootName(name string, k int) string {
	if k <= 1 {
		return name + rootSuffix
	}
	return name + rootSuffix + "-" + strconv.Itoa(k)
}

// parseRootName is the inverse of rootName.
func parseRootName(root string) (name string, k int, ok bool) {
	if n, found := strings.CutSuffix(root, rootSuffix); found && n != "" {
		return n, 1, true
	}
	i := strings.LastIndex(root, rootSuffix+"-")
	if i <= 0 {
		return "", 0, false
	}
	k, err := strconv.Atoi(root[i+len(rootSuffix)+1:])
	if err != nil || k < 2 || strconv.Itoa(k) != root[i+len(rootSuffix)+1:] {
		return "", 0, false
	}
	return root[:i], k, true
}

// SetSafeDrive grants (on) or revokes (off) the app's SAFEDrive access. Live
// sessions see the change at their next request.
func (r *Registry) SetSafeDrive(name string, on bool) (App, error) {
	return r.update(name, func(a *App) { a.SafeDrive = on })
}

// SetHash records sum (hex SHA-512) as the accepted hash of the app's executable.
func (r *Registry) SetHash(name, sum string) (App, error) {
	return r.update(name, func(a *App) { a.SHA512 = sum })
}

func (r *Registry) update(name string, f func(*App)) (App, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.byName[name]
	if !ok {
		return App{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	old := *a
	f(a)
	if *a == old {
		return *a, nil
	}
	if err := r.saveLocked(); err != nil {
		*a = old
		return App{}, err
	}
	return *a, nil
}

// Verify opens the app's executable and checks its SHA-512 against the
// registry. When it differs, Verify returns an error wrapping ErrChanged
// unless acceptChanged is set, in which case the new hash is recorded. On
// success the caller gets the opened executable (close it when done): starting
// the process from this descriptor (see Runner.Start) runs exactly the bytes
// that were hashed, even if the path is replaced in between.
func (r *Registry) Verify(name string, acceptChanged bool) (App, *os.File, error) {
	a, err := r.Get(name)
	if err != nil {
		return App{}, nil, err
	}
	f, err := openExec(a.Exec)
	if err != nil {
		return App{}, nil, fmt.Errorf("app %q: %w", name, err)
	}
	sum, err := hashFile(f)
	if err != nil {
		f.Close()
		return App{}, nil, err
	}
	if sum != a.SHA512 {
		if !acceptChanged {
			f.Close()
			return App{}, nil, fmt.Errorf("%w: %s of app %q has SHA-512 %s..., %s... was recorded; launch with --accept-changed if you trust the new binary",
				ErrChanged, a.Exec, name, sum[:16], a.SHA512[:16])
		}
		if a, err = r.SetHash(name, sum); err != nil {
			f.Close()
			return App{}, nil, err
		}
		r.log.Warn("accepted changed executable", "app", name, "sha512", sum)
	}
	return a, f, nil
}

// readNoFollow reads the regular file at path, refusing a symbolic link
// (O_NOFOLLOW) and anything that is not a regular file.
func readNoFollow(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s is a symbolic link; the daemon never makes one: remove it", path)
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return io.ReadAll(f)
}

// openExec opens path for reading and checks that it is a regular file with
// an execute bit.
func openExec(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadExec, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %v", ErrBadExec, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadExec, path)
	}
	if st.Mode().Perm()&0o111 == 0 {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not executable", ErrBadExec, path)
	}
	return f, nil
}

// hashFile returns the hex SHA-512 of f's content from its current offset.
func hashFile(f *os.File) (string, error) {
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%w: reading %s: %v", ErrBadExec, f.Name(), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// tempPattern names the registry's temporary files.
func (r *Registry) tempPattern() string { return filepath.Base(r.path) + ".tmp-*" }

func (r *Registry) removeTemps() {
	m, _ := filepath.Glob(filepath.Join(filepath.Dir(r.path), r.tempPattern()))
	for _, p := range m {
		_ = os.Remove(p)
	}
}

// saveLocked writes the registry atomically: a temporary file in the same
// directory, fsync, rename over the file, fsync of the directory.
func (r *Registry) saveLocked() error {
	f := fileFormat{Version: formatVersion, Apps: make([]App, 0, len(r.byID))}
	for _, a := range r.byName {
		f.Apps = append(f.Apps, *a)
	}
	for k := range r.kept {
		if r.orphanLocked(k) {
			f.KeptRoots = append(f.KeptRoots, k)
		}
	}
	slices.Sort(f.KeptRoots)
	slices.SortFunc(f.Apps, func(a, b App) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: encoding: %v", ErrStorage, err)
	}
	data = append(data, '\n')
	if err := writeAtomic(r.path, r.tempPattern(), data); err != nil {
		return fmt.Errorf("%w: %v", ErrStorage, err)
	}
	return nil
}

func writeAtomic(path, pattern string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
