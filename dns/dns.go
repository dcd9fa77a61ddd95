// Package dns is the launcher's dns module: public long names, each with
// services (e.g. "www"), each service pointing at a home directory in the
// store, and the local web gateway that serves those directories over HTTP
// at http://<service>.<long_name>.localhost:<port>/.
//
// The package owns:
//   - the dns requests: register-dns and add-service (v1.0, exactly as the
//     RFC), and list-long-names, list-services, get-home-dir, get-file,
//     delete-service and delete-dns (v1.1 additions, see docs/dns.md);
//   - the name rules (CheckName);
//   - the records: tables of their own (dns_names, dns_services) in the
//     store's database, which no app root reaches, each change one
//     transaction of the store (register-dns with its service, a long name
//     with its services, an app's names with the app: DeleteOwned);
//   - resolution of "<service>.<long_name>" to the home directory, by the
//     directory's stable vfs.ID, so that a service follows its directory
//     through renames and moves and a deleted directory is reported as such
//     (wire.CodeServiceDirGone), never replaced by another one;
//   - the Gateway (gateway.go).
//
// # Ownership
//
// Names belong to the user. Any authenticated app may read them (list them,
// list services, list a home directory, read a file). Only the app that
// registered a long name may add services to it, delete its services or
// delete it; another app gets wire.CodeNameTaken saying so.
//
// # What the caller must do
//
//   - Change the dns tables only through a Module (or DeleteOwned inside
//     the caller's transaction); nothing else writes them.
//   - Serve the Gateway on a loopback address only (Serve refuses others) and
//     do not put it behind a proxy that rewrites the Host header: the Host
//     check is what keeps other web pages from reading through it.
package dns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// RecordsRootName is the name of the reserved store root that held the dns
// records before they moved into the store's database: New refuses a store
// whose vfs.ReservedRoot(RecordsRootName) holds anything (ErrOldFormat).
const RecordsRootName = "dns"

// Module serves the dns requests and resolves names for the gateway and the
// control socket. It is safe for concurrent use. It keeps nothing of the
// records in memory: every request reads or changes the tables in one
// transaction of the store.
type Module struct {
	store *vfs.Store
	now   func() time.Time
	// failAfter, in tests, is called inside a change's transaction after its
	// first rows are written; an error it returns undoes the change.
	failAfter func(step string) error
}

// New returns the dns module over store. It creates the dns tables in the
// store's database if missing (see records.go and docs/dns.md), or checks
// their version (ErrBadRecord if newer). A store with records in the format
// before the database is refused with ErrOldFormat.
func New(store *vfs.Store) (*Module, error) {
	m := &Module{store: store, now: time.Now}
	if !store.Locked() {
		if err := m.Load(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Load opens the records (creating their tables the first time). The store
// must be unlocked: a daemon that starts locked makes the module with New
// and loads it once the user unlocks (New loads at once when the store is
// unlocked already). The records are read from the store at each request,
// so there is nothing to forget when the launcher locks.
func (m *Module) Load() error {
	if err := m.store.Update(context.Background(), initSchema); err != nil { // start-up: nothing to cancel it
		return fmt.Errorf("dns: opening the records: %w", err)
	}
	return nil
}

// Register adds register-dns and add-service from v1.0 on, and the read and
// delete requests from v1.1 on.
func (m *Module) Register(t *route.Table) {
	t.Handle("dns", "register-dns", wire.V1_0, m.registerDNS)
	t.Handle("dns", "add-service", wire.V1_0, m.addService)
	t.Handle("dns", "list-long-names", wire.V1_1, m.listLongNames)
	t.Handle("dns", "list-services", wire.V1_1, m.listServices)
	t.Handle("dns", "get-home-dir", wire.V1_1, m.getHomeDir)
	t.Handle("dns", "get-file", wire.V1_1, m.getFile)
	t.Handle("dns", "delete-service", wire.V1_1, m.deleteService)
	t.Handle("dns", "delete-dns", wire.V1_1, m.deleteDNS)
}

// step runs the test hook, if any.
func (m *Module) step(name string) error {
	if m.failAfter == nil {
		return nil
	}
	return m.failAfter(name)
}

// ---- requests ----

// home checks, in tx, the home directory a register-dns or add-service
// names and returns its record.
func (m *Module) home(tx *vfs.Tx, c route.Caller, r wire.ServiceRequest) (serviceRecord, error) {
	root, err := nfs.RootFor(c, r.IsPathShared)
	if err != nil {
		return serviceRecord{}, err
	}
	p, err := vfs.ParsePath(r.ServiceHomeDirPath)
	if err != nil {
		return serviceRecord{}, wire.Errorf(wire.CodeInvalidPath, "field %q: %s", "data.service_home_dir_path", nfs.Describe(err))
	}
	if len(p) == 0 {
		return serviceRecord{}, wire.Errorf(wire.CodeRootOperation, "field %q names the root itself; a service's home must be a directory below it", "data.service_home_dir_path")
	}
	l, err := tx.GetDir(root, p)
	if err != nil {
		return serviceRecord{}, err
	}
	if l.Info.Private {
		return serviceRecord{}, errPrivate(fmt.Sprintf("the directory %s is private (is_private); a service's home directory must be public", p))
	}
	return serviceRecord{Home: l.Info.ID, Root: root.String(), Shared: r.IsPathShared, Path: p.String(), Added: m.now().UTC()}, nil
}

// checkPair checks and lower-cases a long name and a service name.
func checkPair(longName, serviceName string) (long, svc string, err error) {
	if long, err = CheckName("long_name", longName); err != nil {
		return "", "", err
	}
	if svc, err = CheckName("service_name", serviceName); err != nil {
		return "", "", err
	}
	return long, svc, nil
}

// serviceArgs decodes and checks the data of register-dns and add-service.
func serviceArgs(data json.RawMessage) (long, svc string, r wire.ServiceRequest, err error) {
	if err = wire.Decode(data, &r); err != nil {
		return
	}
	long, svc, err = checkPair(r.LongName, r.ServiceName)
	return
}

func (m *Module) registerDNS(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	return nfs.Change(ctx, func(ctx context.Context) error { return m.registerDNSChange(ctx, c, data) })
}

// registerDNSChange records the long name and its first service in one
// transaction: both or neither.
func (m *Module) registerDNSChange(ctx context.Context, c route.Caller, data json.RawMessage) error {
	long, svc, req, err := serviceArgs(data)
	if err != nil {
		return err
	}
	return m.store.Update(ctx, func(tx *vfs.Tx) error {
		s, err := m.home(tx, c, req)
		if err != nil {
			return err
		}
		owner, _, taken, err := getName(tx, long)
		if err != nil {
			return err
		}
		if taken {
			if owner == c.AppID() {
				return wire.Errorf(wire.CodeNameTaken, "the long name %q is registered already (by this app: use add-service)", long)
			}
			return wire.Errorf(wire.CodeNameTaken, "the long name %q is registered already", long)
		}
		if err := putName(tx, long, c.AppID(), nameRec{Created: s.Added}); err != nil {
			return err
		}
		if err := m.step("register-dns: name"); err != nil {
			return err
		}
		return putService(tx, long, svc, s)
	})
}

// owned checks, in tx, that long is registered, and by c. what names the
// change in the error.
func owned(tx *vfs.Tx, c route.Caller, long, what string) error {
	owner, _, ok, err := getName(tx, long)
	switch {
	case err != nil:
		return err
	case !ok:
		return errNameNotFound(long)
	case owner != c.AppID():
		return errNotOwner(long, what)
	}
	return nil
}

func (m *Module) addService(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	return nfs.Change(ctx, func(ctx context.Context) error { return m.addServiceChange(ctx, c, data) })
}

func (m *Module) addServiceChange(ctx context.Context, c route.Caller, data json.RawMessage) error {
	long, svc, req, err := serviceArgs(data)
	if err != nil {
		return err
	}
	return m.store.Update(ctx, func(tx *vfs.Tx) error {
		s, err := m.home(tx, c, req)
		if err != nil {
			return err
		}
		if err := owned(tx, c, long, "add services to it"); err != nil {
			return err
		}
		_, exists, err := getService(tx, long, svc)
		if err != nil {
			return err
		}
		if exists {
			return wire.Errorf(wire.CodeServiceExists, "the long name %q has a service %q already", long, svc)
		}
		return putService(tx, long, svc, s)
	})
}

// decodeEmpty accepts absent data, null, or any JSON object.
func decodeEmpty(data json.RawMessage) error {
	d := strings.TrimSpace(string(data))
	if d == "" || d == "null" {
		return nil
	}
	return wire.Decode(data, &wire.Empty{})
}

func (m *Module) listLongNames(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	if err := decodeEmpty(data); err != nil {
		return route.Result{}, nfs.StoreError(err)
	}
	out := []string{}
	err := m.store.View(ctx, func(tx *vfs.Tx) error {
		names, err := longNames(tx, "")
		for _, n := range names {
			out = append(out, n.long)
		}
		return err
	})
	if err != nil {
		return route.Result{}, nfs.StoreError(err)
	}
	return route.Answer(&wire.LongNamesResponse{LongNames: out}), nil
}

func (m *Module) listServices(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	var r wire.LongNameRequest
	if err := wire.Decode(data, &r); err != nil {
		return route.Result{}, nfs.StoreError(err)
	}
	long, err := CheckName("long_name", r.LongName)
	if err != nil {
		return route.Result{}, nfs.StoreError(err)
	}
	out := []string{}
	err = m.store.View(ctx, func(tx *vfs.Tx) error {
		_, _, ok, err := getName(tx, long)
		if err != nil {
			return err
		}
		if !ok {
			return errNameNotFound(long)
		}
		svcs, err := services(tx, long)
		for _, s := range svcs {
			out = append(out, s.name)
		}
		return err
	})
	if err != nil {
		return route.Result{}, nfs.StoreError(err)
	}
	return route.Answer(&wire.ServicesResponse{Services: out}), nil
}

func (m *Module) serviceName(data json.RawMessage) (long, svc string, err error) {
	var r wire.ServiceNameRequest
	if err = wire.Decode(data, &r); err != nil {
		return
	}
	return checkPair(r.LongName, r.ServiceName)
}

func (m *Module) getHomeDir(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	long, svc, err := m.serviceName(data)
	if err != nil {
		return route.Result{}, nfs.StoreError(err)
	}
	var out *wire.GetDirResponse
	err = m.withHome(ctx, long, svc, func(res Resolved) error {
		if res.Dir.Private {
			return errPrivate(fmt.Sprintf("the home directory of service %q of %q is private", svc, long))
		}
		l, err := m.store.GetDir(ctx, res.Root, res.Path)
		if err != nil {
			return err
		}
		// Private sub-directories are left out: the service publishes only
		// what is public.
		l.Dirs = slices.DeleteFunc(l.Dirs, func(d vfs.DirInfo) bool { return d.Private })
		out = nfs.Listing(l)
		return nil
	})
	if err != nil {
		return route.Result{}, nfs.StoreError(err)
	}
	return route.Answer(out), nil
}

func (m *Module) getFile(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	var r wire.ServiceFileRequest
	if err := wire.Decode(data, &r); err != nil {
		return route.Result{}, nfs.StoreError(err)
	}
	long, svc, err := checkPair(r.LongName, r.ServiceName)
	if err != nil {
		return route.Result{}, nfs.StoreError(err)
	}
	rel, err := vfs.ParsePath(r.FilePath)
	if err != nil {
		return route.Result{}, wire.Errorf(wire.CodeInvalidPath, "field %q: %s", "data.file_path", nfs.Describe(err))
	}
	if len(rel) == 0 {
		return route.Result{}, wire.Errorf(wire.CodeRootOperation, "field %q names the home directory itself; get-file needs a file below it", "data.file_path")
	}
	var out *wire.GetFileStream
	err = m.withHome(ctx, long, svc, func(res Resolved) error {
		if out != nil { // a retry: the home moved meanwhile
			out.Close()
			out = nil
		}
		if err := m.checkPublic(ctx, res, rel[:len(rel)-1]); err != nil {
			return err
		}
		out, err = nfs.ReadFile(ctx, m.store, res.Root, join(res.Path, rel), r.Offset, r.Length, r.IncludeMetadata)
		return err
	})
	if err != nil {
		if out != nil {
			out.Close()
		}
		return route.Result{}, nfs.StoreError(err)
	}
	return route.Answer(out), nil
}

func (m *Module) deleteService(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	return nfs.Change(ctx, func(ctx context.Context) error { return m.deleteServiceChange(ctx, c, data) })
}

func (m *Module) deleteServiceChange(ctx context.Context, c route.Caller, data json.RawMessage) error {
	long, svc, err := m.serviceName(data)
	if err != nil {
		return err
	}
	return m.store.Update(ctx, func(tx *vfs.Tx) error {
		if err := owned(tx, c, long, "delete its services"); err != nil {
			return err
		}
		_, ok, err := getService(tx, long, svc)
		if err != nil {
			return err
		}
		if !ok {
			return errServiceNotFound(long, svc)
		}
		return dropService(tx, long, svc)
	})
}

func (m *Module) deleteDNS(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	return nfs.Change(ctx, func(ctx context.Context) error { return m.deleteDNSChange(ctx, c, data) })
}

func (m *Module) deleteDNSChange(ctx context.Context, c route.Caller, data json.RawMessage) error {
	var r wire.LongNameRequest
	if err := wire.Decode(data, &r); err != nil {
		return err
	}
	long, err := CheckName("long_name", r.LongName)
	if err != nil {
		return err
	}
	return m.store.Update(ctx, func(tx *vfs.Tx) error {
		if err := owned(tx, c, long, "delete it"); err != nil {
			return err
		}
		return dropName(tx, long)
	})
}

// ---- resolution ----

// Resolved is where a service's home directory is now.
type Resolved struct {
	LongName string      // lower-case
	Service  string      // lower-case
	Owner    string      // app id of the app that registered the long name
	Root     vfs.Root    // the root the directory is in (an app's root or SAFEDrive)
	Path     vfs.Path    // the directory's current path in Root
	Dir      vfs.DirInfo // the directory itself (Dir.Private is reported, not refused)
}

// Host returns "<service>.<long_name>".
func (r Resolved) Host() string { return r.Service + "." + r.LongName }

// SplitHost splits "<service>.<long_name>" into its two names, checked and
// lower-cased. Anything else (one label, three labels, a bad name) is a
// *wire.Error with CodeInvalidDNSName.
func SplitHost(host string) (long, svc string, err error) {
	s, l, ok := strings.Cut(host, ".")
	if !ok || strings.Contains(l, ".") {
		return "", "", errInvalidName(fmt.Sprintf("%q is not <service>.<long_name>", host))
	}
	if svc, err = CheckName("service_name", s); err != nil {
		return "", "", err
	}
	if long, err = CheckName("long_name", l); err != nil {
		return "", "", err
	}
	return long, svc, nil
}

// Resolve finds the home directory of host, "<service>.<long_name>" (e.g.
// "www.example", case-insensitive). Errors are *wire.Error values:
// CodeInvalidDNSName, CodeNameNotFound, CodeServiceNotFound, or
// CodeServiceDirGone when the directory was deleted.
func (m *Module) Resolve(ctx context.Context, host string) (Resolved, error) {
	long, svc, err := SplitHost(host)
	if err != nil {
		return Resolved{}, err
	}
	return m.resolve(ctx, long, svc)
}

// resolve finds a service's home directory by its stable id, in one read
// of the store.
func (m *Module) resolve(ctx context.Context, long, svc string) (Resolved, error) {
	var res Resolved
	err := m.store.View(ctx, func(tx *vfs.Tx) error {
		owner, _, ok, err := getName(tx, long)
		if err != nil {
			return err
		}
		if !ok {
			return errNameNotFound(long)
		}
		s, ok, err := getService(tx, long, svc)
		if err != nil {
			return err
		}
		if !ok {
			return errServiceNotFound(long, svc)
		}
		root, p, info, err := tx.LookupDir(s.Home)
		if errors.Is(err, vfs.ErrNotFound) {
			return errDirGone(long, svc)
		}
		if err != nil {
			return err
		}
		res = Resolved{LongName: long, Service: svc, Owner: owner, Root: root, Path: p, Dir: info}
		return nil
	})
	return res, err
}

// withHome resolves a service and runs fn with it, then checks that the home
// directory did not move while fn ran (fn works by path). If it did, fn runs
// again on the new location, a few times at most, so that a read never mixes
// the home directory with whatever took its old path.
func (m *Module) withHome(ctx context.Context, long, svc string, fn func(Resolved) error) error {
	const attempts = 3
	for range attempts {
		res, err := m.resolve(ctx, long, svc)
		if err != nil {
			return err
		}
		ferr := fn(res)
		after, err := m.resolve(ctx, long, svc)
		if err != nil {
			return err
		}
		if after.Root == res.Root && slices.Equal(after.Path, res.Path) {
			return ferr
		}
	}
	return wire.Errorf(wire.CodeBusy, "the home directory of service %q of %q kept moving; try again", svc, long)
}

// checkPublic fails with ErrServiceDirPrivate if the home directory or any
// directory of dirs below it is private; a missing directory is the store's
// not-found error.
func (m *Module) checkPublic(ctx context.Context, res Resolved, dirs vfs.Path) error {
	if res.Dir.Private {
		return errPrivate(fmt.Sprintf("the home directory of service %q of %q is private", res.Service, res.LongName))
	}
	for i := range dirs {
		l, err := m.store.GetDir(ctx, res.Root, join(res.Path, dirs[:i+1]))
		if err != nil {
			return err
		}
		if l.Info.Private {
			return errPrivate(fmt.Sprintf("the directory %s below the home directory of service %q of %q is private", dirs[:i+1], res.Service, res.LongName))
		}
	}
	return nil
}

func join(a, b vfs.Path) vfs.Path {
	out := make(vfs.Path, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// NameInfo describes a registered long name, for people (CLI, control socket).
type NameInfo struct {
	LongName string
	Owner    string // app id
	Created  time.Time
	Services []ServiceInfo // sorted by name
}

// ServiceInfo describes one service of a long name.
type ServiceInfo struct {
	Name   string
	HomeID vfs.ID
	// Root is the root the home directory is in now ("app:<dir>" or
	// "shared"), or the one it was registered in if it is gone.
	Root string
	// Path is the home directory's current path, "" if Gone.
	Path string
	// Gone is true when the home directory was deleted.
	Gone bool
	// Private is true when the home directory is private (never served).
	Private bool
	Added   time.Time
}

// Names lists every registered long name with its services, sorted, as one
// consistent state of the store.
func (m *Module) Names(ctx context.Context) ([]NameInfo, error) {
	out := []NameInfo{}
	err := m.store.View(ctx, func(tx *vfs.Tx) error {
		names, err := longNames(tx, "")
		if err != nil {
			return err
		}
		for _, n := range names {
			svcs, err := services(tx, n.long)
			if err != nil {
				return err
			}
			ni := NameInfo{LongName: n.long, Owner: n.owner, Created: n.rec.Created, Services: make([]ServiceInfo, 0, len(svcs))}
			for _, sv := range svcs {
				s := sv.rec
				si := ServiceInfo{Name: sv.name, HomeID: s.Home, Root: s.Root, Added: s.Added}
				root, p, info, err := tx.LookupDir(s.Home)
				switch {
				case errors.Is(err, vfs.ErrNotFound):
					si.Gone = true
				case err != nil:
					return err
				default:
					si.Root, si.Path, si.Private = root.String(), p.String(), info.Private
				}
				ni.Services = append(ni.Services, si)
			}
			out = append(out, ni)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteName removes a long name with all its services on the user's behalf
// (CLI, control socket): unlike dns/delete-dns it does not check which app
// registered the name, so the user can free the names of a removed app.
// An unknown name is wire.ErrNameNotFound; a bad one wire.ErrInvalidDNSName.
func (m *Module) DeleteName(ctx context.Context, longName string) error {
	long, err := CheckName("long_name", longName)
	if err != nil {
		return err
	}
	return m.store.Update(ctx, func(tx *vfs.Tx) error {
		_, _, ok, err := getName(tx, long)
		if err != nil {
			return err
		}
		if !ok {
			return errNameNotFound(long)
		}
		return dropName(tx, long)
	})
}

// DeleteOwned deletes, in tx (a transaction of vfs.Store.Update), every long
// name the app appID registered, with their services, and returns them,
// sorted. app rm --purge calls it (through apps.Options.Purge) in the
// transaction that removes the app, so that the app and its names go
// together or not at all.
func (m *Module) DeleteOwned(tx *vfs.Tx, appID string) ([]string, error) {
	names, err := longNames(tx, appID)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if err := dropName(tx, n.long); err != nil {
			return nil, err
		}
		out = append(out, n.long)
		if err := m.step("delete-owned: " + n.long); err != nil {
			return nil, err
		}
	}
	return out, nil
}
