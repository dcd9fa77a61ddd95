package deps_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/safe-launcher/launcher/"

// allowed is, for every package of the module, the packages of the module it
// may import (docs/architecture.md). A package missing from it fails the
// test: a new package says where it stands.
var allowed = map[string][]string{
	// The protocol's leaf packages, shared by the daemon and the SDK.
	"framing":   {},
	"handshake": {},
	"wire":      {},
	// What a module registers.
	"route": {"wire"},
	// The store, and the user's account (key file, keys).
	"vfs":     {},
	"account": {},
	// The modules.
	"nfs": {"route", "vfs", "wire"},
	"dns": {"nfs", "route", "vfs", "wire"},
	// The session engine: no store, no module.
	"launcher": {"framing", "handshake", "route", "wire"},
	// The app registry and the control socket.
	"launcher/apps":    {"launcher", "vfs"},
	"launcher/control": {"dns", "launcher", "launcher/apps", "wire"},
	// The in-process daemon for tests.
	"launcher/launchertest": {"client", "launcher", "vfs"},
	// The SDK: only the protocol's leaf packages.
	"client": {"framing", "handshake", "wire"},
	// Leaves of our own.
	"internal/peercred":   {},
	"internal/lockedbuf":  {},
	"internal/benchfloor": {},
	"internal/deps":       {},
	"internal/testbin":    {},
	"internal/cliflags":   {},
	"internal/testapp":    {"client", "wire"},
	"interop":             {},
	// Apps use the SDK and the wire types only.
	"examples/site-uploader": {"client", "wire"},
	// The binaries wire everything; framegen and launcherbench drive the
	// daemon as apps (launcherbench also runs servers of its own in child
	// processes).
	"cmd/launcher":      nil,
	"cmd/framegen":      {"client", "framing", "handshake", "internal/cliflags", "wire"},
	"cmd/launcherbench": nil,
}

// TestImportRules checks every package's direct imports of the module's
// packages against allowed (nil: any).
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], mod)
		if !ok {
			continue
		}
		rule, known := allowed[pkg]
		if !known {
			t.Errorf("package %s is not in the import rules (internal/deps/deps_test.go, docs/architecture.md)", pkg)
			continue
		}
		if rule == nil {
			continue
		}
		for _, imp := range fields[1:] {
			name, ours := strings.CutPrefix(imp, mod)
			if ours && !slices.Contains(rule, name) {
				t.Errorf("%s imports %s, which it must not (allowed: %v)", pkg, name, rule)
			}
		}
	}
}
