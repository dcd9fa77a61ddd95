package dns

import (
	"errors"
	"fmt"

	"github.com/safe-launcher/launcher/wire"
)

// Sentinel errors of the dns package, for errors.Is. Errors a request can
// cause are *wire.Error values (wire.ErrNameNotFound, wire.ErrServiceDirGone,
// ...); these sentinels name the conditions the wire codes do not tell apart.
var (
	// ErrNotOwner: an app tried to change or delete a long name another app
	// registered. On the wire it is wire.CodeNotOwner (-307);
	// errors.Is(err, ErrNotOwner) holds too.
	ErrNotOwner = errors.New("dns: the long name belongs to another app")
	// ErrServiceDirPrivate: the service's home directory, or a directory on
	// the requested path below it, is private. Same code as
	// wire.CodeServiceDirPriv (-306), so errors.Is works on both sides.
	ErrServiceDirPrivate = &wire.Error{Code: wire.CodeServiceDirPriv}
	// ErrBadRecord: a row of the dns tables in the store's database is not a
	// valid record, or the tables are of a newer version than this launcher
	// knows. The tables are written only by this package, so this means the
	// database was changed behind the launcher's back.
	ErrBadRecord = errors.New("dns: invalid record in the dns tables")
	// ErrOldFormat: New found dns records in the format before the store's
	// database (files in the reserved root vfs.ReservedRoot(RecordsRootName)).
	// There is no migration: nothing was released.
	ErrOldFormat = errors.New("dns: the dns records are in an old format")
	// ErrNotLoopback: the gateway was asked to listen on an address that is
	// not a loopback address.
	ErrNotLoopback = errors.New("dns: the gateway listens on loopback addresses only")
)

func errInvalidName(desc string) error {
	return &wire.Error{Code: wire.CodeInvalidDNSName, Description: desc}
}

func errNameNotFound(long string) error {
	return wire.Errorf(wire.CodeNameNotFound, "the long name %q is not registered", long)
}

func errServiceNotFound(long, svc string) error {
	return wire.Errorf(wire.CodeServiceNotFound, "the long name %q has no service %q", long, svc)
}

func errDirGone(long, svc string) error {
	return wire.Errorf(wire.CodeServiceDirGone, "the home directory of service %q of %q was deleted", svc, long)
}

func errPrivate(desc string) error {
	return &wire.Error{Code: wire.CodeServiceDirPriv, Description: desc}
}

func errNotOwner(long, what string) error {
	return &wire.Error{
		Code:        wire.CodeNotOwner,
		Description: fmt.Sprintf("the long name %q is registered by another app; only that app may %s", long, what),
		Err:         ErrNotOwner,
	}
}
