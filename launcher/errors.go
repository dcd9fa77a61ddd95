package launcher

import (
	"context"
	"errors"

	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// vfsCodes maps the store's sentinels to wire codes.
var vfsCodes = []struct {
	err  error
	code wire.Code
}{
	{vfs.ErrNotFound, wire.CodePathNotFound},
	{vfs.ErrExists, wire.CodeAlreadyExists},
	{vfs.ErrInvalidPath, wire.CodeInvalidPath},
	{vfs.ErrNotDir, wire.CodeNotADirectory},
	{vfs.ErrNotFile, wire.CodeNotAFile},
	{vfs.ErrIsRoot, wire.CodeRootOperation},
	{vfs.ErrOutOfRange, wire.CodeOutOfRange},
	{vfs.ErrNoRoot, wire.CodePathNotFound},
	{vfs.ErrTooLarge, wire.CodeStoreLimit},
	{vfs.ErrClosed, wire.CodeShuttingDown},
	{vfs.ErrIO, wire.CodeInternal},
	{vfs.ErrCorrupt, wire.CodeInternal},
}

// toWire is the one place where an error becomes a wire code and description.
// A *wire.Error is sent as it is; store and context errors get their codes;
// anything else is an internal error whose text is not sent (it is logged).
func toWire(err error) (*wire.Error, bool) {
	var we *wire.Error
	if errors.As(err, &we) {
		return we, true
	}
	for _, m := range vfsCodes {
		if errors.Is(err, m.err) {
			return &wire.Error{Code: m.code, Description: err.Error(), Err: err}, true
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &wire.Error{Code: wire.CodeTimeout, Description: "the request timed out", Err: err}, true
	case errors.Is(err, context.Canceled):
		return &wire.Error{Code: wire.CodeShuttingDown, Description: "the request was cancelled: the session is ending", Err: err}, true
	}
	return &wire.Error{Code: wire.CodeInternal, Description: "internal error", Err: err}, false
}
