package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps enforces, transitively, that the SDK shares only the protocol's
// leaf packages (wire, framing, handshake) with the daemon and never pulls
// in server code. The import rules of every package are in
// internal/deps/deps_test.go.
func TestDeps(t *testing.T) {
	const mod = "github.com/safe-launcher/launcher/"
	allowed := map[string][]string{
		"client":    {"wire", "framing", "handshake"},
		"framing":   {},
		"handshake": {},
		"wire":      {},
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
