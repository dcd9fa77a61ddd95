//go:build !unix

package dns

// openFileLimit reports that the descriptor limit is unknown here.
func openFileLimit() (uint64, bool) { return 0, false }
