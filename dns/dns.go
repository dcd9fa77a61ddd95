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
//   - the records, kept as one JSON file per long name in the store's
//     reserved root vfs.ReservedRoot("dns"), which no app root reaches;
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
//   - Use one Module per Store: the Module caches the records and is the only
//     writer of the reserved dns area.
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
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// RecordsRootName is the name of the reserved store root that holds the dns
// records: vfs.ReservedRoot(RecordsRootName).
const RecordsRootName = "dns"

// recordsRoot is the reserved root of the records.
func recordsRoot() vfs.Root { return vfs.ReservedRoot(RecordsRootName) }

// recordVersion is the format version of a record file.
const recordVersion = 1

// record is one long name as stored: <long_name>.json in the records root.
// Records are values: a change makes a new record, so readers holding one
// under the read lock never see it move.
type record struct {
	V        int                      `json:"v"`
	LongName string                   `json:"long_name"`
	Owner    string                   `json:"owner"` // app id of the registering app
	Created  time.Time                `json:"created"`
	Services map[string]serviceRecord `json:"services"`
}

// serviceRecord is one service of a long name.
type serviceRecord struct {
	Home   vfs.ID    `json:"home"`           // stable id of the home directory
	Root   string    `json:"root"`           // root at registration: "app:<dir>" or "shared"
	Shared bool      `json:"is_path_shared"` // as sent at registration
	Path   string    `json:"path"`           // path at registration (for people only)
	Added  time.Time `json:"added"`
}

func (r *record) clone() *record {
	c := *r
	c.Services = make(map[string]serviceRecord, len(r.Services))
	for k, v := range r.Services {
		c.Services[k] = v
	}
	return &c
}

// Module serves the dns requests and resolves names for the gateway and the
// control socket. It is safe for concurrent use.
type Module struct {
	store *vfs.Store
	now   func() time.Time

	// mu guards names. Writers hold it across the store write, so the file
	// and the map change together and writes of one name never interleave.
	mu    sync.RWMutex
	names map[string]*record
}

// New returns the dns module over store. It creates the reserved root
// vfs.ReservedRoot(RecordsRootName) if missing and loads the records. It fails if the root cannot
// be created or read, or if the area holds a file that is not a record
// (ErrBadRecord). A record file left empty by a crash between its creation
// and its first write is ignored (the name was never acknowledged).
func New(store *vfs.Store) (*Module, error) {
	m := &Module{store: store, now: time.Now, names: map[string]*record{}}
	if !store.RootExists(recordsRoot()) {
		if _, err := store.CreateRoot(recordsRoot()); err != nil && !errors.Is(err, vfs.ErrExists) {
			return nil, fmt.Errorf("dns: creating the records root: %w", err)
		}
	}
	ctx := context.Background() // start-up: nothing to cancel it
	l, err := store.GetDir(ctx, recordsRoot(), nil)
	if err != nil {
		return nil, fmt.Errorf("dns: listing the records: %w", err)
	}
	if len(l.Dirs) > 0 {
		return nil, fmt.Errorf("%w: unexpected directory %q", ErrBadRecord, l.Dirs[0].Name)
	}
	for _, f := range l.Files {
		long, ok := strings.CutSuffix(f.Name, ".json")
		if !ok {
			return nil, fmt.Errorf("%w: unexpected file %q", ErrBadRecord, f.Name)
		}
		if f.Size == 0 {
			continue
		}
		b, _, err := store.ReadFile(ctx, recordsRoot(), vfs.Path{f.Name}, 0, -1)
		if err != nil {
			return nil, fmt.Errorf("dns: reading record %q: %w", f.Name, err)
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadRecord, f.Name, err)
		}
		if norm, err := CheckName("long_name", r.LongName); err != nil || norm != long || r.V != recordVersion {
			return nil, fmt.Errorf("%w: %q does not hold a version %d record of that name", ErrBadRecord, f.Name, recordVersion)
		}
		for s := range r.Services {
			if norm, err := CheckName("service_name", s); err != nil || norm != s {
				return nil, fmt.Errorf("%w: %q: bad service name %q", ErrBadRecord, f.Name, s)
			}
		}
		if r.Services == nil {
			r.Services = map[string]serviceRecord{}
		}
		m.names[long] = &r
	}
	return m, nil
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

// ---- persistence ----

func recordPath(long string) vfs.Path { return vfs.Path{long + ".json"} }

// save writes r durably. The caller holds m.mu for writing.
func (m *Module) save(ctx context.Context, r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("dns: encoding record %q: %w", r.LongName, err)
	}
	p := recordPath(r.LongName)
	if _, err := m.store.CreateFile(ctx, recordsRoot(), p, nil); err != nil && !errors.Is(err, vfs.ErrExists) {
		return fmt.Errorf("dns: creating record %q: %v", r.LongName, err)
	}
	if _, err := m.store.ModifyFile(ctx, recordsRoot(), p, vfs.FileChange{Content: &vfs.Content{Bytes: b}}); err != nil {
		return fmt.Errorf("dns: writing record %q: %v", r.LongName, err)
	}
	return nil
}

// drop removes the record of long. The caller holds m.mu for writing.
func (m *Module) drop(ctx context.Context, long string) error {
	if err := m.store.DeleteFile(ctx, recordsRoot(), recordPath(long)); err != nil && !errors.Is(err, vfs.ErrNotFound) {
		return fmt.Errorf("dns: deleting record %q: %v", long, err)
	}
	return nil
}

// ---- requests ----

// home checks the home directory a register-dns or add-service names and
// returns its record.
func (m *Module) home(ctx context.Context, c route.Caller, r wire.ServiceRequest) (serviceRecord, error) {
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
	l, err := m.store.GetDir(ctx, root, p)
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
func (m *Module) serviceArgs(ctx context.Context, c route.Caller, data json.RawMessage) (long, svc string, s serviceRecord, err error) {
	var r wire.ServiceRequest
	if err = wire.Decode(data, &r); err != nil {
		return
	}
	if long, svc, err = checkPair(r.LongName, r.ServiceName); err != nil {
		return
	}
	s, err = m.home(ctx, c, r)
	return
}

func (m *Module) registerDNS(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	return nfs.Change(ctx, func(ctx context.Context) error { return m.registerDNSChange(ctx, c, data) })
}

func (m *Module) registerDNSChange(ctx context.Context, c route.Caller, data json.RawMessage) error {
	long, svc, s, err := m.serviceArgs(ctx, c, data)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.names[long]; old != nil {
		if old.Owner == c.AppID() {
			return wire.Errorf(wire.CodeNameTaken, "the long name %q is registered already (by this app: use add-service)", long)
		}
		return wire.Errorf(wire.CodeNameTaken, "the long name %q is registered already", long)
	}
	r := &record{V: recordVersion, LongName: long, Owner: c.AppID(), Created: s.Added, Services: map[string]serviceRecord{svc: s}}
	if err := m.save(ctx, r); err != nil {
		return err
	}
	m.names[long] = r
	return nil
}

// ownedLocked returns the record of long for a change by c: the name must be
// registered, and by c. what names the change in the error. m.mu must be held.
func (m *Module) ownedLocked(c route.Caller, long, what string) (*record, error) {
	old := m.names[long]
	if old == nil {
		return nil, errNameNotFound(long)
	}
	if old.Owner != c.AppID() {
		return nil, errNotOwner(long, what)
	}
	return old, nil
}

func (m *Module) addService(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	return nfs.Change(ctx, func(ctx context.Context) error { return m.addServiceChange(ctx, c, data) })
}

func (m *Module) addServiceChange(ctx context.Context, c route.Caller, data json.RawMessage) error {
	long, svc, s, err := m.serviceArgs(ctx, c, data)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, err := m.ownedLocked(c, long, "add services to it")
	if err != nil {
		return err
	}
	if _, ok := old.Services[svc]; ok {
		return wire.Errorf(wire.CodeServiceExists, "the long name %q has a service %q already", long, svc)
	}
	r := old.clone()
	r.Services[svc] = s
	if err := m.save(ctx, r); err != nil {
		return err
	}
	m.names[long] = r
	return nil
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
	m.mu.RLock()
	out := make([]string, 0, len(m.names))
	for n := range m.names {
		out = append(out, n)
	}
	m.mu.RUnlock()
	sort.Strings(out)
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
	rec := m.lookup(long)
	if rec == nil {
		return route.Result{}, errNameNotFound(long)
	}
	out := make([]string, 0, len(rec.Services))
	for s := range rec.Services {
		out = append(out, s)
	}
	sort.Strings(out)
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
	m.mu.Lock()
	defer m.mu.Unlock()
	old, err := m.ownedLocked(c, long, "delete its services")
	if err != nil {
		return err
	}
	if _, ok := old.Services[svc]; !ok {
		return errServiceNotFound(long, svc)
	}
	r := old.clone()
	delete(r.Services, svc)
	if err := m.save(ctx, r); err != nil {
		return err
	}
	m.names[long] = r
	return nil
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
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.ownedLocked(c, long, "delete it"); err != nil {
		return err
	}
	if err := m.drop(ctx, long); err != nil {
		return err
	}
	delete(m.names, long)
	return nil
}

// ---- resolution ----

func (m *Module) lookup(long string) *record {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.names[long]
}

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

// resolve finds a service's home directory by its stable id.
func (m *Module) resolve(ctx context.Context, long, svc string) (Resolved, error) {
	rec := m.lookup(long)
	if rec == nil {
		return Resolved{}, errNameNotFound(long)
	}
	s, ok := rec.Services[svc]
	if !ok {
		return Resolved{}, errServiceNotFound(long, svc)
	}
	root, p, info, err := m.store.LookupDir(ctx, s.Home)
	if errors.Is(err, vfs.ErrNotFound) {
		return Resolved{}, errDirGone(long, svc)
	}
	if err != nil {
		return Resolved{}, err
	}
	return Resolved{LongName: long, Service: svc, Owner: rec.Owner, Root: root, Path: p, Dir: info}, nil
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

// Names lists every registered long name with its services, sorted.
func (m *Module) Names(ctx context.Context) ([]NameInfo, error) {
	m.mu.RLock()
	recs := make([]*record, 0, len(m.names))
	for _, r := range m.names {
		recs = append(recs, r)
	}
	m.mu.RUnlock()
	sort.Slice(recs, func(i, j int) bool { return recs[i].LongName < recs[j].LongName })
	out := make([]NameInfo, 0, len(recs))
	for _, r := range recs {
		ni := NameInfo{LongName: r.LongName, Owner: r.Owner, Created: r.Created, Services: make([]ServiceInfo, 0, len(r.Services))}
		for name, s := range r.Services {
			si := ServiceInfo{Name: name, HomeID: s.Home, Root: s.Root, Added: s.Added}
			root, p, info, err := m.store.LookupDir(ctx, s.Home)
			switch {
			case errors.Is(err, vfs.ErrNotFound):
				si.Gone = true
			case err != nil:
				return nil, err
			default:
				si.Root, si.Path, si.Private = root.String(), p.String(), info.Private
			}
			ni.Services = append(ni.Services, si)
		}
		sort.Slice(ni.Services, func(i, j int) bool { return ni.Services[i].Name < ni.Services[j].Name })
		out = append(out, ni)
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
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names[long] == nil {
		return errNameNotFound(long)
	}
	if err := m.drop(ctx, long); err != nil {
		return err
	}
	delete(m.names, long)
	return nil
}
