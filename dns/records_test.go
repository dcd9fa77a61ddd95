package dns_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
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

// wireCodeOf returns the wire code of err, 0 if it has none.
func wireCodeOf(err error) wire.Code {
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return 0
}

// rawRows returns the key columns and rec of every row of table.
func rawRows(t *testing.T, store *vfs.Store, table string) (keys [][2][]byte, recs [][]byte) {
	t.Helper()
	q := `SELECT long_hash, owner_hash, rec FROM dns_names`
	if table == "dns_services" {
		q = `SELECT long_hash, service_hash, rec FROM dns_services`
	}
	require.NoError(t, store.View(ctxT(t), func(tx *vfs.Tx) error {
		rows, err := tx.SQL().QueryContext(tx.Context(), q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a, b, rec []byte
			if err := rows.Scan(&a, &b, &rec); err != nil {
				return err
			}
			keys, recs = append(keys, [2][]byte{a, b}), append(recs, rec)
		}
		return rows.Err()
	}))
	return keys, recs
}

// setRawRec sets the rec of table's row with keys.
func setRawRec(t *testing.T, store *vfs.Store, table string, keys [2][]byte, rec []byte) {
	t.Helper()
	q := `UPDATE dns_names SET rec = ? WHERE long_hash = ? AND owner_hash = ?`
	if table == "dns_services" {
		q = `UPDATE dns_services SET rec = ? WHERE long_hash = ? AND service_hash = ?`
	}
	require.NoError(t, store.Update(ctxT(t), func(tx *vfs.Tx) error {
		res, err := tx.SQL().ExecContext(tx.Context(), q, rec, keys[0], keys[1])
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n != 1 {
			err = fmt.Errorf("%d rows changed", n)
		}
		return err
	}))
}

// TestTamperedRecords: the dns tables hold no name in the clear; a flipped
// byte in the sealed rec of a long name's or a service's row, or a rec
// moved to another row, gives -210 (CodeIntegrity) to the dns request that
// meets it and an error wrapping vfs.ErrIntegrity to Resolve and Names;
// the daemon goes on, and with the byte put back everything works again.
func TestTamperedRecords(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	_, c := e.app(t, "alpha", false)
	mkdir(t, c, false, "site")
	require.NoError(t, c.RegisterDNS(ctx, service("tamperedname", "www", "site")))
	require.NoError(t, c.AddService(ctx, service("tamperedname", "blog", "site")))

	nameKeys, nameRecs := rawRows(t, e.store, "dns_names")
	require.Len(t, nameKeys, 1)
	svcKeys, svcRecs := rawRows(t, e.store, "dns_services")
	require.Len(t, svcKeys, 2)
	for _, row := range append(append([][]byte{}, nameRecs...), svcRecs...) {
		for _, s := range []string{"tamperedname", "www", "blog", "site", "alpha"} {
			assert.NotContains(t, string(row), s)
		}
	}
	for _, k := range append(append([][2][]byte{}, nameKeys...), svcKeys...) {
		assert.Len(t, k[0], 16)
		assert.Len(t, k[1], 16)
	}

	works := func(t *testing.T) {
		t.Helper()
		names, err := c.ListLongNames(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"tamperedname"}, names)
		svcs, err := c.ListServices(ctx, "tamperedname")
		require.NoError(t, err)
		assert.Equal(t, []string{"blog", "www"}, svcs, "sorted by the real name")
		_, err = e.dns.Resolve(ctx, "www.tamperedname")
		require.NoError(t, err)
	}
	works(t)
	flip := func(b []byte) []byte {
		out := append([]byte(nil), b...)
		out[len(out)/2] ^= 0x40
		return out
	}

	t.Run("name row", func(t *testing.T) {
		setRawRec(t, e.store, "dns_names", nameKeys[0], flip(nameRecs[0]))
		_, err := c.ListLongNames(ctx)
		assert.Equal(t, wire.CodeIntegrity, wireCodeOf(err), "list-long-names: %v", err)
		_, err = c.ListServices(ctx, "tamperedname")
		assert.Equal(t, wire.CodeIntegrity, wireCodeOf(err), "list-services: %v", err)
		_, err = c.GetHomeDir(ctx, "tamperedname", "www")
		assert.Equal(t, wire.CodeIntegrity, wireCodeOf(err), "get-home-dir: %v", err)
		err = c.DeleteDNS(ctx, "tamperedname")
		assert.Equal(t, wire.CodeIntegrity, wireCodeOf(err), "delete-dns: %v", err)
		_, err = e.dns.Resolve(ctx, "www.tamperedname")
		assert.ErrorIs(t, err, vfs.ErrIntegrity)
		_, err = e.dns.Names(ctx)
		assert.ErrorIs(t, err, vfs.ErrIntegrity)
		assert.ErrorIs(t, err, dns.ErrBadRecord)
		setRawRec(t, e.store, "dns_names", nameKeys[0], nameRecs[0])
		works(t)
	})
	t.Run("service row", func(t *testing.T) {
		setRawRec(t, e.store, "dns_services", svcKeys[0], flip(svcRecs[0]))
		_, err := c.ListServices(ctx, "tamperedname")
		assert.Equal(t, wire.CodeIntegrity, wireCodeOf(err), "list-services: %v", err)
		_, err = e.dns.Names(ctx)
		assert.ErrorIs(t, err, vfs.ErrIntegrity)
		setRawRec(t, e.store, "dns_services", svcKeys[0], svcRecs[0])
		works(t)
	})
	t.Run("moved rec", func(t *testing.T) {
		setRawRec(t, e.store, "dns_services", svcKeys[0], svcRecs[1])
		setRawRec(t, e.store, "dns_services", svcKeys[1], svcRecs[0])
		for _, s := range []string{"www", "blog"} {
			_, err := c.GetHomeDir(ctx, "tamperedname", s)
			assert.Equal(t, wire.CodeIntegrity, wireCodeOf(err), "get-home-dir %s: %v", s, err)
			_, err = e.dns.Resolve(ctx, s+".tamperedname")
			assert.ErrorIs(t, err, vfs.ErrIntegrity)
		}
		setRawRec(t, e.store, "dns_services", svcKeys[0], svcRecs[0])
		setRawRec(t, e.store, "dns_services", svcKeys[1], svcRecs[1])
		works(t)
	})
}
