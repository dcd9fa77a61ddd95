package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps enforces the direction of dependencies: the SDK shares only wire
// types and the protocol's leaf packages (framing, handshake) with the
// daemon, and the leaf packages import nothing of ours but
// internal/rawfile (the store's raw log appends), which imports nothing.
func TestDeps(t *testing.T) {
	const mod = "github.com/safe-launcher/launcher/"
	allowed := map[string][]string{
		"client":           {"wire", "framing", "handshake"},
		"internal/bigbuf":  {},
		"internal/sockio":  {},
		"framing":          {},
		"handshake":        {},
		"wire":             {},
		"route":            {"wire"},
		"internal/rawfile": {},
		"vfs":              {"internal/rawfile"},
		"nfs":              {"route", "vfs", "wire", "internal/rawfile"},
	}
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "../"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			name, ours := strings.CutPrefix(dep, mod)
			if !ours || name == pkg {
				continue
			}
			permitted := false
			for _, a := range ok {
				if name == a {
					permitted = true
				}
			}
			if !permitted {
				t.Errorf("%s imports %s, which it must not", pkg, name)
			}
		}
	}
}
