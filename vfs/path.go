package vfs

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNameLen is the longest name (in bytes) of a directory or file.
const MaxNameLen = 255

// Path is a validated list of names below a root. The empty Path is the root
// itself. Build one with ParsePath; every Store method validates a Path again,
// so a Path written as a literal cannot escape its root either.
type Path []string

// ParsePath splits s on "/", drops empty segments and validates every
// segment with ValidName. The error wraps ErrInvalidPath and quotes the
// offending segment. "" and "/" give the empty Path (the root).
func ParsePath(s string) (Path, error) {
	var p Path
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "" {
			continue
		}
		if err := ValidName(seg); err != nil {
			return nil, err
		}
		p = append(p, seg)
	}
	return p, nil
}

// ValidName reports whether name may be the name of a directory or file: valid
// UTF-8, no NUL, no "/", not "." or "..", 1 to MaxNameLen bytes. Names are
// compared byte for byte: no case folding or Unicode normalisation is done, so
// "A" and "a", or two encodings of "é", are different names. The error wraps
// ErrInvalidPath and quotes the name (truncated if very long).
func ValidName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrInvalidPath)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name %q... is %d bytes, more than %d", ErrInvalidPath, truncName(name), len(name), MaxNameLen)
	case name == "." || name == "..":
		return fmt.Errorf("%w: name %q is not allowed", ErrInvalidPath, name)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name %q is not valid UTF-8", ErrInvalidPath, name)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: name %q contains NUL", ErrInvalidPath, name)
	case strings.IndexByte(name, '/') >= 0:
		return fmt.Errorf("%w: name %q contains \"/\"", ErrInvalidPath, name)
	}
	return nil
}

// truncName shortens a name for an error message, on a rune boundary.
func truncName(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// validate checks every segment of p.
func (p Path) validate() error {
	for _, seg := range p {
		if err := ValidName(seg); err != nil {
			return err
		}
	}
	return nil
}

// String returns p as "/a/b"; the empty Path is "/". Segments are printed
// as they are, so the result is for messages, not for parsing back.
func (p Path) String() string {
	if len(p) == 0 {
		return "/"
	}
	return "/" + strings.Join(p, "/")
}

type rootKind uint8

const (
	kindNone rootKind = iota
	kindApp
	kindShared
	kindReserved
)

// Root names one tree of the store: an app's private root, the user's shared
// SAFEDrive, or an area reserved for the launcher itself. Roots of different
// kinds never alias: AppRoot("dns") and ReservedRoot("dns") are different
// trees, and no Path below one root reaches another. The zero Root names no
// tree (methods return ErrNoRoot).
type Root struct {
	kind rootKind
	name string
}

// AppRoot is the private root of an app, named by its root directory name
// (e.g. "mail-Root-Dir"). The name must satisfy ValidName for CreateRoot to
// accept it.
func AppRoot(dirName string) Root { return Root{kindApp, dirName} }

// SharedRoot is the user's shared root (SAFEDrive).
func SharedRoot() Root { return Root{kindShared, ""} }

// ReservedRoot is an area reserved for the launcher (e.g. "dns"). No app root
// or shared path can reach it.
func ReservedRoot(name string) Root { return Root{kindReserved, name} }

// String returns "app:<name>", "shared", "reserved:<name>", or "none" for the
// zero Root. It is also the key of the root in roots.json.
func (r Root) String() string {
	switch r.kind {
	case kindApp:
		return "app:" + r.name
	case kindShared:
		return "shared"
	case kindReserved:
		return "reserved:" + r.name
	}
	return "none"
}

// valid checks that r names a possible root.
func (r Root) valid() error {
	switch r.kind {
	case kindShared:
		return nil
	case kindApp, kindReserved:
		if err := ValidName(r.name); err != nil {
			return fmt.Errorf("root %s: %w", r.kindName(), err)
		}
		return nil
	}
	return fmt.Errorf("%w: the zero Root", ErrNoRoot)
}

func (r Root) kindName() string {
	switch r.kind {
	case kindApp:
		return "app"
	case kindReserved:
		return "reserved"
	}
	return r.String()
}

// parseRootKey is the inverse of Root.String for valid roots.
func parseRootKey(k string) (Root, bool) {
	var r Root
	switch {
	case k == "shared":
		r = SharedRoot()
	case strings.HasPrefix(k, "app:"):
		r = AppRoot(k[len("app:"):])
	case strings.HasPrefix(k, "reserved:"):
		r = ReservedRoot(k[len("reserved:"):])
	default:
		return Root{}, false
	}
	return r, r.valid() == nil
}
