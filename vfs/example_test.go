package vfs_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/safe-launcher/launcher/vfs"
	"github.com/spf13/afero"
)

func Example() {
	ctx := context.Background()
	s, err := vfs.Open(afero.NewMemMapFs(), vfs.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	// The store opens locked; the daemon unlocks it with keys derived
	// from the user's master key.
	keys, err := vfs.RandomKeys(rand.Reader)
	if err != nil {
		panic(err)
	}
	err = s.Unlock(keys)
	keys.Wipe() // the store keeps its own copy
	if err != nil {
		panic(err)
	}
	root := vfs.AppRoot("mail-Root-Dir")
	if _, err := s.CreateRoot(root); err != nil {
		panic(err)
	}
	site, _ := vfs.ParsePath("mysite")
	if _, err := s.CreateDir(ctx, root, site, false, false, nil); err != nil {
		panic(err)
	}
	page, _ := vfs.ParsePath("mysite/index.html")
	if _, err := s.CreateFile(ctx, root, page, nil); err != nil {
		panic(err)
	}
	fi, err := s.ModifyFile(ctx, root, page, vfs.FileChange{Content: &vfs.Content{Bytes: []byte("<h1>hi</h1>")}})
	if err != nil {
		panic(err)
	}
	fmt.Println(fi.Name, fi.Size)

	_, err = vfs.ParsePath("mysite/../../etc")
	fmt.Println(errors.Is(err, vfs.ErrInvalidPath), err)

	_, err = s.GetDir(ctx, root, vfs.Path{"nope"})
	fmt.Println(errors.Is(err, vfs.ErrNotFound), err)
	// Output:
	// index.html 11
	// true vfs: invalid path: name ".." is not allowed
	// true vfs: not found: no directory "nope" in /
}
