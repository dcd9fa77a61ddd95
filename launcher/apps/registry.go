// Package apps owns the launcher's app registry: the apps the user added, each
// with a random id, a unique name, the absolute path and SHA-512 of its
// executable, its SAFEDrive permission (the grant) and the name of its
// private root in the store. The registry is kept in tables of its own in the
// store's database (apps_apps, apps_kept_roots; see tables.go and
// docs/operations.md), encrypted at rest with the store's registry key
// (only keyed hashes and sealed records are stored), and every change is
// one transaction of the store together with the roots it touches: an app
// is added with its root, and removed with --purge with its roots and
// (through Options.Purge) its dns names, all or nothing. It is as durable as the store (vfs.Options.Sync).
// The registry keeps a copy of its (small) tables in memory, updated after
// each commit.
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
//   - Give the Registry exclusive use of its tables: one Registry per store,
//     and no other writer of the apps_ tables.
//   - After Remove, end the app's live sessions and forget its pending
//     launcher strings (launcher.Server.EndApp); the registry does not know
//     the daemon.
package apps

import (
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
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
	// ErrStorage is returned when the registry's tables cannot be read or
	// written, or the store refused a change of a root.
	ErrStorage = errors.New("apps: registry storage error")
	// ErrCorrupt is returned by Open for registry tables that cannot be
	// parsed, break the registry's invariants or are of a newer version. A
	// row whose sealed record fails its integrity check (a changed byte, a
	// record moved from another row) is ErrCorrupt wrapping vfs.ErrIntegrity.
	ErrCorrupt = errors.New("apps: registry corrupt")
	// ErrOldFormat is returned by Open when the data directory holds the
	// registry file of the format before the store's database
	// (Options.OldFile, apps.json), or the database holds the registry's
	// tables of version 1 (in the clear). There is no migration: nothing was
	// released.
	ErrOldFormat = errors.New("apps: the app registry is in an old format")
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

var _ launcher.Apps = (*Registry)(nil)

// Registry is the persisted set of apps. It is safe for concurrent use.
type Registry struct {
	store *vfs.Store
	purge func(tx *vfs.Tx, appID string) ([]string, error)
	log   *slog.Logger
	rand  io.Reader
	// failAfter, in tests, is called inside a change's transaction after
	// each step; an error it returns undoes the change.
	failAfter func(step string) error

	mu     sync.RWMutex // guards byID, byName and kept; held across each change's transaction
	byID   map[string]*App
	byName map[string]*App
	kept   map[string]bool // roots kept by Remove without purge
	loaded bool            // Load has read the store (see Load)
}

// Options configure Open. The zero value is ready to use.
type Options struct {
	Logger *slog.Logger // nil: discard
	Rand   io.Reader    // source of app ids; nil: crypto/rand
	// OldFile is the host path of the registry file of the format before
	// the store's database (the daemon passes DATA/apps.json): if anything
	// is there, Open fails with ErrOldFormat. "": not checked.
	OldFile string
	// Purge, if set, runs inside the transaction of Remove with purge,
	// after the app's row and roots are deleted, to delete what else the
	// app owns in the store's database: the daemon passes the dns module's
	// DeleteOwned. It returns what it deleted (Removed.Names). An error
	// undoes the whole removal.
	Purge func(tx *vfs.Tx, appID string) ([]string, error)
}

// Open opens the registry kept in store's database, creating its tables if
// the database has none. The private root of any app whose root is missing
// (deleted behind the registry's back) is created again, and kept roots
// that are gone from the store are forgotten.
func Open(store *vfs.Store, opts Options) (*Registry, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil store", ErrStorage)
	}
	if opts.OldFile != "" {
		if _, err := os.Lstat(opts.OldFile); err == nil {
			return nil, fmt.Errorf("%w: %s is the app registry of an older launcher; the registry is now kept in the store's database and there is no migration (nothing was released): move the data directory aside and start with an empty one", ErrOldFormat, opts.OldFile)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: checking for %s: %v", ErrStorage, opts.OldFile, err)
		}
	}
	r := &Registry{store: store, purge: opts.Purge, log: opts.Logger, rand: opts.Rand,
		byID: map[string]*App{}, byName: map[string]*App{}, kept: map[string]bool{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	if !store.Locked() {
		if err := r.Load(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Load reads the registry from the store (and creates its tables the first
// time). The store must be unlocked: the registry's data is encrypted with
// the user's keys, so a daemon that starts locked opens the registry empty
// and loads it once the user unlocks (Open loads at once when the store is
// unlocked already). Unload forgets it again when the launcher locks.
func (r *Registry) Load() error {
	store := r.store
	byID, byName, keptSet := map[string]*App{}, map[string]*App{}, map[string]bool{}
	ctx := context.Background() // start-up: nothing to cancel it
	var list []App
	var kept []string
	err := store.Update(ctx, func(tx *vfs.Tx) error {
		if err := initSchema(tx); err != nil {
			return err
		}
		var err error
		if list, err = loadApps(tx); err != nil {
			return err
		}
		kept, err = loadKept(tx)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrStorage) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrOldFormat) {
			return err
		}
		return fmt.Errorf("%w: opening the registry: %v", ErrStorage, err)
	}
	roots0 := map[string]bool{}
	for i := range list {
		a := list[i]
		switch {
		case ValidName(a.Name) != nil, a.ID == "", vfs.ValidName(a.RootDir) != nil, !filepath.IsAbs(a.Exec):
			return fmt.Errorf("%w: app %q is incomplete or invalid", ErrCorrupt, a.Name)
		}
		roots0[a.RootDir] = true
		byID[a.ID], byName[a.Name] = &a, &a
	}
	for _, k := range kept {
		if vfs.ValidName(k) == nil && !roots0[k] && store.RootExists(vfs.AppRoot(k)) {
			keptSet[k] = true
		}
	}
	for _, a := range byID {
		root := vfs.AppRoot(a.RootDir)
		if !store.RootExists(root) {
			if _, err := store.CreateRoot(root); err != nil {
				return fmt.Errorf("%w: creating the missing root of app %q: %v", ErrStorage, a.Name, err)
			}
			r.log.Warn("created missing private root", "app", a.Name, "root", a.RootDir)
		}
	}
	r.mu.Lock()
	r.byID, r.byName, r.kept, r.loaded = byID, byName, keptSet, true
	r.mu.Unlock()
	return nil
}

// Unload forgets the registry's data (the launcher is locking): until the
// next Load, no app is registered as far as the daemon can tell.
func (r *Registry) Unload() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byID, r.byName, r.kept, r.loaded = map[string]*App{}, map[string]*App{}, map[string]bool{}, false
}

// change runs fn in one transaction of the store. An error of the store
// (not one of this package's) is wrapped in ErrStorage.
func (r *Registry) change(fn func(tx *vfs.Tx) error) error {
	err := r.store.Update(context.Background(), fn)
	if err != nil && !errors.Is(err, ErrStorage) && !errors.Is(err, ErrNoRoot) {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return err
}

// step runs the test hook, if any.
func (r *Registry) step(name string) error {
	if r.failAfter == nil {
		return nil
	}
	return r.failAfter(name)
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
// one kept from a removed app), and records the app and creates its root in
// one transaction of the store.
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
	a := App{ID: hex.EncodeToString(idb[:]), Name: req.Name, Exec: exec, SHA512: sum,
		SafeDrive: req.SafeDrive, SecretEnv: req.SecretEnv,
		Added: time.Now().UTC().Truncate(time.Second)}
	used := map[string]bool{}
	for _, o := range r.byID {
		used[o.RootDir] = true
	}
	// The app's row and its root in one transaction: the first root name
	// that no app uses and the store does not hold.
	err = r.change(func(tx *vfs.Tx) error {
		for n := 1; ; n++ {
			cand := rootName(req.Name, n)
			if used[cand] {
				continue
			}
			_, err := tx.CreateRoot(vfs.AppRoot(cand))
			if errors.Is(err, vfs.ErrExists) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%w: creating root %s: %w", ErrStorage, cand, err)
			}
			a.RootDir = cand
			break
		}
		if err := r.step("add: root"); err != nil {
			return err
		}
		if err := setKept(tx, a.RootDir, false); err != nil {
			return err
		}
		return putApp(tx, a)
	})
	if err != nil {
		return App{}, err
	}
	r.byID[a.ID], r.byName[a.Name] = &a, &a
	delete(r.kept, a.RootDir)
	r.log.Info("app added", "app", a.Name, "id", a.ID, "root", a.RootDir)
	return a, nil
}

// Removed is what Remove did.
type Removed struct {
	App App
	// Deleted lists the roots deleted with purge: the app's own first, then
	// those left in the store by earlier apps of the same name that no app
	// owns (see OrphanRoots).
	Deleted []string
	// Names lists what Options.Purge deleted with purge: the app's dns long
	// names, sorted.
	Names []string
}

// Remove unregisters the app named name. Its private root is kept (and listed
// by OrphanRoots) unless purge is set; purge deletes it, the roots that
// earlier apps of the same name left behind, and what Options.Purge deletes
// (the app's dns names). Everything Remove does is one transaction of the
// store: if any part fails, nothing is removed and the app stays
// registered. The caller ends the app's sessions (see the package doc).
func (r *Registry) Remove(name string, purge bool) (Removed, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.byName[name]
	if !ok {
		return Removed{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	res := Removed{App: *a}
	var roots []string
	if purge {
		roots = []string{a.RootDir}
		for _, o := range r.orphansOfLocked(name) {
			if o != a.RootDir {
				roots = append(roots, o)
			}
		}
	}
	err := r.change(func(tx *vfs.Tx) error {
		if err := dropApp(tx, a.ID); err != nil {
			return err
		}
		if err := r.step("remove: app"); err != nil {
			return err
		}
		if !purge {
			return setKept(tx, a.RootDir, true)
		}
		for _, root := range roots {
			if err := tx.DeleteRoot(vfs.AppRoot(root)); err != nil && !errors.Is(err, vfs.ErrNoRoot) {
				return fmt.Errorf("%w: deleting root %s: %w", ErrStorage, root, err)
			}
			if err := setKept(tx, root, false); err != nil {
				return err
			}
			res.Deleted = append(res.Deleted, root)
			if err := r.step("remove: root " + root); err != nil {
				return err
			}
		}
		if r.purge != nil {
			names, err := r.purge(tx, a.ID)
			if err != nil {
				return fmt.Errorf("%w: deleting what app %q owns: %w", ErrStorage, a.Name, err)
			}
			res.Names = names
		}
		return r.step("remove: purge")
	})
	if err != nil {
		return Removed{}, fmt.Errorf("app %q is not removed: %w", a.Name, err)
	}
	delete(r.byID, a.ID)
	delete(r.byName, a.Name)
	if purge {
		for _, root := range roots {
			delete(r.kept, root)
		}
	} else {
		r.kept[a.RootDir] = true
	}
	r.log.Info("app removed", "app", a.Name, "id", a.ID, "purge", purge, "roots", res.Deleted, "names", res.Names)
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
	if !r.store.RootExists(vfs.AppRoot(root)) {
		return fmt.Errorf("%w: %q", ErrNoRoot, root)
	}
	err := r.change(func(tx *vfs.Tx) error {
		if err := tx.DeleteRoot(vfs.AppRoot(root)); err != nil {
			if errors.Is(err, vfs.ErrNoRoot) {
				return fmt.Errorf("%w: %q", ErrNoRoot, root)
			}
			return fmt.Errorf("%w: deleting root %s: %w", ErrStorage, root, err)
		}
		return setKept(tx, root, false)
	})
	if err != nil {
		return err
	}
	delete(r.kept, root)
	r.log.Info("root purged", "root", root)
	return nil
}

// orphanLocked reports whether root exists in the store and no app owns it.
func (r *Registry) orphanLocked(root string) bool {
	for _, a := range r.byID {
		if a.RootDir == root {
			return false
		}
	}
	return r.store.RootExists(vfs.AppRoot(root))
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
		exists := r.store.RootExists(vfs.AppRoot(root))
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
	next := *a
	f(&next)
	if next == *a {
		return next, nil
	}
	if err := r.change(func(tx *vfs.Tx) error { return putApp(tx, next) }); err != nil {
		return App{}, err
	}
	*a = next
	return next, nil
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
