package dns

import "github.com/safe-launcher/launcher/vfs"

// SetFailAfter makes every change of m call f inside its transaction after
// its first rows are written (step names the point); an error f returns
// undoes the change. For tests of the all-or-nothing property.
func SetFailAfter(m *Module, f func(step string) error) { m.failAfter = f }

// PutNameRow writes, in tx, a dns_names row for long owned by owner as the
// module would, without checking long: for tests of what a bad row does.
func PutNameRow(tx *vfs.Tx, long, owner string) error {
	return putName(tx, long, owner, nameRec{})
}

// DropNameRow deletes, in tx, the rows of long as the module would, without
// checking long.
func DropNameRow(tx *vfs.Tx, long string) error { return dropName(tx, long) }
