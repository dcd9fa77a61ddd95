package dns

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/safe-launcher/launcher/vfs"
)

// The records live in two tables of the store's database, created through
// the store's schema mechanism (a "dns" row in schema_version). Every change
// is one vfs.Store.Update, so a change of several rows (register-dns with its
// service, a delete of a long name with its services, app rm --purge with the
// app's names) is all or nothing.
//
// Nothing of a record is in the clear at rest (issue 17): the lookup keys
// (the long name, the service name, the owner's app id) are keyed hashes
// (vfs.Sealer.Hash, purpose vfs.PurposeDNS), and every value, the names
// included, is in rec, a JSON value sealed (vfs.Sealer.Seal) with associated
// data that binds the table and the row's key, so that a rec moved to
// another row does not open. The owner's app id is hashed although it is
// random: it is what an app is known by, and a uniform rule is easier to
// check than an exception. Each hash is of a column label and the value.
// Listings decrypt every row and sort in Go.

// schemaComponent is this package's row in the store's schema_version table.
const schemaComponent = "dns"

// SchemaVersion is the version of the dns tables in the store's database. New
// refuses a database whose dns tables are newer (ErrBadRecord), or of
// version 1, the tables in the clear (ErrOldFormat: no migration, nothing
// was released).
const SchemaVersion = 2

// schema creates the dns tables.
//
//   - dns_names: one row per long name: the keyed hashes of the long name
//     and of its owner (the registering app's id, indexed for app rm
//     --purge), and rec (nameRec: the long name, the owner, when it was
//     created; associated data "dns_names", 0, long_hash).
//   - dns_services: one row per service of a long name: the keyed hashes of
//     the long name and the service name, and rec (serviceRecord: the
//     service name, the home directory's stable id, the root and path at
//     registration, is_path_shared, when it was added; associated data
//     "dns_services", 0, long_hash, service_hash).
var schema = []string{
	`CREATE TABLE dns_names (
		long_hash  BLOB PRIMARY KEY,
		owner_hash BLOB NOT NULL,
		rec        BLOB NOT NULL
	) WITHOUT ROWID`,
	`CREATE INDEX dns_names_by_owner ON dns_names (owner_hash)`,
	`CREATE TABLE dns_services (
		long_hash    BLOB NOT NULL,
		service_hash BLOB NOT NULL,
		rec          BLOB NOT NULL,
		PRIMARY KEY (long_hash, service_hash)
	) WITHOUT ROWID`,
}

// nameRec is the sealed part of a dns_names row.
type nameRec struct {
	Long    string    `json:"long_name"`
	Owner   string    `json:"owner"` // app id
	Created time.Time `json:"created"`
}

// serviceRecord is one service of a long name (the sealed part of a
// dns_services row).
type serviceRecord struct {
	Name   string    `json:"service_name"`
	Home   vfs.ID    `json:"home"`           // stable id of the home directory
	Root   string    `json:"root"`           // root at registration: "app:<dir>" or "shared"
	Shared bool      `json:"is_path_shared"` // as sent at registration
	Path   string    `json:"path"`           // path at registration (for people only)
	Added  time.Time `json:"added"`
}

// Table names, used in the associated data of their recs.
const (
	tableNames    = "dns_names"
	tableServices = "dns_services"
)

// hashOf returns the keyed hash of value in the column named label.
func hashOf(tx *vfs.Tx, label, value string) []byte {
	b := make([]byte, 0, len(label)+1+len(value))
	b = append(append(append(b, label...), 0), value...)
	return tx.Sealer().Hash(vfs.PurposeDNS, b)
}

func longHash(tx *vfs.Tx, long string) []byte   { return hashOf(tx, "long_name", long) }
func ownerHash(tx *vfs.Tx, owner string) []byte { return hashOf(tx, "owner", owner) }
func svcHash(tx *vfs.Tx, svc string) []byte     { return hashOf(tx, "service", svc) }

// recAD is the associated data of the rec of table's row with the key
// made of keys (hashes of a fixed size).
func recAD(table string, keys ...[]byte) []byte {
	b := append([]byte(table), 0)
	for _, k := range keys {
		b = append(b, k...)
	}
	return b
}

// sealRec turns a record's attributes into what is stored, bound to ad.
func sealRec(tx *vfs.Tx, ad, b []byte) []byte { return tx.Sealer().Seal(vfs.PurposeDNS, ad, b) }

// openRec is the inverse of sealRec; its errors wrap vfs.ErrIntegrity.
func openRec(tx *vfs.Tx, ad, b []byte) ([]byte, error) {
	return tx.Sealer().Open(vfs.PurposeDNS, ad, b)
}

// initSchema creates the dns tables if the database has none, or checks
// their version. A store that holds records in the format before the
// database (files in the reserved root "dns") is refused with ErrOldFormat;
// an empty such root is removed.
func initSchema(tx *vfs.Tx) error {
	v, err := tx.Component(schemaComponent, SchemaVersion, schema)
	switch {
	case err != nil:
		return fmt.Errorf("dns: %w", err)
	case v > SchemaVersion:
		return fmt.Errorf("%w: the database's dns tables are version %d, this launcher knows up to %d", ErrBadRecord, v, SchemaVersion)
	case v == 1:
		return fmt.Errorf("%w: the database's dns tables are version 1 (the records in the clear); they are now encrypted and there is no migration (nothing was released): move the data directory aside and start with an empty one", ErrOldFormat)
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
	key := longHash(tx, long)
	var oh, rec []byte
	err = tx.SQL().QueryRowContext(tx.Context(), `SELECT owner_hash, rec FROM dns_names WHERE long_hash = ?`, key).Scan(&oh, &rec)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nameRec{}, false, nil
	}
	if err != nil {
		return "", nameRec{}, false, fmt.Errorf("dns: reading long name %q: %w", long, err)
	}
	n, err := openName(tx, key, oh, rec)
	if err != nil {
		return "", nameRec{}, false, err
	}
	if n.long != long {
		return "", nameRec{}, false, fmt.Errorf("%w: the row of long name %q holds %q", ErrBadRecord, long, n.long)
	}
	return n.owner, n.rec, true, nil
}

// openName opens and checks the rec of the dns_names row with long_hash key
// and owner_hash oh.
func openName(tx *vfs.Tx, key, oh, rec []byte) (namedRec, error) {
	var n namedRec
	if err := decodeRec(tx, recAD(tableNames, key), rec, &n.rec); err != nil {
		return namedRec{}, fmt.Errorf("%w: a long name's row: %w", ErrBadRecord, err)
	}
	n.long, n.owner = n.rec.Long, n.rec.Owner
	if err := checkStored("long_name", n.long); err != nil {
		return namedRec{}, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if !bytes.Equal(longHash(tx, n.long), key) || !bytes.Equal(ownerHash(tx, n.owner), oh) {
		return namedRec{}, fmt.Errorf("%w: the row of long name %q does not match its record", ErrBadRecord, n.long)
	}
	return n, nil
}

// getService returns the record of service svc of long, ok false if there
// is none.
func getService(tx *vfs.Tx, long, svc string) (s serviceRecord, ok bool, err error) {
	lh, sh := longHash(tx, long), svcHash(tx, svc)
	var rec []byte
	err = tx.SQL().QueryRowContext(tx.Context(), `SELECT rec FROM dns_services WHERE long_hash = ? AND service_hash = ?`, lh, sh).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
		return serviceRecord{}, false, nil
	}
	if err != nil {
		return serviceRecord{}, false, fmt.Errorf("dns: reading service %q of %q: %w", svc, long, err)
	}
	ns, err := openService(tx, long, lh, sh, rec)
	if err != nil {
		return serviceRecord{}, false, err
	}
	return ns.rec, true, nil
}

// openService opens and checks the rec of the dns_services row (lh, sh) of
// long.
func openService(tx *vfs.Tx, long string, lh, sh, rec []byte) (namedService, error) {
	var ns namedService
	if err := decodeRec(tx, recAD(tableServices, lh, sh), rec, &ns.rec); err != nil {
		return namedService{}, fmt.Errorf("%w: a service's row of %q: %w", ErrBadRecord, long, err)
	}
	ns.name = ns.rec.Name
	if err := checkStored("service_name", ns.name); err != nil {
		return namedService{}, fmt.Errorf("%w: long name %q: %v", ErrBadRecord, long, err)
	}
	if !bytes.Equal(svcHash(tx, ns.name), sh) {
		return namedService{}, fmt.Errorf("%w: the row of service %q of %q does not match its record", ErrBadRecord, ns.name, long)
	}
	return ns, nil
}

// namedService is one row of dns_services.
type namedService struct {
	name string
	rec  serviceRecord
}

// services lists the services of long, sorted by name.
func services(tx *vfs.Tx, long string) ([]namedService, error) {
	lh := longHash(tx, long)
	rows, err := tx.SQL().QueryContext(tx.Context(), `SELECT service_hash, rec FROM dns_services WHERE long_hash = ?`, lh)
	if err != nil {
		return nil, fmt.Errorf("dns: listing the services of %q: %w", long, err)
	}
	defer rows.Close()
	var out []namedService
	for rows.Next() {
		var sh, rec []byte
		if err := rows.Scan(&sh, &rec); err != nil {
			return nil, fmt.Errorf("dns: listing the services of %q: %w", long, err)
		}
		ns, err := openService(tx, long, lh, sh, rec)
		if err != nil {
			return nil, err
		}
		out = append(out, ns)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dns: listing the services of %q: %w", long, err)
	}
	slices.SortFunc(out, func(a, b namedService) int { return strings.Compare(a.name, b.name) })
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
	q := `SELECT long_hash, owner_hash, rec FROM dns_names`
	var args []any
	if owner != "" {
		q += ` WHERE owner_hash = ?`
		args = append(args, ownerHash(tx, owner))
	}
	rows, err := tx.SQL().QueryContext(tx.Context(), q, args...)
	if err != nil {
		return nil, fmt.Errorf("dns: listing the long names: %w", err)
	}
	defer rows.Close()
	var out []namedRec
	for rows.Next() {
		var key, oh, rec []byte
		if err := rows.Scan(&key, &oh, &rec); err != nil {
			return nil, fmt.Errorf("dns: listing the long names: %w", err)
		}
		n, err := openName(tx, key, oh, rec)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dns: listing the long names: %w", err)
	}
	slices.SortFunc(out, func(a, b namedRec) int { return strings.Compare(a.long, b.long) })
	return out, nil
}

// putName inserts the long name long, owned by the app with id owner.
func putName(tx *vfs.Tx, long, owner string, r nameRec) error {
	r.Long, r.Owner = long, owner
	key := longHash(tx, long)
	rec, err := encodeRec(tx, recAD(tableNames, key), r)
	if err != nil {
		return err
	}
	if _, err := tx.SQL().ExecContext(tx.Context(), `INSERT INTO dns_names (long_hash, owner_hash, rec) VALUES (?, ?, ?)`, key, ownerHash(tx, owner), rec); err != nil {
		return fmt.Errorf("dns: recording long name %q: %w", long, err)
	}
	return nil
}

// putService inserts service svc of long.
func putService(tx *vfs.Tx, long, svc string, s serviceRecord) error {
	s.Name = svc
	lh, sh := longHash(tx, long), svcHash(tx, svc)
	rec, err := encodeRec(tx, recAD(tableServices, lh, sh), s)
	if err != nil {
		return err
	}
	if _, err := tx.SQL().ExecContext(tx.Context(), `INSERT INTO dns_services (long_hash, service_hash, rec) VALUES (?, ?, ?)`, lh, sh, rec); err != nil {
		return fmt.Errorf("dns: recording service %q of %q: %w", svc, long, err)
	}
	return nil
}

// dropService deletes service svc of long.
func dropService(tx *vfs.Tx, long, svc string) error {
	if _, err := tx.SQL().ExecContext(tx.Context(), `DELETE FROM dns_services WHERE long_hash = ? AND service_hash = ?`, longHash(tx, long), svcHash(tx, svc)); err != nil {
		return fmt.Errorf("dns: deleting service %q of %q: %w", svc, long, err)
	}
	return nil
}

// dropName deletes long with all its services.
func dropName(tx *vfs.Tx, long string) error {
	lh := longHash(tx, long)
	if _, err := tx.SQL().ExecContext(tx.Context(), `DELETE FROM dns_services WHERE long_hash = ?`, lh); err != nil {
		return fmt.Errorf("dns: deleting the services of %q: %w", long, err)
	}
	if _, err := tx.SQL().ExecContext(tx.Context(), `DELETE FROM dns_names WHERE long_hash = ?`, lh); err != nil {
		return fmt.Errorf("dns: deleting long name %q: %w", long, err)
	}
	return nil
}

func encodeRec(tx *vfs.Tx, ad []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("dns: encoding a record: %w", err)
	}
	return sealRec(tx, ad, b), nil
}

func decodeRec(tx *vfs.Tx, ad, stored []byte, v any) error {
	b, err := openRec(tx, ad, stored)
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
