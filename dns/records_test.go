package dns_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/vfs"
)

var errInjected = errors.New("injected failure")

// TestRegisterDNSAllOrNothing: register-dns records the long name and its
// service in one transaction; a failure after the name's row is written
// leaves neither, and the name can be registered afterwards.
func TestRegisterDNSAllOrNothing(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	a, c := e.app(t, "alpha", false)
	mkdir(t, c, false, "site")
	usage, err := e.store.AppUsage(ctx, a.RootDir)
	require.NoError(t, err)

	var steps []string
	dns.SetFailAfter(e.dns, func(step string) error {
		steps = append(steps, step)
		return errInjected
	})
	err = c.RegisterDNS(ctx, service("example", "www", "site"))
	require.Error(t, err)
	assert.Equal(t, []string{"register-dns: name"}, steps, "the failure came after the name's row was written")
	names, err := c.ListLongNames(ctx)
	require.NoError(t, err)
	assert.Empty(t, names, "the long name is not left without its service")
	all, err := e.dns.Names(ctx)
	require.NoError(t, err)
	assert.Empty(t, all)
	_, err = e.dns.Resolve(ctx, "www.example")
	assert.Error(t, err)

	dns.SetFailAfter(e.dns, nil)
	require.NoError(t, c.RegisterDNS(ctx, service("example", "www", "site")))
	svcs, err := c.ListServices(ctx, "example")
	require.NoError(t, err)
	assert.Equal(t, []string{"www"}, svcs)
	after, err := e.store.AppUsage(ctx, a.RootDir)
	require.NoError(t, err)
	assert.Equal(t, usage, after, "records are not charged to the app")
}

// TestDeleteOwnedAllOrNothing: DeleteOwned deletes an app's names (and
// only its) inside the caller's transaction; if the transaction fails
// later, or in the middle of the names, every name is still there.
func TestDeleteOwnedAllOrNothing(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	alpha, ca := e.app(t, "alpha", false)
	_, cb := e.app(t, "beta", false)
	mkdir(t, ca, false, "site")
	mkdir(t, cb, false, "site")
	require.NoError(t, ca.RegisterDNS(ctx, service("one", "www", "site")))
	require.NoError(t, ca.AddService(ctx, service("one", "blog", "site")))
	require.NoError(t, ca.RegisterDNS(ctx, service("two", "www", "site")))
	require.NoError(t, cb.RegisterDNS(ctx, service("three", "www", "site")))
	before, err := e.dns.Names(ctx)
	require.NoError(t, err)
	require.Len(t, before, 3)

	// The caller's transaction fails after DeleteOwned.
	err = e.store.Update(ctx, func(tx *vfs.Tx) error {
		got, err := e.dns.DeleteOwned(tx, alpha.ID)
		require.NoError(t, err)
		assert.Equal(t, []string{"one", "two"}, got)
		return errInjected
	})
	require.ErrorIs(t, err, errInjected)
	now, err := e.dns.Names(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, now, "a failed transaction leaves every name")

	// A failure between the two names.
	dns.SetFailAfter(e.dns, func(step string) error {
		if strings.HasSuffix(step, ": one") {
			return errInjected
		}
		return nil
	})
	err = e.store.Update(ctx, func(tx *vfs.Tx) error {
		_, err := e.dns.DeleteOwned(tx, alpha.ID)
		return err
	})
	require.ErrorIs(t, err, errInjected)
	now, err = e.dns.Names(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, now)

	dns.SetFailAfter(e.dns, nil)
	require.NoError(t, e.store.Update(ctx, func(tx *vfs.Tx) error {
		_, err := e.dns.DeleteOwned(tx, alpha.ID)
		return err
	}))
	now, err = e.dns.Names(ctx)
	require.NoError(t, err)
	require.Len(t, now, 1)
	assert.Equal(t, "three", now[0].LongName, "another app's name stays")
	_, err = e.dns.Resolve(ctx, "blog.one")
	assert.Error(t, err)
}
