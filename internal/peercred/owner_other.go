//go:build !linux

package peercred

import (
	"fmt"
	"runtime"
)

func newOwner() (Owner, error) { return unsupported() }

func newSockDiag() (Owner, error) { return unsupported() }

func newProc() (Owner, error) { return unsupported() }

func unsupported() (Owner, error) {
	return nil, fmt.Errorf("%w: no peer uid lookup on %s", ErrUnsupported, runtime.GOOS)
}
