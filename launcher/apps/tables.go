package apps

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/safe-launcher/launcher/vfs"
)

// The registry lives in two tables of the store's database, created through
// the store's schema mechanism (an "apps" row in schema_version), so that a
// change of the registry and of the store (an app and its root; app rm
// --purge with the app's roots and dns names) is one transaction.
//
// Lookup keys (id, name, root) are columns; the whole App is in rec, JSON
// passed through sealRec/openRec, the one place where encryption at rest
// plugs in.

// schemaComponent is this package's row in the store's schema_version table.
const schemaComponent = "apps"

// SchemaVersion is the version of the registry's tables. Open refuses a
// database whose apps tables are newer (ErrCorrupt).
const SchemaVersion = 1

// schema creates the registry's tables.
//
//   - apps_apps: one row per registered app: its id, name and private root
//     (each unique) and rec (the App, SAFEDrive grant included).
//   - apps_kept_roots: the private roots that app rm without --purge left
//     in the store, until purged or reused (see OrphanRoots).
var schema = []string{
	`CREATE TABLE apps_apps (
		id   TEXT PRIMARY KEY,
		name TEXT NOT NULL UNIQUE,
		root TEXT NOT NULL UNIQUE,
		rec  BLOB NOT NULL
	) WITHOUT ROWID`,
	`CREATE TABLE apps_kept_roots (
		root TEXT PRIMARY KEY
	) WITHOUT ROWID`,
}

// sealRec turns an app's record into what is stored. Today the identity;
// encryption at rest replaces its body.
func sealRec(_ *vfs.Tx, b []byte) ([]byte, error) { return b, nil }

// openRec is the inverse of sealRec.
func openRec(_ *vfs.Tx, b []byte) ([]byte, error) { return b, nil }

// initSchema creates the registry's tables if the database has none, or
// checks their version.
func initSchema(tx *vfs.Tx) error {
	q, ctx := tx.SQL(), tx.Context()
	var v int
	err := q.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE component = ?`, schemaComponent).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		for _, s := range schema {
			if _, err := q.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%w: creating the registry's tables: %v", ErrStorage, err)
			}
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO schema_version (component, version) VALUES (?, ?)`, schemaComponent, SchemaVersion); err != nil {
			return fmt.Errorf("%w: recording the registry's schema version: %v", ErrStorage, err)
		}
	case err != nil:
		return fmt.Errorf("%w: reading the registry's schema version: %v", ErrStorage, err)
	case v > SchemaVersion:
		return fmt.Errorf("%w: the database's registry tables are version %d, this launcher knows up to %d", ErrCorrupt, v, SchemaVersion)
	case v < 1:
		return fmt.Errorf("%w: the database's registry tables have version %d", ErrCorrupt, v)
	}
	return nil
}

// loadApps reads every app row.
func loadApps(tx *vfs.Tx) ([]App, error) {
	rows, err := tx.SQL().QueryContext(tx.Context(), `SELECT id, name, root, rec FROM apps_apps ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the apps: %v", ErrStorage, err)
	}
	defer rows.Close()
	var out []App
	for rows.Next() {
		var id, name, root string
		var rec []byte
		if err := rows.Scan(&id, &name, &root, &rec); err != nil {
			return nil, fmt.Errorf("%w: reading the apps: %v", ErrStorage, err)
		}
		b, err := openRec(tx, rec)
		if err != nil {
			return nil, fmt.Errorf("%w: app %q: %v", ErrCorrupt, name, err)
		}
		var a App
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("%w: app %q: %v", ErrCorrupt, name, err)
		}
		if a.ID != id || a.Name != name || a.RootDir != root {
			return nil, fmt.Errorf("%w: the row of app %q does not match its record", ErrCorrupt, name)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: reading the apps: %v", ErrStorage, err)
	}
	return out, nil
}

// loadKept reads the kept roots.
func loadKept(tx *vfs.Tx) ([]string, error) {
	rows, err := tx.SQL().QueryContext(tx.Context(), `SELECT root FROM apps_kept_roots ORDER BY root`)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the kept roots: %v", ErrStorage, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("%w: reading the kept roots: %v", ErrStorage, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: reading the kept roots: %v", ErrStorage, err)
	}
	return out, nil
}

// putApp inserts a's row, or replaces it (same id).
func putApp(tx *vfs.Tx, a App) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("%w: encoding app %q: %v", ErrStorage, a.Name, err)
	}
	rec, err := sealRec(tx, b)
	if err != nil {
		return fmt.Errorf("%w: sealing app %q: %v", ErrStorage, a.Name, err)
	}
	if _, err := tx.SQL().ExecContext(tx.Context(), `INSERT OR REPLACE INTO apps_apps (id, name, root, rec) VALUES (?, ?, ?, ?)`, a.ID, a.Name, a.RootDir, rec); err != nil {
		return fmt.Errorf("%w: recording app %q: %v", ErrStorage, a.Name, err)
	}
	return nil
}

// dropApp deletes the row of the app with id.
func dropApp(tx *vfs.Tx, id string) error {
	if _, err := tx.SQL().ExecContext(tx.Context(), `DELETE FROM apps_apps WHERE id = ?`, id); err != nil {
		return fmt.Errorf("%w: deleting an app: %v", ErrStorage, err)
	}
	return nil
}

// setKept records root as kept (on) or not.
func setKept(tx *vfs.Tx, root string, on bool) error {
	q := `DELETE FROM apps_kept_roots WHERE root = ?`
	if on {
		q = `INSERT OR IGNORE INTO apps_kept_roots (root) VALUES (?)`
	}
	if _, err := tx.SQL().ExecContext(tx.Context(), q, root); err != nil {
		return fmt.Errorf("%w: recording kept root %s: %v", ErrStorage, root, err)
	}
	return nil
}
