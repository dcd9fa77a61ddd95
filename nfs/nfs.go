// Package nfs is the launcher's nfs module: the eight RFC requests on
// directories and files (create-dir, delete-dir, get-dir, modify-dir,
// create-file, delete-file, get-file, modify-file), decoded strictly from the
// wire and carried out on the vfs store.
//
// The module owns the choice of root for each request: the app's private root,
// or the user's SAFEDrive when is_path_shared is true and the app holds that
// grant at the moment of the request. It owns nothing else: names, limits,
// durability and confinement are the store's.
package nfs

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// Module serves the nfs requests.
type Module struct {
	store  *vfs.Store
	notify route.Notifier
}

// New returns the nfs module over store. The store must already hold the
// SAFEDrive root and each registered app's root.
func New(store *vfs.Store) *Module { return &Module{store: store} }

// Register adds the eight requests, from v1.0 on.
func (m *Module) Register(t *route.Table) {
	m.notify = t.Notifier()
	t.Handle("nfs", "create-dir", wire.V1_0, route.Typed(m.createDir))
	t.Handle("nfs", "delete-dir", wire.V1_0, route.Typed(m.deleteDir))
	t.Handle("nfs", "get-dir", wire.V1_0, route.Typed(m.getDir))
	t.Handle("nfs", "modify-dir", wire.V1_0, route.Typed(m.modifyDir))
	t.Handle("nfs", "create-file", wire.V1_0, route.Typed(m.createFile))
	t.Handle("nfs", "delete-file", wire.V1_0, route.Typed(m.deleteFile))
	t.Handle("nfs", "get-file", wire.V1_0, route.Typed(m.getFile))
	t.Handle("nfs", "modify-file", wire.V1_0, m.modifyFile)
}

// RootFor returns the root a request may use: SAFEDrive when shared is true and
// the caller holds the grant now, else the caller's private root. It is
// exported for the dns module, which resolves home directories the same way.
func RootFor(c route.Caller, shared bool) (vfs.Root, error) {
	if !shared {
		return vfs.AppRoot(c.RootDir()), nil
	}
	if !c.SharedAllowed() {
		return vfs.Root{}, wire.Errorf(wire.CodeSharedDenied, "this app has no access to SAFEDrive (is_path_shared is true); the user can grant it")
	}
	// SAFEDrive, as written by this app: what it writes there counts
	// against its quota as well as the drive's.
	return vfs.SharedRootFor(c.RootDir()), nil
}

// target decodes the root and path of a request.
func target(c route.Caller, shared bool, field, p string) (vfs.Root, vfs.Path, error) {
	root, err := RootFor(c, shared)
	if err != nil {
		return root, nil, err
	}
	path, err := vfs.ParsePath(p)
	if err != nil {
		return root, nil, wire.Errorf(wire.CodeInvalidPath, "field %q: %s", "data."+field, describe(err))
	}
	return root, path, nil
}

// named is target for a request that acts on a name below the root: an empty
// path (the root itself) is refused.
func named(c route.Caller, shared bool, field, p string) (vfs.Root, vfs.Path, error) {
	root, path, err := target(c, shared, field, p)
	if err == nil && len(path) == 0 {
		err = wire.Errorf(wire.CodeRootOperation, "field %q names the root itself; this request needs a name below it", "data."+field)
	}
	return root, path, err
}

// changed tells the watches of a change made by c; rename, if not nil, is an
// entry's new name.
func (m *Module) changed(c route.Caller, root vfs.Root, p vfs.Path, kind string, isDir bool, rename *string) {
	ch := route.Change{Shared: root.IsShared(), Kind: kind, Path: strings.Join(p, "/"), IsDir: isDir}
	if !ch.Shared {
		ch.RootDir = c.RootDir()
	}
	if rename != nil {
		ch.Kind = wire.EventRenamed
		np := append(slices.Clone(p[:len(p)-1]), *rename)
		ch.NewPath = strings.Join(np, "/")
	}
	m.notify.Notify(c, ch)
}

func (m *Module) createDir(ctx context.Context, c route.Caller, r *wire.CreateDirRequest) (route.Result, error) {
	root, p, err := named(c, r.IsPathShared, "dir_path", r.DirPath)
	if err != nil {
		return route.Result{}, err
	}
	return changeThen(ctx, func(ctx context.Context) error {
		_, err := m.store.CreateDir(ctx, root, p, r.IsPrivate, r.IsVersioned, r.UserMetadata)
		return err
	}, func() { m.changed(c, root, p, wire.EventCreated, true, nil) })
}

func (m *Module) deleteDir(ctx context.Context, c route.Caller, r *wire.DirRequest) (route.Result, error) {
	root, p, err := named(c, r.IsPathShared, "dir_path", r.DirPath)
	if err != nil {
		return route.Result{}, err
	}
	return changeThen(ctx, func(ctx context.Context) error { return m.store.DeleteDir(ctx, root, p) },
		func() { m.changed(c, root, p, wire.EventDeleted, true, nil) })
}

// MaxTimeout is the longest timeout_ms honoured; larger values are clamped to
// it (a value of 9,223,372,036,855 ms or more would otherwise overflow a
// time.Duration into an immediate timeout).
const MaxTimeout = 24 * time.Hour

// Timeout returns the timeout a request's timeout_ms asks for: none for 0 or
// less (wire-notes: "timeout_ms <= 0 means no timeout"), else at most MaxTimeout.
func Timeout(ms int64) (time.Duration, bool) {
	if ms <= 0 {
		return 0, false
	}
	if ms >= int64(MaxTimeout/time.Millisecond) {
		return MaxTimeout, true
	}
	return time.Duration(ms) * time.Millisecond, true
}

func (m *Module) getDir(ctx context.Context, c route.Caller, r *wire.GetDirRequest) (route.Result, error) {
	root, p, err := target(c, r.IsPathShared, "dir_path", r.DirPath)
	if err != nil {
		return route.Result{}, err
	}
	if d, ok := Timeout(r.TimeoutMs); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	l, err := m.store.GetDir(ctx, root, p)
	if err != nil {
		return route.Result{}, StoreError(err)
	}
	return route.Answer(Listing(l)), nil
}

// Listing converts a store listing to its wire form (lists never null).
func Listing(l vfs.Listing) *wire.GetDirResponse {
	out := &wire.GetDirResponse{
		Info:           dirInfo(l.Info),
		SubDirectories: make([]wire.DirInfo, 0, len(l.Dirs)),
		Files:          make([]wire.FileInfo, 0, len(l.Files)),
	}
	for _, d := range l.Dirs {
		out.SubDirectories = append(out.SubDirectories, dirInfo(d))
	}
	for _, f := range l.Files {
		out.Files = append(out.Files, FileInfo(f))
	}
	return out
}

func dirInfo(d vfs.DirInfo) wire.DirInfo {
	return wire.DirInfo{
		Name: d.Name, Times: wire.MakeTimes(d.Created, d.Modified),
		IsPrivate: d.Private, IsVersioned: d.Versioned, UserMetadata: d.UserMetadata,
	}
}

// FileInfo converts a store file description to its wire form.
func FileInfo(f vfs.FileInfo) wire.FileInfo {
	return wire.FileInfo{Name: f.Name, Size: f.Size, Times: wire.MakeTimes(f.Created, f.Modified), UserMetadata: f.UserMetadata}
}

func (m *Module) modifyDir(ctx context.Context, c route.Caller, r *wire.ModifyDirRequest) (route.Result, error) {
	if r.NewValues.Name == nil && r.NewValues.UserMetadata == nil {
		return route.Result{}, wire.Errorf(wire.CodeNoNewValues, "field %q has no value to change (name, user_metadata)", "data.new_values")
	}
	root, p, err := target(c, r.IsPathShared, "dir_path", r.DirPath)
	if err != nil {
		return route.Result{}, err
	}
	ch := vfs.DirChange{Name: r.NewValues.Name}
	if r.NewValues.UserMetadata != nil {
		b := []byte(*r.NewValues.UserMetadata)
		ch.UserMetadata = &b
	}
	return changeThen(ctx, func(ctx context.Context) error {
		_, err := m.store.ModifyDir(ctx, root, p, ch)
		return err
	}, func() { m.modified(c, root, p, true, ch.Name, ch.UserMetadata != nil) })
}

func (m *Module) createFile(ctx context.Context, c route.Caller, r *wire.CreateFileRequest) (route.Result, error) {
	root, p, err := named(c, r.IsPathShared, "file_path", r.FilePath)
	if err != nil {
		return route.Result{}, err
	}
	return changeThen(ctx, func(ctx context.Context) error {
		_, err := m.store.CreateFile(ctx, root, p, r.UserMetadata)
		return err
	}, func() { m.changed(c, root, p, wire.EventCreated, false, nil) })
}

func (m *Module) deleteFile(ctx context.Context, c route.Caller, r *wire.FileRequest) (route.Result, error) {
	root, p, err := named(c, r.IsPathShared, "file_path", r.FilePath)
	if err != nil {
		return route.Result{}, err
	}
	return changeThen(ctx, func(ctx context.Context) error { return m.store.DeleteFile(ctx, root, p) },
		func() { m.changed(c, root, p, wire.EventDeleted, false, nil) })
}

func (m *Module) getFile(ctx context.Context, c route.Caller, r *wire.GetFileRequest) (route.Result, error) {
	root, p, err := named(c, r.IsPathShared, "file_path", r.FilePath)
	if err != nil {
		return route.Result{}, err
	}
	a, err := ReadFile(ctx, m.store, root, p, r.Offset, r.Length, r.IncludeMetadata)
	if err != nil {
		return route.Result{}, err
	}
	return route.Answer(a), nil
}

// modified tells the watches of a modify-dir or modify-file: renamed (to
// the new name) and then modified (at the new path) when the content or
// metadata changed too.
func (m *Module) modified(c route.Caller, root vfs.Root, p vfs.Path, isDir bool, name *string, changed bool) {
	if name != nil && *name != p[len(p)-1] {
		m.changed(c, root, p, "", isDir, name)
		p = append(slices.Clone(p[:len(p)-1]), *name)
	}
	if changed {
		m.changed(c, root, p, wire.EventModified, isDir, nil)
	}
}

// ReadFile opens a file's range as a get-file answer. The content is streamed
// into the answer as it is encoded, so the daemon never holds the file beside
// its encoding; the daemon checks the answer's size against its limits before
// encoding it. The answer must be encoded or closed. It is shared with the dns
// module.
func ReadFile(ctx context.Context, store *vfs.Store, root vfs.Root, p vfs.Path, offset, length int64, withMeta bool) (*wire.GetFileStream, error) {
	content, n, info, err := store.OpenContent(ctx, root, p, offset, length)
	if err != nil {
		return nil, StoreError(err)
	}
	out := &wire.GetFileStream{Content: storeErrReader{content}, Size: n}
	if withMeta {
		fi := FileInfo(info)
		out.Metadata = &fi
	}
	return out, nil
}

func (m *Module) modifyFile(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
	var r wire.ModifyFileRequest
	// The request's buffer is this handler's alone: the content is decoded in
	// place rather than into a second buffer of its size.
	if err := wire.DecodeOwned(data, &r); err != nil {
		return route.Result{}, err
	}
	nv := r.NewValues
	if nv.Name == nil && nv.UserMetadata == nil && nv.Content == nil {
		return route.Result{}, wire.Errorf(wire.CodeNoNewValues, "field %q has no value to change (name, content, user_metadata)", "data.new_values")
	}
	root, p, err := named(c, r.IsPathShared, "file_path", r.FilePath)
	if err != nil {
		return route.Result{}, err
	}
	ch := vfs.FileChange{Name: nv.Name}
	if nv.UserMetadata != nil {
		b := []byte(*nv.UserMetadata)
		ch.UserMetadata = &b
	}
	if nv.Content != nil {
		ch.Content = &vfs.Content{Offset: nv.Content.Offset, Bytes: nv.Content.Bytes}
	}
	return changeThen(ctx, func(ctx context.Context) error {
		_, err := m.store.ModifyFile(ctx, root, p, ch)
		return err
	}, func() { m.modified(c, root, p, false, ch.Name, ch.UserMetadata != nil || ch.Content != nil) })
}

// storeErrReader gives the errors of a content stream their wire codes
// (StoreError): content that fails its integrity check while it is read
// answers CodeIntegrity, not an internal error.
type storeErrReader struct{ io.ReadCloser }

func (r storeErrReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	if err != nil && err != io.EOF {
		err = StoreError(err)
	}
	return n, err
}
