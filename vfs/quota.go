package vfs

import (
	"context"
	"fmt"
)

// Quota bounds what an app (or SAFEDrive) holds. In Options a zero field
// takes the default's field and a negative one means no limit.
type Quota struct {
	Entries       int64 // directories and files (roots do not count)
	ContentBytes  int64 // bytes of file content
	MetadataBytes int64 // bytes of user metadata of directories and files
}

// Usage is what a root, an app or the store holds.
type Usage struct {
	Entries       int64 // directories and files (roots do not count)
	ContentBytes  int64 // bytes of file content
	MetadataBytes int64 // bytes of user metadata of directories and files
}

// Default quotas, for the fields of Options.AppQuota (each app: its private
// root and what it wrote in SAFEDrive together) and Options.SharedQuota
// (SAFEDrive as a whole) left 0.
const (
	DefaultAppEntries          = 1_000_000
	DefaultAppContentBytes     = 64 << 30
	DefaultAppMetadataBytes    = 256 << 20
	DefaultSharedEntries       = 4_000_000
	DefaultSharedContentBytes  = 256 << 30
	DefaultSharedMetadataBytes = 1 << 30
)

func (q Quota) withDefaults(d Quota) Quota {
	if q.Entries == 0 {
		q.Entries = d.Entries
	}
	if q.ContentBytes == 0 {
		q.ContentBytes = d.ContentBytes
	}
	if q.MetadataBytes == 0 {
		q.MetadataBytes = d.MetadataBytes
	}
	return q
}

// Quotas returns the quotas in force: each app's and SAFEDrive's (a
// negative field: no limit).
func (s *Store) Quotas() (app, shared Quota) { return s.appQuota, s.shared }

// amounts is a change of usage.
type amounts struct{ entries, content, meta int64 }

func (a amounts) neg() amounts { return amounts{-a.entries, -a.content, -a.meta} }

func (a amounts) grows() bool { return a.entries > 0 || a.content > 0 || a.meta > 0 }

// amounts is what the entry n counts for.
func (n *node) amounts() amounts { return amounts{1, n.size, n.metaLen} }

// account is a row of usage and the quotas it is checked against. App
// names are stored as keyed hashes (crypt.go: hideApp, hideRoot).
type account struct {
	root   string // usage.root: the root's stored key
	app    string // usage.app: the app charged in SAFEDrive (hidden), else ""
	quota  string // the app whose AppQuota applies (hidden); "" for none
	name   string // the app's name, for messages ("" if unknown)
	shared bool   // SharedQuota applies
}

// accountOf is the account of an entry of root r charged to owner (its
// stored, hidden form; used in SAFEDrive only); name is the owner's name
// in the clear if known, for messages.
func (t *Tx) accountOf(r Root, owner, name string) account {
	switch r.kind {
	case kindApp:
		return account{root: t.k.hideRoot(r), quota: t.k.hideApp(r.name), name: r.name}
	case kindShared:
		return account{root: t.k.hideRoot(r), app: owner, quota: owner, name: name, shared: true}
	}
	return account{root: t.k.hideRoot(r)}
}

// charge adds d to the account, first checking the quotas d grows against.
func (t *Tx) charge(a account, d amounts) error {
	if d == (amounts{}) {
		return nil
	}
	if d.grows() {
		if a.quota != "" {
			cur, err := t.appUsageHidden(a.quota)
			if err != nil {
				return err
			}
			if err := t.s.appQuota.check(fmt.Sprintf("app %q", a.name), cur, d); err != nil {
				return err
			}
		}
		if a.shared {
			cur, err := t.sumUsage(`SELECT coalesce(sum(entries), 0), coalesce(sum(content), 0), coalesce(sum(meta), 0) FROM usage WHERE root = 'shared'`)
			if err != nil {
				return err
			}
			if err := t.s.shared.check("SAFEDrive", cur, d); err != nil {
				return err
			}
		}
	}
	if _, err := t.exec(`INSERT INTO usage (root, app, entries, content, meta) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (root, app) DO UPDATE SET entries = entries + excluded.entries,
		content = content + excluded.content, meta = meta + excluded.meta`,
		a.root, a.app, d.entries, d.content, d.meta); err != nil {
		return dbErr("updating usage", err)
	}
	return nil
}

// move moves what n counts for from the account of its owner to the
// writer's, as a change through r that writes n's content or metadata does
// in SAFEDrive (old: what n counted for before the change; n.owner is set,
// for the caller to save). Elsewhere it charges the difference.
func (t *Tx) move(r Root, n *node, old amounts) error {
	n.metaLen = int64(len(n.meta))
	now := n.amounts()
	writer := t.k.hideApp(r.writer)
	if r.kind != kindShared || n.owner == writer {
		return t.charge(t.accountOf(r, writer, r.writer), amounts{now.entries - old.entries, now.content - old.content, now.meta - old.meta})
	}
	if err := t.charge(t.accountOf(r, n.owner, ""), old.neg()); err != nil {
		return err
	}
	if err := t.charge(t.accountOf(r, writer, r.writer), now); err != nil {
		return err
	}
	n.owner = writer
	return nil
}

func (q Quota) check(who string, cur Usage, d amounts) error {
	for _, f := range []struct {
		what        string
		cur, d, lim int64
	}{
		{"entries", cur.Entries, d.entries, q.Entries},
		{"bytes of content", cur.ContentBytes, d.content, q.ContentBytes},
		{"bytes of user metadata", cur.MetadataBytes, d.meta, q.MetadataBytes},
	} {
		if f.d > 0 && f.lim >= 0 && f.cur+f.d > f.lim {
			return &limitError{ErrQuota, fmt.Sprintf("%s would hold %d %s, its quota is %d (it holds %d)", who, f.cur+f.d, f.what, f.lim, f.cur)}
		}
	}
	return nil
}

func (t *Tx) sumUsage(q string, args ...any) (Usage, error) {
	row, err := t.queryRow(q, args...)
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	if err := row.Scan(&u.Entries, &u.ContentBytes, &u.MetadataBytes); err != nil {
		return Usage{}, dbErr("reading usage", err)
	}
	return u, nil
}

// appUsage is what app (by its root name) holds: its private root and what
// it wrote in SAFEDrive.
func (t *Tx) appUsage(app string) (Usage, error) { return t.appUsageHidden(t.k.hideApp(app)) }

// appUsageHidden is appUsage of the app stored as hidden (hideApp).
func (t *Tx) appUsageHidden(hidden string) (Usage, error) {
	return t.sumUsage(`SELECT coalesce(sum(entries), 0), coalesce(sum(content), 0), coalesce(sum(meta), 0) FROM usage
		WHERE (root = ? AND app = '') OR (root = 'shared' AND app = ?)`, "app:"+hidden, hidden)
}

// Usage returns what r holds: an AppRoot its private tree; SharedRoot all
// of SAFEDrive; SharedRootFor(x) what is charged to app x in SAFEDrive; a
// ReservedRoot its tree. It is kept in the database, updated by each change
// in the same transaction, so it is exact after a crash too. A root that
// does not exist is ErrNoRoot (SharedRootFor: if SAFEDrive does not).
func (s *Store) Usage(ctx context.Context, r Root) (Usage, error) {
	ks, kerr := s.begin()
	if kerr != nil {
		return Usage{}, kerr
	}
	defer s.end(ks)
	var u Usage
	err := s.view(ctx, ks, func(t *Tx) error {
		if _, err := t.rootID(r); err != nil {
			return err
		}
		var err error
		switch {
		case r.kind == kindShared && r.writer == "":
			u, err = t.sumUsage(`SELECT coalesce(sum(entries), 0), coalesce(sum(content), 0), coalesce(sum(meta), 0) FROM usage WHERE root = 'shared'`)
		default:
			u, err = t.sumUsage(`SELECT coalesce(sum(entries), 0), coalesce(sum(content), 0), coalesce(sum(meta), 0) FROM usage WHERE root = ? AND app = ?`,
				t.k.hideRoot(r), t.k.hideApp(r.writer))
		}
		return err
	})
	return u, err
}

// AppUsage returns what the app whose private root is AppRoot(appRootDir)
// holds, as its quota counts it: its private root and what it wrote in
// SAFEDrive. An app with no root and nothing in SAFEDrive holds nothing.
func (s *Store) AppUsage(ctx context.Context, appRootDir string) (Usage, error) {
	ks, kerr := s.begin()
	if kerr != nil {
		return Usage{}, kerr
	}
	defer s.end(ks)
	if err := ValidName(appRootDir); err != nil {
		return Usage{}, err
	}
	var u Usage
	err := s.view(ctx, ks, func(t *Tx) error {
		var err error
		u, err = t.appUsage(appRootDir)
		return err
	})
	return u, err
}

// Size is what the whole store holds.
type Size struct {
	Usage               // every root's entries, content and metadata
	DatabaseBytes int64 // the database file's size (pages in use and free)
}

// Size returns what the whole store holds (for `launcher status`).
func (s *Store) Size(ctx context.Context) (Size, error) {
	ks, kerr := s.begin()
	if kerr != nil {
		return Size{}, kerr
	}
	defer s.end(ks)
	var sz Size
	err := s.view(ctx, ks, func(t *Tx) error {
		var err error
		sz.Usage, err = t.sumUsage(`SELECT coalesce(sum(entries), 0), coalesce(sum(content), 0), coalesce(sum(meta), 0) FROM usage`)
		if err != nil {
			return err
		}
		var pages, pageSize int64
		if err := t.conn.c.QueryRowContext(t.ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
			return dbErr("reading the database size", err)
		}
		if err := t.conn.c.QueryRowContext(t.ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
			return dbErr("reading the database size", err)
		}
		sz.DatabaseBytes = pages * pageSize
		return nil
	})
	return sz, err
}
