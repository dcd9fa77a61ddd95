//go:build !unix

package vfs

// oNoFollow is 0 where the OS has no O_NOFOLLOW; Lstat checks still apply.
const oNoFollow = 0
