//go:build race

package sockio_test

const raceBuild = true
