//go:build !linux

package peercred_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/internal/peercred"
)

func TestNewUnsupported(t *testing.T) {
	o, err := peercred.New()
	require.Nil(t, o)
	require.ErrorIs(t, err, peercred.ErrUnsupported)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.Contains(t, err.Error(), runtime.GOOS)
}
