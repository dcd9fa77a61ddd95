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
// UTF-8 without U+FFFD, no NUL, no "/", not "." or "..", 1 to MaxNameLen
// bytes. Names are compared byte for byte: no case folding or Unicode
// normalisation is done, so "A" and "a", or two encodings of "é", are
// different names. The error wraps ErrInvalidPath and quotes the name
// (truncated if very long).
//
// U+FFFD, the replacement character, is refused because it is what a
// decoder puts in place of bytes that are not UTF-8 or of a lone UTF-16
// surrogate (encoding/json turns the JSON string "a\ud800b" into
// "a\uFFFDb"): two different names sent by an app would otherwise arrive as
// the same one and collide.
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
	case strings.ContainsRune(name, utf8.RuneError):
		return fmt.Errorf("%w: name %+q holds U+FFFD, the stand-in for bytes that are not UTF-8 or a lone surrogate", ErrInvalidPath, name)
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
	kind   rootKind
	name   string
	writer string // SharedRootFor: the app root charged for what is written
}

// AppRoot is the private root of an app, named by its root directory name
// (e.g. "mail-Root-Dir"). The name must satisfy ValidName for CreateRoot to
// accept it.
func AppRoot(dirName string) Root { return Root{kind: kindApp, name: dirName} }

// SharedRoot is the user's shared root (SAFEDrive), as the launcher itself
// uses it: what is written through it is charged to no app, only to the
// drive's total (Options.SharedQuota). An app's requests use SharedRootFor.
func SharedRoot() Root { return Root{kind: kindShared} }

// SharedRootFor is SAFEDrive as written by the app whose private root is
// AppRoot(appRootDir): the same tree as SharedRoot, but every entry, content
// byte and metadata byte a change through it adds is charged to that app
// (its Options.AppQuota covers its private root and what it wrote in
// SAFEDrive together) as well as to the drive's total. An entry is charged
// to the app that last wrote it: creating it, or changing its content or
// user metadata, moves the whole entry to the writer's account; a rename or
// a move does not. Deleting credits whoever it is charged to. The name must
// satisfy ValidName.
func SharedRootFor(appRootDir string) Root {
	return Root{kind: kindShared, writer: appRootDir}
}

// ReservedRoot is an area reserved for the launcher (e.g. "dns"). No app root
// or shared path can reach it. Nothing in it counts against a quota.
func ReservedRoot(name string) Root { return Root{kind: kindReserved, name: name} }

// IsShared reports whether r is SAFEDrive (SharedRoot or SharedRootFor).
func (r Root) IsShared() bool { return r.kind == kindShared }

// Writer returns the app root name a change through r is charged to: the
// name of an AppRoot, the app of a SharedRootFor, "" for SharedRoot and
// ReservedRoot (no app).
func (r Root) Writer() string {
	switch r.kind {
	case kindApp:
		return r.name
	case kindShared:
		return r.writer
	}
	return ""
}

// String returns "app:<name>", "shared", "reserved:<name>", or "none" for the
// zero Root: the key of the tree in the store's roots table, so
// SharedRootFor(x) is "shared" too (it names the same tree).
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
		if r.writer != "" {
			if err := ValidName(r.writer); err != nil {
				return fmt.Errorf("SAFEDrive writer: %w", err)
			}
		}
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
