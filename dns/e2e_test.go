package dns_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

func TestCheckName(t *testing.T) {
	cases := []struct {
		in, want string
		why      string // part of the error description; "" = valid
	}{
		{"example", "example", ""},
		{"Example", "example", ""},
		{"SomeNewDnsName", "somenewdnsname", ""},
		{"www", "www", ""},
		{"a", "a", ""},
		{"0", "0", ""},
		{"my-site-2", "my-site-2", ""},
		{"a--b", "a--b", ""},
		{strings.Repeat("a", 63), strings.Repeat("a", 63), ""},
		{"", "", "empty"},
		{strings.Repeat("a", 64), "", "64 characters long, the limit is 63"},
		{"-abc", "", "starts with '-'"},
		{"abc-", "", "ends with '-'"},
		{"-", "", "starts with '-'"},
		{"a.b", "", `character 2 is "."`},
		{"a_b", "", `character 2 is "_"`},
		{"a b", "", `character 2 is " "`},
		{"a/b", "", `character 2 is "/"`},
		{"été", "", `character 1 is "é"`},
		{"ab\x00", "", `character 3`},
		{"ab\xff", "", `\\xff`},
	}
	for _, tc := range cases {
		got, err := dns.CheckName("long_name", tc.in)
		if tc.why == "" {
			require.NoError(t, err, "%q", tc.in)
			assert.Equal(t, tc.want, got, "%q", tc.in)
			continue
		}
		require.ErrorIs(t, err, wire.ErrInvalidDNSName, "%q", tc.in)
		assert.Contains(t, err.Error(), tc.why, "%q", tc.in)
		assert.Contains(t, err.Error(), "data.long_name", "%q", tc.in)
	}
}

func TestNameRulesOnTheWire(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "alpha", false)
	ctx := ctxT(t)
	mkdir(t, c, false, "site")
	for _, bad := range []string{"", "-x", "x-", "a.b", "a_b", strings.Repeat("x", 64), "ünï"} {
		err := c.RegisterDNS(ctx, service(bad, "www", "site"))
		require.ErrorIs(t, err, wire.ErrInvalidDNSName, "long %q", bad)
		assert.Contains(t, err.Error(), "data.long_name")
		err = c.RegisterDNS(ctx, service("good", bad, "site"))
		require.ErrorIs(t, err, wire.ErrInvalidDNSName, "service %q", bad)
		assert.Contains(t, err.Error(), "data.service_name")
	}
	// Case-insensitive: stored lower-case, and the same name whatever the case.
	require.NoError(t, c.RegisterDNS(ctx, service("MySite", "WWW", "site")))
	err := c.RegisterDNS(ctx, service("mysite", "www", "site"))
	require.ErrorIs(t, err, wire.ErrNameTaken)
	names, err := c.ListLongNames(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"mysite"}, names)
	svcs, err := c.ListServices(ctx, "MYSITE")
	require.NoError(t, err)
	assert.Equal(t, []string{"www"}, svcs)
}

func TestRequestsAndErrors(t *testing.T) {
	e := newEnv(t)
	_, a := e.app(t, "alpha", false)
	_, b := e.app(t, "beta", false)
	ctx := ctxT(t)

	mkdir(t, a, false, "site")
	put(t, a, false, "site/index.html", []byte("<h1>hi</h1>"))
	mkdir(t, a, false, "site/sub")
	put(t, a, false, "site/sub/a.txt", []byte("0123456789"))
	require.NoError(t, a.CreateDir(ctx, wire.CreateDirRequest{DirPath: "site/secret", IsPrivate: true, UserMetadata: wire.Bytes{}}))
	put(t, a, false, "site/secret/key.txt", []byte("secret"))
	mkdir(t, a, false, "blog")
	require.NoError(t, a.CreateDir(ctx, wire.CreateDirRequest{DirPath: "private", IsPrivate: true, UserMetadata: wire.Bytes{}}))
	put(t, a, false, "afile", []byte("x"))

	// Home directory checks.
	for _, tc := range []struct {
		home string
		want *wire.Error
	}{
		{"nosuch", wire.ErrPathNotFound},
		{"site/nosuch", wire.ErrPathNotFound},
		{"afile", wire.ErrNotADirectory},
		{"private", dns.ErrServiceDirPrivate},
		{"/", wire.ErrRootOperation},
		{"", wire.ErrRootOperation},
		{"site/../blog", wire.ErrInvalidPath},
	} {
		err := a.RegisterDNS(ctx, service("example", "www", tc.home))
		require.ErrorIs(t, err, tc.want, "home %q: %v", tc.home, err)
	}
	_, err := a.ListServices(ctx, "example")
	require.ErrorIs(t, err, wire.ErrNameNotFound, "failed registrations leave nothing behind")

	// register-dns; a second registration of the name fails, whoever asks.
	require.NoError(t, a.RegisterDNS(ctx, service("example", "www", "/site")))
	require.ErrorIs(t, a.RegisterDNS(ctx, service("example", "other", "blog")), wire.ErrNameTaken)
	mkdir(t, b, false, "bsite")
	require.ErrorIs(t, b.RegisterDNS(ctx, service("Example", "www", "bsite")), wire.ErrNameTaken)

	// add-service.
	require.NoError(t, a.AddService(ctx, service("example", "blog", "blog")))
	require.ErrorIs(t, a.AddService(ctx, service("example", "BLOG", "site")), wire.ErrServiceExists)
	require.ErrorIs(t, a.AddService(ctx, service("nosuch", "www", "site")), wire.ErrNameNotFound)
	err = b.AddService(ctx, service("example", "b", "bsite"))
	require.ErrorIs(t, err, wire.ErrNotOwner, "only the owner adds services")
	assert.Contains(t, err.Error(), "another app")
	require.ErrorIs(t, a.AddService(ctx, service("example", "x", "private")), dns.ErrServiceDirPrivate)

	// Reads, by any app.
	names, err := b.ListLongNames(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"example"}, names)
	svcs, err := b.ListServices(ctx, "example")
	require.NoError(t, err)
	assert.Equal(t, []string{"blog", "www"}, svcs)
	_, err = b.ListServices(ctx, "nosuch")
	require.ErrorIs(t, err, wire.ErrNameNotFound)
	_, err = b.ListServices(ctx, "bad_name")
	require.ErrorIs(t, err, wire.ErrInvalidDNSName)

	home, err := b.GetHomeDir(ctx, "example", "www")
	require.NoError(t, err)
	assert.Equal(t, "site", home.Info.Name)
	require.Len(t, home.Files, 1)
	assert.Equal(t, "index.html", home.Files[0].Name)
	require.Len(t, home.SubDirectories, 1, "private sub-directories are not listed")
	assert.Equal(t, "sub", home.SubDirectories[0].Name)
	_, err = b.GetHomeDir(ctx, "example", "nosuch")
	require.ErrorIs(t, err, wire.ErrServiceNotFound)
	_, err = b.GetHomeDir(ctx, "nosuch", "www")
	require.ErrorIs(t, err, wire.ErrNameNotFound)

	f, err := b.GetServiceFile(ctx, wire.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "index.html", Length: -1})
	require.NoError(t, err)
	assert.Equal(t, "<h1>hi</h1>", string(f.Content))
	assert.Nil(t, f.Metadata)
	f, err = b.GetServiceFile(ctx, wire.ServiceFileRequest{LongName: "EXAMPLE", ServiceName: "Www", FilePath: "/sub/a.txt", Offset: 2, Length: 3, IncludeMetadata: true})
	require.NoError(t, err)
	assert.Equal(t, "234", string(f.Content))
	require.NotNil(t, f.Metadata)
	assert.Equal(t, "a.txt", f.Metadata.Name)
	assert.EqualValues(t, 10, f.Metadata.Size)
	for _, tc := range []struct {
		req  wire.ServiceFileRequest
		want *wire.Error
	}{
		{wire.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "nosuch.html", Length: -1}, wire.ErrPathNotFound},
		{wire.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "sub", Length: -1}, wire.ErrNotAFile},
		{wire.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "", Length: -1}, wire.ErrRootOperation},
		{wire.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "../afile", Length: -1}, wire.ErrInvalidPath},
		{wire.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "secret/key.txt", Length: -1}, dns.ErrServiceDirPrivate},
		{wire.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "sub/a.txt", Offset: 11, Length: -1}, wire.ErrOutOfRange},
		{wire.ServiceFileRequest{LongName: "example", ServiceName: "nosuch", FilePath: "index.html", Length: -1}, wire.ErrServiceNotFound},
		{wire.ServiceFileRequest{LongName: "nosuch", ServiceName: "www", FilePath: "index.html", Length: -1}, wire.ErrNameNotFound},
		{wire.ServiceFileRequest{LongName: "-", ServiceName: "www", FilePath: "index.html", Length: -1}, wire.ErrInvalidDNSName},
	} {
		_, err := b.GetServiceFile(ctx, tc.req)
		require.ErrorIs(t, err, tc.want, "%+v: %v", tc.req, err)
	}

	// Deletes: only the owner.
	err = b.DeleteService(ctx, "example", "blog")
	require.ErrorIs(t, err, wire.ErrNotOwner)
	assert.Contains(t, err.Error(), "another app")
	require.ErrorIs(t, b.DeleteDNS(ctx, "example"), wire.ErrNotOwner)
	require.NoError(t, a.DeleteService(ctx, "example", "BLOG"))
	require.ErrorIs(t, a.DeleteService(ctx, "example", "blog"), wire.ErrServiceNotFound)
	require.ErrorIs(t, a.DeleteService(ctx, "nosuch", "blog"), wire.ErrNameNotFound)
	svcs, err = a.ListServices(ctx, "example")
	require.NoError(t, err)
	assert.Equal(t, []string{"www"}, svcs)
	require.NoError(t, a.DeleteService(ctx, "example", "www"))
	svcs, err = a.ListServices(ctx, "example")
	require.NoError(t, err)
	assert.Empty(t, svcs, "a name without services stays registered")
	assert.NotNil(t, svcs)
	require.NoError(t, a.AddService(ctx, service("example", "www", "site")))
	require.NoError(t, a.DeleteDNS(ctx, "Example"))
	require.ErrorIs(t, a.DeleteDNS(ctx, "example"), wire.ErrNameNotFound)
	names, err = a.ListLongNames(ctx)
	require.NoError(t, err)
	assert.Empty(t, names)
	assert.NotNil(t, names)
	_, err = a.GetHomeDir(ctx, "example", "www")
	require.ErrorIs(t, err, wire.ErrNameNotFound)

	// A deleted name is free for anyone.
	require.NoError(t, b.RegisterDNS(ctx, service("example", "www", "bsite")))
	home, err = a.GetHomeDir(ctx, "example", "www")
	require.NoError(t, err)
	assert.Equal(t, "bsite", home.Info.Name)
}

func TestVersionsAndEnvelope(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "alpha", false)
	ctx := ctxT(t)
	mkdir(t, c, false, "site")
	mkdir(t, c, false, "blog")

	// register-dns exactly as the RFC writes it (v1.0, "data").
	_, err := c.CallRaw(ctx, []byte(`{"endpoint":"safe-api/v1.0/dns/register-dns","data":{"long_name":"SomeNewDnsName","service_name":"www","is_path_shared":false,"service_home_dir_path":"/site"}}`))
	require.NoError(t, err)
	// add-service exactly as the RFC writes it: fields under "parameters".
	_, err = c.CallRaw(ctx, []byte(`{"endpoint":"safe-api/v1.0/dns/add-service","parameters":{"long_name":"SomeNewDnsName","service_name":"blog","is_path_shared":false,"service_home_dir_path":"blog"}}`))
	require.NoError(t, err)
	svcs, err := c.ListServices(ctx, "somenewdnsname")
	require.NoError(t, err)
	assert.Equal(t, []string{"blog", "www"}, svcs)
	// A duplicate through "parameters" gets the right error, so the fields were read.
	_, err = c.CallRaw(ctx, []byte(`{"endpoint":"safe-api/v1.0/dns/add-service","parameters":{"long_name":"somenewdnsname","service_name":"blog","is_path_shared":false,"service_home_dir_path":"blog"}}`))
	require.ErrorIs(t, err, wire.ErrServiceExists)

	// Strict decoding: missing and mistyped fields are named.
	for _, tc := range []struct {
		msg   string
		want  *wire.Error
		field string
	}{
		{`{"endpoint":"safe-api/v1.0/dns/register-dns","data":{"service_name":"www","is_path_shared":false,"service_home_dir_path":"site"}}`, wire.ErrMissingField, "data.long_name"},
		{`{"endpoint":"safe-api/v1.0/dns/add-service","parameters":{"long_name":"x","service_name":"www","service_home_dir_path":"site"}}`, wire.ErrMissingField, "data.is_path_shared"},
		{`{"endpoint":"safe-api/v1.0/dns/register-dns","data":{"long_name":5,"service_name":"www","is_path_shared":false,"service_home_dir_path":"site"}}`, wire.ErrWrongType, "data.long_name"},
		{`{"endpoint":"safe-api/v1.0/dns/register-dns"}`, wire.ErrMissingField, "data"},
		{`{"endpoint":"safe-api/v1.1/dns/list-services","data":{}}`, wire.ErrMissingField, "data.long_name"},
		{`{"endpoint":"safe-api/v1.1/dns/list-long-names","data":[]}`, wire.ErrWrongType, "data"},
	} {
		_, err := c.CallRaw(ctx, []byte(tc.msg))
		require.ErrorIs(t, err, tc.want, tc.msg)
		assert.Contains(t, err.Error(), tc.field, tc.msg)
	}

	// list-long-names takes no data, an empty object or null.
	for _, msg := range []string{
		`{"endpoint":"safe-api/v1.1/dns/list-long-names"}`,
		`{"endpoint":"safe-api/v1.1/dns/list-long-names","data":{}}`,
		`{"endpoint":"safe-api/v1.1/dns/list-long-names","data":null}`,
	} {
		raw, err := c.CallRaw(ctx, []byte(msg))
		require.NoError(t, err, msg)
		assert.JSONEq(t, `{"long_names":["somenewdnsname"]}`, string(raw), msg)
	}

	// The v1.1 additions do not exist in v1.0; v1.0 requests exist in v1.1.
	for _, r := range []string{"list-long-names", "list-services", "get-home-dir", "get-file", "delete-service", "delete-dns"} {
		_, err := c.CallRaw(ctx, []byte(`{"endpoint":"safe-api/v1.0/dns/`+r+`","data":{}}`))
		require.ErrorIs(t, err, wire.ErrUnknownRequest, r)
	}
	_, err = c.CallRaw(ctx, []byte(`{"endpoint":"safe-api/v1.1/dns/add-service","data":{"long_name":"somenewdnsname","service_name":"v11","is_path_shared":false,"service_home_dir_path":"site"}}`))
	require.NoError(t, err)
}

func TestRenameAndMove(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "alpha", false)
	ctx := ctxT(t)
	mkdir(t, c, false, "site")
	put(t, c, false, "site/index.html", []byte("original"))
	require.NoError(t, c.RegisterDNS(ctx, service("example", "www", "site")))
	read := func() (string, error) {
		f, err := c.GetServiceFile(ctx, wire.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "index.html", Length: -1})
		if err != nil {
			return "", err
		}
		return string(f.Content), nil
	}

	// Rename through nfs/modify-dir: the service follows.
	require.NoError(t, c.ModifyDir(ctx, wire.ModifyDirRequest{DirPath: "site", NewValues: wire.DirNewValues{Name: strp("site-renamed")}}))
	got, err := read()
	require.NoError(t, err)
	assert.Equal(t, "original", got)
	res, err := e.dns.Resolve(ctx, "www.example")
	require.NoError(t, err)
	assert.Equal(t, vfs.Path{"site-renamed"}, res.Path)

	// A new directory at the old path is somebody else's: not served.
	mkdir(t, c, false, "site")
	put(t, c, false, "site/index.html", []byte("impostor"))
	got, err = read()
	require.NoError(t, err)
	assert.Equal(t, "original", got)

	// Moved (vfs MoveDir) into another directory: still followed.
	mkdir(t, c, false, "archive")
	_, err = e.store.MoveDir(ctx, vfs.AppRoot("alpha-Root-Dir"), vfs.Path{"site-renamed"}, vfs.Path{"archive"})
	require.NoError(t, err)
	got, err = read()
	require.NoError(t, err)
	assert.Equal(t, "original", got)
	home, err := c.GetHomeDir(ctx, "example", "www")
	require.NoError(t, err)
	assert.Equal(t, "site-renamed", home.Info.Name)
	names, err := e.dns.Names(ctx)
	require.NoError(t, err)
	require.Len(t, names, 1)
	require.Len(t, names[0].Services, 1)
	assert.Equal(t, "/archive/site-renamed", names[0].Services[0].Path)
	assert.Equal(t, "app:alpha-Root-Dir", names[0].Services[0].Root)
	assert.Equal(t, "id-alpha", names[0].Owner)
}

func TestDeletedHome(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "alpha", false)
	ctx := ctxT(t)
	mkdir(t, c, false, "parent")
	mkdir(t, c, false, "parent/site")
	put(t, c, false, "parent/site/index.html", []byte("original"))
	require.NoError(t, c.RegisterDNS(ctx, service("example", "www", "parent/site")))

	// Deleting an ancestor deletes the home directory too.
	require.NoError(t, c.DeleteDir(ctx, false, "parent"))
	// The same path again, with other content: never served in its place.
	mkdir(t, c, false, "parent")
	mkdir(t, c, false, "parent/site")
	put(t, c, false, "parent/site/index.html", []byte("impostor"))

	_, err := c.GetHomeDir(ctx, "example", "www")
	require.ErrorIs(t, err, wire.ErrServiceDirGone)
	assert.Contains(t, err.Error(), "deleted")
	_, err = c.GetServiceFile(ctx, wire.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "index.html", Length: -1})
	require.ErrorIs(t, err, wire.ErrServiceDirGone)
	_, err = e.dns.Resolve(ctx, "www.example")
	require.ErrorIs(t, err, wire.ErrServiceDirGone)
	names, err := e.dns.Names(ctx)
	require.NoError(t, err)
	require.Len(t, names[0].Services, 1)
	assert.True(t, names[0].Services[0].Gone)
	assert.Empty(t, names[0].Services[0].Path)

	// The owner can point the service at the new directory.
	require.NoError(t, c.DeleteService(ctx, "example", "www"))
	require.NoError(t, c.AddService(ctx, service("example", "www", "parent/site")))
	f, err := c.GetServiceFile(ctx, wire.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "index.html", Length: -1})
	require.NoError(t, err)
	assert.Equal(t, "impostor", string(f.Content))

	// Removing the app removes its root: the service's directory is gone.
	require.NoError(t, e.store.DeleteRoot(vfs.AppRoot("alpha-Root-Dir")))
	_, err = e.dns.Resolve(ctx, "www.example")
	require.ErrorIs(t, err, wire.ErrServiceDirGone)
	// The user (CLI) can free the name of a removed app.
	require.ErrorIs(t, e.dns.DeleteName(ctx, "nosuch"), wire.ErrNameNotFound)
	require.ErrorIs(t, e.dns.DeleteName(ctx, "bad_name"), wire.ErrInvalidDNSName)
	require.NoError(t, e.dns.DeleteName(ctx, "Example"))
	_, err = e.dns.Resolve(ctx, "www.example")
	require.ErrorIs(t, err, wire.ErrNameNotFound)
}

func TestSharedHome(t *testing.T) {
	e := newEnv(t)
	a, ca := e.app(t, "alpha", false)
	_, cb := e.app(t, "beta", true)
	ctx := ctxT(t)
	mkdir(t, cb, true, "pub")
	put(t, cb, true, "pub/index.html", []byte("shared site"))

	shared := wire.ServiceRequest{LongName: "shared", ServiceName: "www", IsPathShared: true, ServiceHomeDirPath: "pub"}
	require.ErrorIs(t, ca.RegisterDNS(ctx, shared), wire.ErrSharedDenied)
	// Granted live: the same session may now use SAFEDrive.
	a.SharedDrive = true
	e.d.Apps.Put(a)
	require.NoError(t, ca.RegisterDNS(ctx, shared))
	// The path is looked up in SAFEDrive, not in the app's root.
	mkdir(t, ca, false, "pub2")
	require.ErrorIs(t, ca.AddService(ctx, wire.ServiceRequest{LongName: "shared", ServiceName: "x", IsPathShared: true, ServiceHomeDirPath: "pub2"}), wire.ErrPathNotFound)
	// Revoked live: no new shared services...
	a.SharedDrive = false
	e.d.Apps.Put(a)
	mkdir(t, cb, true, "pub3")
	require.ErrorIs(t, ca.AddService(ctx, wire.ServiceRequest{LongName: "shared", ServiceName: "blog", IsPathShared: true, ServiceHomeDirPath: "pub3"}), wire.ErrSharedDenied)
	// ...but the published site stays readable (the user published it).
	f, err := cb.GetServiceFile(ctx, wire.ServiceFileRequest{LongName: "shared", ServiceName: "www", FilePath: "index.html", Length: -1})
	require.NoError(t, err)
	assert.Equal(t, "shared site", string(f.Content))
	res, err := e.dns.Resolve(ctx, "www.shared")
	require.NoError(t, err)
	assert.Equal(t, vfs.SharedRoot(), res.Root)
	assert.Equal(t, "id-alpha", res.Owner)
}

func TestResolve(t *testing.T) {
	e := newEnv(t)
	_, c := e.app(t, "alpha", false)
	ctx := ctxT(t)
	mkdir(t, c, false, "site")
	require.NoError(t, c.RegisterDNS(ctx, service("example", "www", "site")))
	for _, h := range []string{"www.example", "WWW.Example"} {
		res, err := e.dns.Resolve(ctx, h)
		require.NoError(t, err, h)
		assert.Equal(t, "www.example", res.Host())
		assert.Equal(t, vfs.AppRoot("alpha-Root-Dir"), res.Root)
		assert.Equal(t, vfs.Path{"site"}, res.Path)
		assert.Equal(t, "site", res.Dir.Name)
	}
	for h, want := range map[string]*wire.Error{
		"example":          wire.ErrInvalidDNSName,
		"a.www.example":    wire.ErrInvalidDNSName,
		"www.example.":     wire.ErrInvalidDNSName,
		"www.exa_mple":     wire.ErrInvalidDNSName,
		"":                 wire.ErrInvalidDNSName,
		"blog.example":     wire.ErrServiceNotFound,
		"www.nosuch":       wire.ErrNameNotFound,
		"www.example:8080": wire.ErrInvalidDNSName,
	} {
		_, err := e.dns.Resolve(ctx, h)
		require.ErrorIs(t, err, want, "%q: %v", h, err)
	}
}

func TestConcurrentRegistration(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		_, c := e.app(t, fmt.Sprintf("app%d", i), false)
		mkdir(t, c, false, "site")
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.RegisterDNS(ctx, service("race", "www", "site"))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			require.ErrorIs(t, err, wire.ErrNameTaken)
		}
	}
	assert.Equal(t, 1, won)
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	open := func() *vfs.Store {
		s, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), vfs.Options{})
		require.NoError(t, err)
		require.NoError(t, s.Unlock(&vfs.Keys{})) // the store opens locked; fixed (zero) test keys
		return s
	}
	ctx := ctxT(t)
	store := open()
	root := vfs.AppRoot("alpha-Root-Dir")
	_, err := store.CreateRoot(root)
	require.NoError(t, err)
	_, err = store.CreateDir(ctx, root, vfs.Path{"site"}, false, false, nil)
	require.NoError(t, err)

	// Register through a daemon, then restart everything from disk.
	func() {
		m, err := dns.New(store)
		require.NoError(t, err)
		d := startWith(t, store, m)
		d.AddApp("alpha", false)
		c := d.Dial(t, "id-alpha")
		require.NoError(t, c.RegisterDNS(ctx, service("example", "www", "site")))
		require.NoError(t, c.AddService(ctx, service("example", "blog", "site")))
		c.Close()
		d.Stop()
	}()
	require.NoError(t, store.Close())

	store = open()
	defer store.Close()
	m, err := dns.New(store)
	require.NoError(t, err)
	names, err := m.Names(ctx)
	require.NoError(t, err)
	require.Len(t, names, 1)
	assert.Equal(t, "example", names[0].LongName)
	assert.Equal(t, "id-alpha", names[0].Owner)
	require.Len(t, names[0].Services, 2)
	assert.Equal(t, "blog", names[0].Services[0].Name)
	assert.Equal(t, "/site", names[0].Services[1].Path)
	_, err = m.Resolve(ctx, "www.example")
	require.NoError(t, err)

	// The records are in the database's tables, no root of the store.
	assert.False(t, store.RootExists(vfs.ReservedRoot(dns.RecordsRootName)))

	// A row that breaks the name rules is reported, not served.
	require.NoError(t, store.Update(ctx, func(tx *vfs.Tx) error {
		return dns.PutNameRow(tx, "Bad.Name", "x")
	}))
	_, err = m.Names(ctx)
	require.ErrorIs(t, err, dns.ErrBadRecord)
	require.NotErrorIs(t, err, vfs.ErrIntegrity, "the row is well sealed, its name is bad")
	require.False(t, errors.Is(err, wire.ErrInternal))
	require.NoError(t, store.Update(ctx, func(tx *vfs.Tx) error {
		return dns.DropNameRow(tx, "Bad.Name")
	}))

	// Tables newer than this launcher are refused.
	require.NoError(t, store.Update(ctx, func(tx *vfs.Tx) error {
		_, err := tx.SQL().ExecContext(tx.Context(), `UPDATE schema_version SET version = 3 WHERE component = 'dns'`)
		return err
	}))
	_, err = dns.New(store)
	require.ErrorIs(t, err, dns.ErrBadRecord)
	assert.Contains(t, err.Error(), "version 3")

	// The tables of version 1 (in the clear) are refused: no migration.
	require.NoError(t, store.Update(ctx, func(tx *vfs.Tx) error {
		_, err := tx.SQL().ExecContext(tx.Context(), `UPDATE schema_version SET version = 1 WHERE component = 'dns'`)
		return err
	}))
	_, err = dns.New(store)
	require.ErrorIs(t, err, dns.ErrOldFormat)
}

// TestOldFormatRefused: records kept as files in the reserved root (the
// format before the database) are refused with ErrOldFormat, saying so; an
// empty such root is removed.
func TestOldFormatRefused(t *testing.T) {
	ctx := ctxT(t)
	store, err := vfs.Open(afero.NewMemMapFs(), vfs.Options{})
	require.NoError(t, err)
	defer store.Close()
	require.NoError(t, store.Unlock(&vfs.Keys{})) // the store opens locked; fixed (zero) test keys
	rr := vfs.ReservedRoot(dns.RecordsRootName)
	_, err = store.CreateRoot(rr)
	require.NoError(t, err)
	_, err = dns.New(store)
	require.NoError(t, err)
	assert.False(t, store.RootExists(rr), "the empty area of the old format is removed")

	_, err = store.CreateRoot(rr)
	require.NoError(t, err)
	_, err = store.CreateFile(ctx, rr, vfs.Path{"example.json"}, nil)
	require.NoError(t, err)
	_, err = dns.New(store)
	require.ErrorIs(t, err, dns.ErrOldFormat)
	assert.Contains(t, err.Error(), "no migration")
	assert.True(t, store.RootExists(rr), "nothing of the old records is touched")
}
