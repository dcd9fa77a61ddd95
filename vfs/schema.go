package vfs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SchemaVersion is the version of the store's own tables (the "vfs" row of
// schema_version). Open refuses a database whose vfs version is newer than
// this, and older ones with ErrOldFormat: version 1 (the store before
// encryption at rest, data in the clear) and version 2 (content chunks
// sealed with a last-chunk flag, which appends in place cannot keep); it
// creates the tables in an empty database.
const SchemaVersion = 3

// schema is the store's part of the database. The comments are the
// reference for docs/vfs.md.
//
//   - nodes: one row per root, directory and file. id is internal (other
//     rows point at it); uid is the stable ID the API shows (16 random
//     bytes, 32 hex characters; indexed, unique, for directories, which
//     LookupDir finds by it). parent is NULL for a root. name_key is
//     what a name is looked up by in its parent: a keyed hash of (parent,
//     name) (crypt.go); listings are sorted after decryption. kind: 0 directory, 1 file. nchild:
//     entries of a directory. size: bytes of a file's content; blob: the
//     16-byte name of its content's blob file, NULL when the file is
//     empty. owner: the app (hidden: a keyed hash of its name) an entry of SAFEDrive is charged to (NULL
//     elsewhere, or for the launcher's own writes). meta_len: bytes of
//     user metadata. rec: every attribute of the node (record.go: kind,
//     flags, uid, times, size, the name and the user metadata as stored),
//     so that a listing reads one value per entry; it comes last so that
//     a large one, kept in overflow pages, is read only by a query that
//     asks for it.
//   - roots: the stored key of each root (crypt.go: hideRoot, a keyed hash
//     of the app or reserved name) and its node.
//   - usage: entries, content bytes and metadata bytes per (root key,
//     app), updated in the transaction of every change: ("app:x", "") is
//     app x's private root, ("shared", "x") what x has in SAFEDrive,
//     ("shared", "") SAFEDrive's entries charged to no app,
//     ("reserved:n", "") a reserved root. Roots themselves are not
//     counted.
//   - garbage: blobs no row points at any more, whose files are still to be
//     removed (inserted by the change that drops them, deleted once
//     removed; Open removes what a crash left).
//   - schema_version: one row per component keeping tables in this
//     database ("vfs" here; the app registry and dns add theirs).
var schema = []string{
	`CREATE TABLE IF NOT EXISTS schema_version (
		component TEXT PRIMARY KEY,
		version   INTEGER NOT NULL
	) WITHOUT ROWID`,
	`CREATE TABLE nodes (
		id       INTEGER PRIMARY KEY,
		parent   INTEGER,
		name_key BLOB NOT NULL,
		kind     INTEGER NOT NULL,
		uid      BLOB NOT NULL,
		nchild   INTEGER NOT NULL DEFAULT 0,
		size     INTEGER NOT NULL DEFAULT 0,
		blob     BLOB,
		owner    TEXT,
		meta_len INTEGER NOT NULL DEFAULT 0,
		rec      BLOB NOT NULL
	)`,
	`CREATE UNIQUE INDEX nodes_by_name ON nodes (parent, name_key)`,
	`CREATE UNIQUE INDEX nodes_by_uid ON nodes (uid) WHERE kind = 0`,
	`CREATE INDEX nodes_by_blob ON nodes (blob) WHERE blob IS NOT NULL`,
	`CREATE TABLE roots (
		key  TEXT PRIMARY KEY,
		node INTEGER NOT NULL UNIQUE
	) WITHOUT ROWID`,
	`CREATE TABLE usage (
		root    TEXT NOT NULL,
		app     TEXT NOT NULL,
		entries INTEGER NOT NULL DEFAULT 0,
		content INTEGER NOT NULL DEFAULT 0,
		meta    INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (root, app)
	) WITHOUT ROWID`,
	`CREATE TABLE garbage (
		id   INTEGER PRIMARY KEY,
		blob BLOB NOT NULL
	)`,
}

// initSchema creates the store's tables in an empty database, or checks the
// version of existing ones. It runs on the writer before anything else.
func initSchema(ctx context.Context, w *dbConn) error {
	c := w.c
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return dbErr("starting the schema check", err)
	}
	committed := false
	defer func() {
		if !committed {
			c.ExecContext(ctx, "ROLLBACK")
		}
	}()
	if _, err := c.ExecContext(ctx, schema[0]); err != nil {
		return dbErr("creating schema_version", err)
	}
	var v int
	err := c.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE component = 'vfs'`).Scan(&v)
	switch {
	case err == sql.ErrNoRows:
		for _, q := range schema[1:] {
			if _, err := c.ExecContext(ctx, q); err != nil {
				return dbErr("creating the store's tables", err)
			}
		}
		if _, err := c.ExecContext(ctx, `INSERT INTO schema_version (component, version) VALUES ('vfs', ?)`, SchemaVersion); err != nil {
			return dbErr("recording the schema version", err)
		}
	case err != nil:
		return dbErr("reading the schema version", err)
	case v > SchemaVersion:
		return fmt.Errorf("%w: the database's store tables are version %d, this launcher knows up to %d", ErrCorrupt, v, SchemaVersion)
	case v == 1:
		return fmt.Errorf("%w: the database's store tables are version 1, with data in the clear, from before encryption at rest; "+
			"there is no migration: move the store directory aside and start again", ErrOldFormat)
	case v == 2:
		return fmt.Errorf("%w: the database's store tables are version 2, whose content chunks were sealed in the format before appends in place; "+
			"there is no migration: move the store directory aside and start again", ErrOldFormat)
	case v < 1:
		return fmt.Errorf("%w: the database's store tables have version %d", ErrCorrupt, v)
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return dbErr("committing the schema", err)
	}
	committed = true
	return nil
}

// Component gives another package's tables their place in the database:
// when component has no row in schema_version yet, stmts run (they create
// its tables) and version is recorded; either way the version now recorded
// is returned, for the caller to check against what it knows (a newer one,
// or an old format it refuses). It runs inside an Update.
func (t *Tx) Component(component string, version int, stmts []string) (int, error) {
	q, ctx := t.SQL(), t.Context()
	var v int
	err := q.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE component = ?`, component).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		for _, s := range stmts {
			if _, err := q.ExecContext(ctx, s); err != nil {
				return 0, fmt.Errorf("creating the tables of %s: %w", component, err)
			}
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO schema_version (component, version) VALUES (?, ?)`, component, version); err != nil {
			return 0, fmt.Errorf("recording the schema version of %s: %w", component, err)
		}
		return version, nil
	case err != nil:
		return 0, fmt.Errorf("reading the schema version of %s: %w", component, err)
	}
	return v, nil
}
