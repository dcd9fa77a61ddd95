package launcher

import (
	"context"
	"errors"

	"github.com/safe-launcher/launcher/wire"
)

// toWire is the one place where an error becomes a wire code and description.
// A *wire.Error (modules map their own errors to one) is sent as it is;
// context errors get their codes; anything else is an internal error whose
// text is not sent (it is logged).
func toWire(err error) (*wire.Error, bool) {
	var we *wire.Error
	if errors.As(err, &we) {
		return we, true
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &wire.Error{Code: wire.CodeTimeout, Description: "the request timed out", Err: err}, true
	case errors.Is(err, context.Canceled):
		return &wire.Error{Code: wire.CodeShuttingDown, Description: "the request was cancelled: the session is ending", Err: err}, true
	}
	return &wire.Error{Code: wire.CodeInternal, Description: "internal error", Err: err}, false
}
