package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The property test: random sequences of store operations, decoded from the
// fuzzer's bytes, run against the store and against mstate, a plain
// in-memory model of what the store must hold. After each operation the
// outcome (which sentinel, or none) must be the model's; every few
// operations, after reopens and at the end, the whole store (tree, content,
// metadata, IDs, usage) must be the model's.

// mentry is what the model holds at a path.
type mentry struct {
	dir     bool
	content []byte
	meta    []byte
	owner   string // SAFEDrive: the app charged
	id      ID     // learnt from the store when created
}

// mroot is one tree of the model: paths ("/"-joined) to entries.
type mroot map[string]*mentry

// mstate is the whole model: root key -> tree.
type mstate struct {
	roots map[string]mroot
	opts  Options
}

// modelApps are the apps of the test: each has a private root; both write
// SAFEDrive through SharedRootFor.
var modelNames = []string{"a", "b", "c", "é", "Z"}

func modelOpts() Options {
	return Options{
		MaxMetadata: 24, MaxFileSize: 300, MaxEntries: 5, MaxDepth: 4,
		AppQuota:    Quota{Entries: 14, ContentBytes: 700, MetadataBytes: 90},
		SharedQuota: Quota{Entries: 12, ContentBytes: 500, MetadataBytes: 60},
	}
}

// account is what the model charges an entry of root key k to.
func (m *mstate) usageOfApp(app string) Usage {
	var u Usage
	add := func(e *mentry) {
		u.Entries++
		u.ContentBytes += int64(len(e.content))
		u.MetadataBytes += int64(len(e.meta))
	}
	for _, e := range m.roots["app:"+app] {
		add(e)
	}
	for _, e := range m.roots["shared"] {
		if e.owner == app {
			add(e)
		}
	}
	return u
}

func (m *mstate) usageOf(key, owner string, all bool) Usage {
	var u Usage
	for _, e := range m.roots[key] {
		if all || e.owner == owner {
			u.Entries++
			u.ContentBytes += int64(len(e.content))
			u.MetadataBytes += int64(len(e.meta))
		}
	}
	return u
}

// charge mirrors the store's quota rule for a change through r that makes
// entry e (nil: none before) become after (nil: gone): the entry moves to
// the writer's account when its content or metadata is written.
func (m *mstate) quotaErr(r Root, before, after *mentry, written bool) error {
	amt := func(e *mentry) amounts {
		if e == nil {
			return amounts{}
		}
		return amounts{1, int64(len(e.content)), int64(len(e.meta))}
	}
	check := func(app string, shared bool, credit amounts, creditApp string, d amounts) error {
		if !d.grows() {
			return nil
		}
		sub := func(u Usage, a amounts) Usage {
			return Usage{u.Entries - a.entries, u.ContentBytes - a.content, u.MetadataBytes - a.meta}
		}
		if app != "" {
			u := m.usageOfApp(app)
			if creditApp == app {
				u = sub(u, credit)
			}
			if m.opts.AppQuota.check("app", u, d) != nil {
				return ErrQuota
			}
		}
		if shared {
			u := sub(m.usageOf("shared", "", true), credit)
			if m.opts.SharedQuota.check("drive", u, d) != nil {
				return ErrQuota
			}
		}
		return nil
	}
	switch r.kind {
	case kindApp:
		b, a := amt(before), amt(after)
		return check(r.name, false, amounts{}, "", amounts{a.entries - b.entries, a.content - b.content, a.meta - b.meta})
	case kindShared:
		owner := r.writer
		if before != nil && !written {
			owner = before.owner
		}
		if before == nil || before.owner == owner {
			b, a := amt(before), amt(after)
			return check(owner, true, amounts{}, "", amounts{a.entries - b.entries, a.content - b.content, a.meta - b.meta})
		}
		return check(owner, true, amt(before), before.owner, amt(after))
	}
	return nil
}

func splitKey(k string) Path {
	if k == "" {
		return nil
	}
	return strings.Split(k, "/")
}

func joinKey(p Path) string { return strings.Join(p, "/") }

// children lists the direct children keys of dir in t.
func (t mroot) children(dir string) []string {
	var out []string
	for k := range t {
		if parentKey(k) == dir {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func parentKey(k string) string {
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[:i]
	}
	return ""
}

// walkErr is the error the store gives walking p's directories in t ("" is
// the root): nil, ErrNotFound or ErrNotDir.
func (t mroot) walkErr(p Path) error {
	for i := range p {
		e := t[joinKey(p[:i+1])]
		if e == nil {
			return ErrNotFound
		}
		if !e.dir {
			return ErrNotDir
		}
	}
	return nil
}

func (t mroot) height(k string) int {
	h := 0
	for q, e := range t {
		if e.dir && strings.HasPrefix(q, k+"/") {
			h = max(h, strings.Count(q[len(k):], "/"))
		}
	}
	return h
}

// moveTree renames every key at or below from to start with to.
func (t mroot) moveTree(from, to string) {
	moved := map[string]*mentry{}
	for q, e := range t {
		if q == from || strings.HasPrefix(q, from+"/") {
			moved[to+q[len(from):]] = e
			delete(t, q)
		}
	}
	for q, e := range moved {
		t[q] = e
	}
}

// modelRun decodes ops from data and runs them.
type modelRun struct {
	t      *testing.T
	s      *Store
	reopen func() *Store
	m      *mstate
	data   []byte
	ok     int
}

func (r *modelRun) next() int {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return int(b)
}

func (r *modelRun) pickRoot() (Root, mroot) {
	switch r.next() % 4 {
	case 0:
		return AppRoot("a"), r.m.roots["app:a"]
	case 1:
		return AppRoot("b"), r.m.roots["app:b"]
	case 2:
		return SharedRootFor("a"), r.m.roots["shared"]
	}
	return SharedRootFor("b"), r.m.roots["shared"]
}

// pickDir returns an existing directory of t ("" the root) or, now and
// then, a path that is not one.
func (r *modelRun) pickDir(t mroot) string {
	dirs := []string{""}
	for k, e := range t {
		if e.dir {
			dirs = append(dirs, k)
		}
	}
	sort.Strings(dirs)
	d := dirs[r.next()%len(dirs)]
	if r.next()%8 == 0 {
		d = strings.TrimPrefix(d+"/"+modelNames[r.next()%len(modelNames)], "/")
	}
	return d
}

// pickEntry returns an existing path of t (any kind) or a made-up one.
func (r *modelRun) pickEntry(t mroot) string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 || r.next()%6 == 0 {
		return strings.TrimPrefix(r.pickDir(t)+"/"+modelNames[r.next()%len(modelNames)], "/")
	}
	return keys[r.next()%len(keys)]
}

func (r *modelRun) bytes(max int) []byte {
	n := r.next() % (max + 1)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + r.next()%26)
	}
	return b
}

// expect compares an outcome with the model's.
func (r *modelRun) expect(step int, what string, got, want error) bool {
	r.t.Helper()
	if want == nil {
		if got != nil {
			r.t.Fatalf("step %d %s: %v, the model expected success", step, what, got)
		}
		r.ok++
		return true
	}
	if !errors.Is(got, want) {
		r.t.Fatalf("step %d %s: %v, the model expected %v", step, what, got, want)
	}
	return false
}

func (r *modelRun) step(step int) {
	o := r.m.opts
	root, t := r.pickRoot()
	switch op := r.next() % 16; op {
	case 0, 1: // create a directory or a file
		dir := r.pickDir(t)
		name := modelNames[r.next()%len(modelNames)]
		k := strings.TrimPrefix(dir+"/"+name, "/")
		p := splitKey(k)
		meta := r.bytes(30)
		e := &mentry{dir: op == 0, meta: meta, content: []byte{}, owner: ownerFor(root)}
		var want error
		switch {
		case len(p) > o.MaxDepth || len(meta) > o.MaxMetadata:
			want = ErrTooLarge
		case t.walkErr(p[:len(p)-1]) != nil:
			want = t.walkErr(p[:len(p)-1])
		case t[k] != nil:
			want = ErrExists
		case len(t.children(dir)) >= o.MaxEntries:
			want = ErrTooLarge
		default:
			want = r.m.quotaErr(root, nil, e, true)
		}
		var err error
		var id ID
		if op == 0 {
			var d DirInfo
			d, err = r.s.CreateDir(bg, root, p, false, r.next()%2 == 0, meta)
			id = d.ID
		} else {
			var f FileInfo
			f, err = r.s.CreateFile(bg, root, p, meta)
			id = f.ID
		}
		if r.expect(step, fmt.Sprintf("create %s %q", root, k), err, want) {
			e.id = id
			t[k] = e
		}
	case 2, 3, 4, 5: // modify a file: content (whole, at an offset), metadata, name
		k := r.pickEntry(t)
		p := splitKey(k)
		e := t[k]
		var ch FileChange
		after := &mentry{}
		if e != nil {
			*after = *e
		}
		written := false
		switch op {
		case 2:
			b := r.bytes(200)
			ch.Content = &Content{Bytes: b}
			after.content, written = b, true
		case 3:
			b := r.bytes(120)
			off := int64(r.next() * 2)
			if e != nil && r.next()%2 == 0 {
				off = int64(len(e.content)) // an append
			}
			ch.Content = &Content{Offset: &off, Bytes: b}
			written = true
			if e != nil && !e.dir && off <= int64(len(e.content)) {
				c := append([]byte{}, e.content[:off]...)
				c = append(c, b...)
				if end := off + int64(len(b)); end < int64(len(e.content)) {
					c = append(c, e.content[end:]...)
				}
				after.content = c
			}
		case 4:
			b := r.bytes(30)
			ch.UserMetadata = &b
			after.meta, written = b, true
		case 5:
			ch.Name = &modelNames[r.next()%len(modelNames)]
		}
		if written {
			after.owner = ownerFor(root)
		}
		var want error
		newKey := k
		if ch.Name != nil {
			newKey = strings.TrimPrefix(parentKey(k)+"/"+*ch.Name, "/")
		}
		switch {
		case len(p) > o.MaxDepth:
			want = ErrTooLarge
		case ch.UserMetadata != nil && len(*ch.UserMetadata) > o.MaxMetadata:
			want = ErrTooLarge
		case ch.Content != nil && int64(len(ch.Content.Bytes)) > o.MaxFileSize:
			want = ErrTooLarge
		case t.walkErr(p[:len(p)-1]) != nil:
			want = t.walkErr(p[:len(p)-1])
		case e == nil:
			want = ErrNotFound
		case e.dir:
			want = ErrNotFile
		case ch.Content != nil && ch.Content.Offset != nil && *ch.Content.Offset > int64(len(e.content)):
			want = ErrOutOfRange
		case int64(len(after.content)) > o.MaxFileSize:
			want = ErrTooLarge
		case newKey != k && t[newKey] != nil:
			want = ErrExists
		default:
			want = r.m.quotaErr(root, e, after, written)
		}
		_, err := r.s.ModifyFile(bg, root, p, ch)
		if r.expect(step, fmt.Sprintf("modify file %s %q %+v", root, k, ch), err, want) {
			if newKey != k {
				delete(t, k)
			}
			if !written {
				after.owner = e.owner
			}
			t[newKey] = after
		}
	case 6, 7: // modify a directory: name, metadata
		k := r.pickDir(t)
		p := splitKey(k)
		e := t[k]
		var ch DirChange
		after := &mentry{dir: true}
		if e != nil {
			*after = *e
		}
		written := false
		if op == 6 {
			ch.Name = &modelNames[r.next()%len(modelNames)]
		} else {
			b := r.bytes(30)
			ch.UserMetadata = &b
			after.meta, written = b, true
			after.owner = ownerFor(root)
		}
		newKey := k
		if ch.Name != nil && k != "" {
			newKey = strings.TrimPrefix(parentKey(k)+"/"+*ch.Name, "/")
		}
		var want error
		switch {
		case len(p) > o.MaxDepth:
			want = ErrTooLarge
		case ch.Name != nil && k == "":
			want = ErrIsRoot
		case ch.UserMetadata != nil && len(*ch.UserMetadata) > o.MaxMetadata:
			want = ErrTooLarge
		case t.walkErr(p) != nil:
			want = t.walkErr(p)
		case newKey != k && t[newKey] != nil:
			want = ErrExists
		case k != "" && written:
			want = r.m.quotaErr(root, e, after, true)
		}
		_, err := r.s.ModifyDir(bg, root, p, ch)
		if r.expect(step, fmt.Sprintf("modify dir %s %q %+v", root, k, ch), err, want) && k != "" {
			if written {
				t[k] = after
			}
			if newKey != k {
				t.moveTree(k, newKey)
			}
		}
	case 8: // move a directory
		k := r.pickDir(t)
		to := r.pickDir(t)
		from, toP := splitKey(k), splitKey(to)
		var want error
		switch {
		case len(from) > o.MaxDepth:
			want = ErrTooLarge
		case k == "":
			want = ErrIsRoot
		case len(toP) > o.MaxDepth:
			want = ErrTooLarge
		case t.walkErr(from) != nil:
			want = t.walkErr(from)
		case t.walkErr(toP) != nil:
			want = t.walkErr(toP)
		case to == k || strings.HasPrefix(to, k+"/"):
			want = ErrInvalidPath
		case parentKey(k) == to:
		case t[strings.TrimPrefix(to+"/"+from[len(from)-1], "/")] != nil:
			want = ErrExists
		case len(t.children(to)) >= o.MaxEntries:
			want = ErrTooLarge
		case len(toP)+1+t.height(k) > o.MaxDepth:
			want = ErrTooLarge
		}
		_, err := r.s.MoveDir(bg, root, from, toP)
		if r.expect(step, fmt.Sprintf("move %s %q to %q", root, k, to), err, want) {
			t.moveTree(k, strings.TrimPrefix(to+"/"+from[len(from)-1], "/"))
		}
	case 9: // delete a file
		k := r.pickEntry(t)
		p := splitKey(k)
		var want error
		switch e := t[k]; {
		case len(p) > o.MaxDepth:
			want = ErrTooLarge
		case t.walkErr(p[:len(p)-1]) != nil:
			want = t.walkErr(p[:len(p)-1])
		case e == nil:
			want = ErrNotFound
		case e.dir:
			want = ErrNotFile
		}
		if r.expect(step, fmt.Sprintf("delete file %s %q", root, k), r.s.DeleteFile(bg, root, p), want) {
			delete(t, k)
		}
	case 10: // delete a directory
		k := r.pickDir(t)
		p := splitKey(k)
		var want error
		switch {
		case len(p) > o.MaxDepth:
			want = ErrTooLarge
		case k == "":
			want = ErrIsRoot
		case t.walkErr(p) != nil:
			want = t.walkErr(p)
		}
		if r.expect(step, fmt.Sprintf("delete dir %s %q", root, k), r.s.DeleteDir(bg, root, p), want) {
			for q := range t {
				if q == k || strings.HasPrefix(q, k+"/") {
					delete(t, q)
				}
			}
		}
	case 11: // an Update with two changes, the second failing, then more
		dir := r.pickDir(t)
		if t.walkErr(splitKey(dir)) != nil || len(t.children(dir)) >= o.MaxEntries-1 {
			return
		}
		var free []string
		for _, n := range modelNames {
			if t[strings.TrimPrefix(dir+"/"+n, "/")] == nil {
				free = append(free, n)
			}
		}
		if len(free) == 0 {
			return
		}
		k := strings.TrimPrefix(dir+"/"+free[0], "/")
		e := &mentry{content: []byte("tx"), meta: []byte{}, owner: ownerFor(root)}
		if r.m.quotaErr(root, nil, e, true) != nil || len(splitKey(k)) > o.MaxDepth {
			return
		}
		err := r.s.Update(bg, func(tx *Tx) error {
			f, err := tx.CreateFile(root, splitKey(k), nil)
			if err != nil {
				return err
			}
			e.id = f.ID
			if _, err := tx.ModifyFile(root, splitKey(k), FileChange{Content: &Content{Bytes: []byte("tx")}}); err != nil {
				return err
			}
			// Fails (too large): must leave the file as it is.
			if _, err := tx.ModifyFile(root, splitKey(k), FileChange{Content: &Content{Bytes: make([]byte, o.MaxFileSize+1)}}); !errors.Is(err, ErrTooLarge) {
				return fmt.Errorf("oversized write in a transaction: %v", err)
			}
			// Fails (exists): must change nothing.
			if _, err := tx.CreateFile(root, splitKey(k), nil); !errors.Is(err, ErrExists) {
				return fmt.Errorf("second create in a transaction: %v", err)
			}
			if r.next()%3 == 0 {
				return errRollback
			}
			return nil
		})
		if errors.Is(err, errRollback) {
			return
		}
		if err != nil {
			r.t.Fatalf("step %d update: %v", step, err)
		}
		t[k] = e
		r.ok++
	case 12:
		r.s.Close()
		r.s = r.reopen()
		r.check(step)
	default: // reads
		r.checkRead(step, root, t)
	}
}

var errRollback = errors.New("roll back")

// checkRead compares a listing or a file with the model.
func (r *modelRun) checkRead(step int, root Root, t mroot) {
	if r.next()%2 == 0 {
		k := r.pickDir(t)
		want := t.walkErr(splitKey(k))
		if len(splitKey(k)) > r.m.opts.MaxDepth {
			want = ErrTooLarge
		}
		l, err := r.s.GetDir(bg, root, splitKey(k))
		if !r.expect(step, fmt.Sprintf("get dir %s %q", root, k), err, want) {
			return
		}
		var got []string
		for _, d := range l.Dirs {
			got = append(got, fmt.Sprintf("D %s %x %s", d.Name, d.UserMetadata, d.ID))
		}
		for _, f := range l.Files {
			got = append(got, fmt.Sprintf("F %s %d %x %s", f.Name, f.Size, f.UserMetadata, f.ID))
		}
		var dirs, files []string
		for _, c := range t.children(k) {
			e := t[c]
			name := c[strings.LastIndexByte(c, '/')+1:]
			if e.dir {
				dirs = append(dirs, fmt.Sprintf("D %s %x %s", name, e.meta, e.id))
			} else {
				files = append(files, fmt.Sprintf("F %s %d %x %s", name, len(e.content), e.meta, e.id))
			}
		}
		wantList := append(dirs, files...)
		if !slices.Equal(got, wantList) {
			r.t.Fatalf("step %d: %s %q lists\n%s\nthe model\n%s", step, root, k, strings.Join(got, "\n"), strings.Join(wantList, "\n"))
		}
		return
	}
	k := r.pickEntry(t)
	p := splitKey(k)
	e := t[k]
	var want error
	switch {
	case len(p) > r.m.opts.MaxDepth:
		want = ErrTooLarge
	case t.walkErr(p[:len(p)-1]) != nil:
		want = t.walkErr(p[:len(p)-1])
	case e == nil:
		want = ErrNotFound
	case e.dir:
		want = ErrNotFile
	}
	b, fi, err := r.s.ReadFile(bg, root, p, 0, -1)
	if r.expect(step, fmt.Sprintf("read %s %q", root, k), err, want) && (!bytes.Equal(b, e.content) || !bytes.Equal(fi.UserMetadata, e.meta) || fi.ID != e.id) {
		r.t.Fatalf("step %d: %s %q reads %q meta %q id %s, the model %q meta %q id %s", step, root, k, b, fi.UserMetadata, fi.ID, e.content, e.meta, e.id)
	}
}

// check compares the whole store with the model: every tree, every
// directory's ID found by LookupDir, and the usage of every account.
func (r *modelRun) check(step int) {
	for key, t := range r.m.roots {
		root, _ := parseRootKey(key)
		got := map[string]string{}
		var walk func(p Path)
		walk = func(p Path) {
			l, err := r.s.GetDir(bg, root, p)
			if err != nil {
				r.t.Fatalf("step %d: GetDir %s %s: %v", step, root, p, err)
			}
			for _, d := range l.Dirs {
				q := append(append(Path{}, p...), d.Name)
				got[joinKey(q)] = fmt.Sprintf("D %x %s", d.UserMetadata, d.ID)
				rr, rp, _, err := r.s.LookupDir(bg, d.ID)
				if err != nil || rr.String() != key || joinKey(rp) != joinKey(q) {
					r.t.Fatalf("step %d: LookupDir %s = %s %s %v, want %s %s", step, d.ID, rr, rp, err, key, q)
				}
				walk(q)
			}
			for _, f := range l.Files {
				q := append(append(Path{}, p...), f.Name)
				b, _, err := r.s.ReadFile(bg, root, q, 0, -1)
				if err != nil {
					r.t.Fatalf("step %d: ReadFile %s %s: %v", step, root, q, err)
				}
				got[joinKey(q)] = fmt.Sprintf("F %q %x %s", b, f.UserMetadata, f.ID)
			}
		}
		walk(nil)
		want := map[string]string{}
		for k, e := range t {
			if e.dir {
				want[k] = fmt.Sprintf("D %x %s", e.meta, e.id)
			} else {
				want[k] = fmt.Sprintf("F %q %x %s", e.content, e.meta, e.id)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			r.t.Fatalf("step %d: root %s holds\n%v\nthe model\n%v", step, key, got, want)
		}
	}
	for _, app := range []string{"a", "b"} {
		if u, err := r.s.AppUsage(bg, app); err != nil || u != r.m.usageOfApp(app) {
			r.t.Fatalf("step %d: usage of app %s %+v %v, the model %+v", step, app, u, err, r.m.usageOfApp(app))
		}
		if u, err := r.s.Usage(bg, SharedRootFor(app)); err != nil || u != r.m.usageOf("shared", app, false) {
			r.t.Fatalf("step %d: SAFEDrive usage of app %s %+v %v, the model %+v", step, app, u, err, r.m.usageOf("shared", app, false))
		}
	}
	if u, err := r.s.Usage(bg, SharedRoot()); err != nil || u != r.m.usageOf("shared", "", true) {
		r.t.Fatalf("step %d: SAFEDrive usage %+v %v, the model %+v", step, u, err, r.m.usageOf("shared", "", true))
	}
}

// runModel runs the ops of data on a fresh store and returns how many
// succeeded.
func runModel(t *testing.T, data []byte) int {
	fsys, _ := memBackend.make(t)
	m := &mstate{roots: map[string]mroot{"app:a": {}, "app:b": {}, "shared": {}}, opts: modelOpts()}
	open := func() *Store { return openT(t, fsys, m.opts) }
	r := &modelRun{t: t, s: open(), reopen: open, m: m, data: data}
	for _, root := range []Root{AppRoot("a"), AppRoot("b"), SharedRoot()} {
		must[DirInfo](t)(r.s.CreateRoot(root))
	}
	for i := 0; len(r.data) > 0 && i < 300; i++ {
		r.step(i)
		if i%16 == 15 {
			r.check(i)
		}
	}
	r.check(-1)
	if err := r.s.Sync(); err != nil {
		t.Fatal(err)
	}
	checkBlobs(t, r.s, fsys)
	return r.ok
}

// FuzzModel drives random sequences of operations, on two apps' roots and
// SAFEDrive with small limits and quotas, against the in-memory model.
func FuzzModel(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		b := make([]byte, 400)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) { runModel(t, data) })
}

// TestModel runs the model on fixed random sequences (the fuzz target's
// seeds run too, under go test).
func TestModel(t *testing.T) {
	n := 24
	if testing.Short() {
		n = 6
	}
	total := 0
	for seed := range n {
		rng := rand.New(rand.NewPCG(uint64(seed), 99))
		b := make([]byte, 1200)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		total += runModel(t, b)
	}
	if total < 20*n {
		t.Fatalf("only %d operations succeeded in %d runs: the sequences test little", total, n)
	}
	t.Logf("%d operations succeeded", total)
}
