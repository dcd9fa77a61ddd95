package dns

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/safe-launcher/launcher/vfs"
)

// The records live in two tables of the store's database, created through
// the store's schema mechanism (a "dns" row in schema_version). Every change
// is one vfs.Store.Update, so a change of several rows (register-dns with its
// service, a delete of a long name with its services, app rm --purge with the
// app's names) is all or nothing.
//
// Lookup keys (the long name, the service name, the owner's app id) are
// columns; every other attribute is in rec, a JSON value passed through
// sealRec/openRec, the one place where encryption at rest plugs in.

// schemaComponent is this package's row in the store's schema_version table.
const schemaComponent = "dns"

// SchemaVersion is the version of the dns tables in the store's database. New
// refuses a database whose dns tables are newer (ErrBadRecord).
const SchemaVersion = 1

// schema creates the dns tables.
//
//   - dns_names: one row per long name: its owner (the registering app's
//     id, indexed for app rm --purge) and rec (nameRec: when it was
//     created).
//   - dns_services: one row per service of a long name: rec (serviceRecord:
//     the home directory's stable id, the root and path at registration,
//     is_path_shared, when it was added).
var schema = []string{
	`CREATE TABLE dns_names (
		long_name TEXT PRIMARY KEY,
		owner     TEXT NOT NULL,
		rec       BLOB NOT NULL
	) WITHOUT ROWID`,
	`CREATE INDEX dns_names_by_owner ON dns_names (owner)`,
	`CREATE TABLE dns_services (
		long_name TEXT NOT NULL,
		service   TEXT NOT NULL,
		rec       BLOB NOT NULL,
		PRIMARY KEY (long_name, service)
	) WITHOUT ROWID`,
}

// nameRec is the sealed part of a dns_names row.
type nameRec struct {
	Created time.Time `json:"created"`
}

// serviceRecord is one service of a long name (the sealed part of a
// dns_services row).
type serviceRecord struct {
	Home   vfs.ID    `json:"home"`           // stable id of the home directory
	Root   string    `json:"root"`           // root at registration: "app:<dir>" or "shared"
	Shared bool      `json:"is_path_shared"` // as sent at registration
	Path   string    `json:"path"`           // path at registration (for people only)
	Added  time.Time `json:"added"`
}

// sealRec turns a record's attributes into what is stored. Today the
// identity; encryption at rest replaces its body.
func sealRec(_ *vfs.Tx, b []byte) ([]byte, error) { return b, nil }

// openRec is the inverse of sealRec.
func openRec(_ *vfs.Tx, b []byte) ([]byte, error) { return b, nil }

// initSchema creates the dns tables if the database has none, or checks
// their version. A store that holds records in the format before the
// database (files in the reserved root "dns") is refused with ErrOldFormat;
// an empty such root is removed.
func initSchema(tx *vfs.Tx) error {
	q, ctx := tx.SQL(), tx.Context()
	var v int
	err := q.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE component = ?`, schemaComponent).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		for _, s := range schema {
			if _, err := q.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("dns: creating the tables: %w", err)
			}
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO schema_version (component, version) VALUES (?, ?)`, schemaComponent, SchemaVersion); err != nil {
			return fmt.Errorf("dns: recording the schema version: %w", err)
		}
	case err != nil:
		return fmt.Errorf("dns: reading the schema version: %w", err)
	case v > SchemaVersion:
		return fmt.Errorf("%w: the database's dns tables are version %d, this launcher knows up to %d", ErrBadRecord, v, SchemaVersion)
	case v < 1:
		return fmt.Errorf("%w: the database's dns tables have version %d", ErrBadRecord, v)
	}
	old := vfs.ReservedRoot(RecordsRootName)
	l, err := tx.GetDir(old, nil)
	switch {
	case errors.Is(err, vfs.ErrNoRoot):
		return nil
	case err != nil:
		return fmt.Errorf("dns: checking for records in the old format: %w", err)
	case len(l.Dirs)+len(l.Files) > 0:
		return fmt.Errorf("%w: the store holds dns records as files in its reserved area %q; they are now kept in tables of the store's database and there is no migration (nothing was released): move the data directory aside and start with an empty one", ErrOldFormat, RecordsRootName)
	}
	if err := tx.DeleteRoot(old); err != nil {
		return fmt.Errorf("dns: removing the empty records area of the old format: %w", err)
	}
	return nil
}

// getName returns the owner and rec of long, ok false if it is not
// registered.
func getName(tx *vfs.Tx, long string) (owner string, r nameRec, ok bool, err error) {
	var rec []byte
	err = tx.SQL().QueryRowContext(tx.Context(), `SELECT owner, rec FROM dns_names WHERE long_name = ?`, long).Scan(&owner, &rec)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nameRec{}, false, nil
	}
	if err != nil {
		return "", nameRec{}, false, fmt.Errorf("dns: reading long name %q: %w", long, err)
	}
	if err := decodeRec(tx, rec, &r); err != nil {
		return "", nameRec{}, false, fmt.Errorf("%w: long name %q: %v", ErrBadRecord, long, err)
	}
	return owner, r, true, nil
}

// getService returns the record of service svc of long, ok false if there
// is none.
func getService(tx *vfs.Tx, long, svc string) (s serviceRecord, ok bool, err error) {
	var rec []byte
	err = tx.SQL().QueryRowContext(tx.Context(), `SELECT rec FROM dns_services WHERE long_name = ? AND service = ?`, long, svc).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
		return serviceRecord{}, false, nil
	}
	if err != nil {
		return serviceRecord{}, false, fmt.Errorf("dns: reading service %q of %q: %w", svc, long, err)
	}
	if err := decodeRec(tx, rec, &s); err != nil {
		return serviceRecord{}, false, fmt.Errorf("%w: service %q of %q: %v", ErrBadRecord, svc, long, err)
	}
	return s, true, nil
}

// namedService is one row of dns_services.
type namedService struct {
	name string
	rec  serviceRecord
}

// services lists the services of long, sorted by name.
func services(tx *vfs.Tx, long string) ([]namedService, error) {
	rows, err := tx.SQL().QueryContext(tx.Context(), `SELECT service, rec FROM dns_services WHERE long_name = ? ORDER BY service`, long)
	if err != nil {
		return nil, fmt.Errorf("dns: listing the services of %q: %w", long, err)
	}
	defer rows.Close()
	var out []namedService
	for rows.Next() {
		var ns namedService
		var rec []byte
		if err := rows.Scan(&ns.name, &rec); err != nil {
			return nil, fmt.Errorf("dns: listing the services of %q: %w", long, err)
		}
		if err := checkStored("service_name", ns.name); err != nil {
			return nil, fmt.Errorf("%w: long name %q: %v", ErrBadRecord, long, err)
		}
		if err := decodeRec(tx, rec, &ns.rec); err != nil {
			return nil, fmt.Errorf("%w: service %q of %q: %v", ErrBadRecord, ns.name, long, err)
		}
		out = append(out, ns)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dns: listing the services of %q: %w", long, err)
	}
	return out, nil
}

// namedRec is one row of dns_names.
type namedRec struct {
	long, owner string
	rec         nameRec
}

// longNames lists every long name, sorted; with owner set, only those it
// registered.
func longNames(tx *vfs.Tx, owner string) ([]namedRec, error) {
	q := `SELECT long_name, owner, rec FROM dns_names ORDER BY long_name`
	var args []any
	if owner != "" {
		q = `SELECT long_name, owner, rec FROM dns_names WHERE owner = ? ORDER BY long_name`
		args = append(args, owner)
	}
	rows, err := tx.SQL().QueryContext(tx.Context(), q, args...)
	if err != nil {
		return nil, fmt.Errorf("dns: listing the long names: %w", err)
	}
	defer rows.Close()
	var out []namedRec
	for rows.Next() {
		var n namedRec
		var rec []byte
		if err := rows.Scan(&n.long, &n.owner, &rec); err != nil {
			return nil, fmt.Errorf("dns: listing the long names: %w", err)
		}
		if err := checkStored("long_name", n.long); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
		if err := decodeRec(tx, rec, &n.rec); err != nil {
			return nil, fmt.Errorf("%w: long name %q: %v", ErrBadRecord, n.long, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dns: listing the long names: %w", err)
	}
	return out, nil
}

// putName inserts the long name long.
func putName(tx *vfs.Tx, long, owner string, r nameRec) error {
	rec, err := encodeRec(tx, r)
	if err != nil {
		return err
	}
	if _, err := tx.SQL().ExecContext(tx.Context(), `INSERT INTO dns_names (long_name, owner, rec) VALUES (?, ?, ?)`, long, owner, rec); err != nil {
		return fmt.Errorf("dns: recording long name %q: %w", long, err)
	}
	return nil
}

// putService inserts service svc of long.
func putService(tx *vfs.Tx, long, svc string, s serviceRecord) error {
	rec, err := encodeRec(tx, s)
	if err != nil {
		return err
	}
	if _, err := tx.SQL().ExecContext(tx.Context(), `INSERT INTO dns_services (long_name, service, rec) VALUES (?, ?, ?)`, long, svc, rec); err != nil {
		return fmt.Errorf("dns: recording service %q of %q: %w", svc, long, err)
	}
	return nil
}

// dropService deletes service svc of long.
func dropService(tx *vfs.Tx, long, svc string) error {
	if _, err := tx.SQL().ExecContext(tx.Context(), `DELETE FROM dns_services WHERE long_name = ? AND service = ?`, long, svc); err != nil {
		return fmt.Errorf("dns: deleting service %q of %q: %w", svc, long, err)
	}
	return nil
}

// dropName deletes long with all its services.
func dropName(tx *vfs.Tx, long string) error {
	if _, err := tx.SQL().ExecContext(tx.Context(), `DELETE FROM dns_services WHERE long_name = ?`, long); err != nil {
		return fmt.Errorf("dns: deleting the services of %q: %w", long, err)
	}
	if _, err := tx.SQL().ExecContext(tx.Context(), `DELETE FROM dns_names WHERE long_name = ?`, long); err != nil {
		return fmt.Errorf("dns: deleting long name %q: %w", long, err)
	}
	return nil
}

func encodeRec(tx *vfs.Tx, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("dns: encoding a record: %w", err)
	}
	return sealRec(tx, b)
}

func decodeRec(tx *vfs.Tx, stored []byte, v any) error {
	b, err := openRec(tx, stored)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// checkStored checks a name read from the tables: valid and lower-case.
func checkStored(field, name string) error {
	if norm, err := CheckName(field, name); err != nil || norm != name {
		return fmt.Errorf("stored %s %q is not a valid lower-case name", field, name)
	}
	return nil
}
