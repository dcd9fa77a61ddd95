package apps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/safe-launcher/launcher/vfs"
)

// The registry lives in two tables of the store's database, created through
// the store's schema mechanism (an "apps" row in schema_version), so that a
// change of the registry and of the store (an app and its root; app rm
// --purge with the app's roots and dns names) is one transaction.
//
// Nothing of an app is in the clear at rest (issue 17): every value is
// either a keyed hash (vfs.Sealer.Hash, purpose vfs.PurposeRegistry), used
// for uniqueness and lookup, or inside rec, sealed (vfs.Sealer.Seal) with
// associated data that binds the table and the row's key, so that a rec
// moved to another row does not open. The app's id is hashed too, although
// it is random: it is what an app is known by (the launcher string names
// it), and a uniform rule is easier to check than an exception. Each hash
// is of a column label and the value, so equal values in different columns
// do not give equal hashes. Listings decrypt every row and sort in Go.

// schemaComponent is this package's row in the store's schema_version table.
const schemaComponent = "apps"

// SchemaVersion is the version of the registry's tables. Open refuses a
// database whose apps tables are newer (ErrCorrupt) or of version 1, the
// tables in the clear (ErrOldFormat: no migration, nothing was released).
const SchemaVersion = 2

// schema creates the registry's tables.
//
//   - apps_apps: one row per registered app: the keyed hashes of its id,
//     name and private root's name (each unique) and rec (the App, SAFEDrive
//     grant included, sealed; associated data "apps_apps", 0, id_hash).
//   - apps_kept_roots: the private roots that app rm without --purge left
//     in the store, until purged or reused (see OrphanRoots): the keyed hash
//     of the root's name and rec (the name, sealed; associated data
//     "apps_kept_roots", 0, root_hash).
var schema = []string{
	`CREATE TABLE apps_apps (
		id_hash   BLOB PRIMARY KEY,
		name_hash BLOB NOT NULL UNIQUE,
		root_hash BLOB NOT NULL UNIQUE,
		rec       BLOB NOT NULL
	) WITHOUT ROWID`,
	`CREATE TABLE apps_kept_roots (
		root_hash BLOB PRIMARY KEY,
		rec       BLOB NOT NULL
	) WITHOUT ROWID`,
}

// Table names, used in the associated data of their recs.
const (
	tableApps = "apps_apps"
	tableKept = "apps_kept_roots"
)

// hashOf returns the keyed hash of value in the column named label.
func hashOf(tx *vfs.Tx, label, value string) []byte {
	b := make([]byte, 0, len(label)+1+len(value))
	b = append(append(append(b, label...), 0), value...)
	return tx.Sealer().Hash(vfs.PurposeRegistry, b)
}

func idHash(tx *vfs.Tx, id string) []byte     { return hashOf(tx, "id", id) }
func nameHash(tx *vfs.Tx, name string) []byte { return hashOf(tx, "name", name) }
func rootHash(tx *vfs.Tx, root string) []byte { return hashOf(tx, "root", root) }
func keptHash(tx *vfs.Tx, root string) []byte { return hashOf(tx, "kept", root) }

// recAD is the associated data of the rec of table's row with key.
func recAD(table string, key []byte) []byte {
	b := make([]byte, 0, len(table)+1+len(key))
	return append(append(append(b, table...), 0), key...)
}

// sealRec turns the record of table's row with key into what is stored.
func sealRec(tx *vfs.Tx, table string, key, b []byte) []byte {
	return tx.Sealer().Seal(vfs.PurposeRegistry, recAD(table, key), b)
}

// openRec is the inverse of sealRec; its errors wrap vfs.ErrIntegrity.
func openRec(tx *vfs.Tx, table string, key, sealed []byte) ([]byte, error) {
	return tx.Sealer().Open(vfs.PurposeRegistry, recAD(table, key), sealed)
}

// initSchema creates the registry's tables if the database has none, or
// checks their version.
func initSchema(tx *vfs.Tx) error {
	v, err := tx.Component(schemaComponent, SchemaVersion, schema)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %v", ErrStorage, err)
	case v > SchemaVersion:
		return fmt.Errorf("%w: the database's registry tables are version %d, this launcher knows up to %d", ErrCorrupt, v, SchemaVersion)
	case v == 1:
		return fmt.Errorf("%w: the database's registry tables are version 1 (the apps in the clear); they are now encrypted and there is no migration (nothing was released): move the data directory aside and start with an empty one", ErrOldFormat)
	case v < 1:
		return fmt.Errorf("%w: the database's registry tables have version %d", ErrCorrupt, v)
	}
	return nil
}

// loadApps reads every app row, sorted by name. A rec that does not open
// is ErrCorrupt wrapping vfs.ErrIntegrity.
func loadApps(tx *vfs.Tx) ([]App, error) {
	rows, err := tx.SQL().QueryContext(tx.Context(), `SELECT id_hash, name_hash, root_hash, rec FROM apps_apps`)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the apps: %v", ErrStorage, err)
	}
	defer rows.Close()
	var out []App
	for rows.Next() {
		var id, name, root, rec []byte
		if err := rows.Scan(&id, &name, &root, &rec); err != nil {
			return nil, fmt.Errorf("%w: reading the apps: %v", ErrStorage, err)
		}
		b, err := openRec(tx, tableApps, id, rec)
		if err != nil {
			return nil, fmt.Errorf("%w: the row of app #%d: %w", ErrCorrupt, len(out)+1, err)
		}
		var a App
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("%w: the row of app #%d: %v", ErrCorrupt, len(out)+1, err)
		}
		if !bytes.Equal(idHash(tx, a.ID), id) || !bytes.Equal(nameHash(tx, a.Name), name) || !bytes.Equal(rootHash(tx, a.RootDir), root) {
			return nil, fmt.Errorf("%w: the row of app %q does not match its record", ErrCorrupt, a.Name)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: reading the apps: %v", ErrStorage, err)
	}
	slices.SortFunc(out, func(a, b App) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// loadKept reads the kept roots, sorted.
func loadKept(tx *vfs.Tx) ([]string, error) {
	rows, err := tx.SQL().QueryContext(tx.Context(), `SELECT root_hash, rec FROM apps_kept_roots`)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the kept roots: %v", ErrStorage, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h, rec []byte
		if err := rows.Scan(&h, &rec); err != nil {
			return nil, fmt.Errorf("%w: reading the kept roots: %v", ErrStorage, err)
		}
		b, err := openRec(tx, tableKept, h, rec)
		if err != nil {
			return nil, fmt.Errorf("%w: kept root #%d: %w", ErrCorrupt, len(out)+1, err)
		}
		if !bytes.Equal(keptHash(tx, string(b)), h) {
			return nil, fmt.Errorf("%w: the row of kept root %q does not match its record", ErrCorrupt, b)
		}
		out = append(out, string(b))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: reading the kept roots: %v", ErrStorage, err)
	}
	slices.Sort(out)
	return out, nil
}

// putApp inserts a's row, or replaces it (same id).
func putApp(tx *vfs.Tx, a App) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("%w: encoding app %q: %v", ErrStorage, a.Name, err)
	}
	id := idHash(tx, a.ID)
	rec := sealRec(tx, tableApps, id, b)
	if _, err := tx.SQL().ExecContext(tx.Context(), `INSERT OR REPLACE INTO apps_apps (id_hash, name_hash, root_hash, rec) VALUES (?, ?, ?, ?)`,
		id, nameHash(tx, a.Name), rootHash(tx, a.RootDir), rec); err != nil {
		return fmt.Errorf("%w: recording app %q: %v", ErrStorage, a.Name, err)
	}
	return nil
}

// dropApp deletes the row of the app with id.
func dropApp(tx *vfs.Tx, id string) error {
	if _, err := tx.SQL().ExecContext(tx.Context(), `DELETE FROM apps_apps WHERE id_hash = ?`, idHash(tx, id)); err != nil {
		return fmt.Errorf("%w: deleting an app: %v", ErrStorage, err)
	}
	return nil
}

// setKept records root as kept (on) or not.
func setKept(tx *vfs.Tx, root string, on bool) error {
	h := keptHash(tx, root)
	var err error
	if on {
		_, err = tx.SQL().ExecContext(tx.Context(), `INSERT OR REPLACE INTO apps_kept_roots (root_hash, rec) VALUES (?, ?)`, h, sealRec(tx, tableKept, h, []byte(root)))
	} else {
		_, err = tx.SQL().ExecContext(tx.Context(), `DELETE FROM apps_kept_roots WHERE root_hash = ?`, h)
	}
	if err != nil {
		return fmt.Errorf("%w: recording kept root %s: %v", ErrStorage, root, err)
	}
	return nil
}
