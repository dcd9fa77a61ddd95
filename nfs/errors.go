package nfs

import (
	"context"
	"errors"
	"strings"

	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// storeCodes maps the store's sentinels to wire codes.
var storeCodes = []struct {
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
	{vfs.ErrQuota, wire.CodeStoreLimit},
	{vfs.ErrNoSpace, wire.CodeStoreLimit},
	{vfs.ErrClosed, wire.CodeShuttingDown},
	{vfs.ErrIntegrity, wire.CodeIntegrity},
	{vfs.ErrLocked, wire.CodeLocked},
}

// StoreError turns an error of the store into the *wire.Error an app
// receives: the store's sentinels get their codes, with a description that
// says what was wrong (which path, segment or limit) and names no package of
// the daemon. Errors that are not the app's doing (the store's i/o or
// corruption) are left as they are: the daemon logs them and answers
// "internal error". A *wire.Error and context errors pass through. It is
// exported for the dns module, which uses the same store.
func StoreError(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return err
	}
	for _, m := range storeCodes {
		if errors.Is(err, m.err) {
			return &wire.Error{Code: m.code, Description: describe(err), Err: err}
		}
	}
	return err
}

// Describe is the text of a store error for an app, without the store's
// package prefix; it is exported for the dns module.
func Describe(err error) string { return describe(err) }

// describe is the text of a store error without the store's package prefix
// ("vfs: already exists: a/b" becomes "already exists: a/b").
func describe(err error) string {
	return strings.ReplaceAll(err.Error(), "vfs: ", "")
}

// change runs fn, a request that changes the store, under a context from
// vfs.Defer: the change returns once applied, and the Result carries its
// durability wait, so that the session acknowledges it only once durable
// while its next requests already run.
func change(ctx context.Context, fn func(context.Context) error) (route.Result, error) {
	dctx, d := vfs.Defer(ctx)
	err := fn(dctx)
	if !d.Pending() {
		return route.Result{}, StoreError(err)
	}
	if err != nil {
		// A part of the change was made before it failed: its durability
		// clean-up still runs, before the error is answered.
		if werr := d.Wait(); werr != nil {
			return route.Result{}, werr
		}
		return route.Result{}, StoreError(err)
	}
	return route.Result{Durable: d.Wait}, nil
}

// changeThen is change, then, if the change succeeded, then (which tells the
// watches).
func changeThen(ctx context.Context, fn func(context.Context) error, then func()) (route.Result, error) {
	res, err := change(ctx, fn)
	if err == nil {
		then()
	}
	return res, err
}

// Change is change for the dns module.
func Change(ctx context.Context, fn func(context.Context) error) (route.Result, error) {
	return change(ctx, fn)
}
