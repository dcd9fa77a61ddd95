package dns

import (
	"fmt"
	"strings"
)

// MaxLabelLen is the longest long name or service name, in characters.
const MaxLabelLen = 63

// CheckName validates a long name or service name (field names it in the
// error) and returns it in its stored, lower-case form. A name is 1 to
// MaxLabelLen characters of a-z, 0-9 and '-', not starting or ending with '-';
// upper-case ASCII letters are accepted and folded, so names compare
// case-insensitively. The error is a *wire.Error with CodeInvalidDNSName that
// says why the name was refused.
func CheckName(field, name string) (string, error) {
	why := nameProblem(name)
	if why != "" {
		return "", invalidName(field, name, why)
	}
	return strings.ToLower(name), nil
}

func nameProblem(name string) string {
	switch {
	case name == "":
		return "it is empty"
	case len(name) > MaxLabelLen:
		return fmt.Sprintf("it is %d characters long, the limit is %d", len(name), MaxLabelLen)
	case name[0] == '-':
		return "it starts with '-'"
	case name[len(name)-1] == '-':
		return "it ends with '-'"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		default:
			return fmt.Sprintf("character %d is %q; only a-z, 0-9 and '-' are allowed", i+1, printable(name[i:]))
		}
	}
	return ""
}

// printable returns the first rune of s, or its first byte in hex when s does
// not start with valid UTF-8.
func printable(s string) string {
	for _, r := range s {
		if r == '\uFFFD' {
			return fmt.Sprintf("\\x%02x", s[0])
		}
		return string(r)
	}
	return ""
}

func invalidName(field, name, why string) error {
	shown := name
	if len(shown) > MaxLabelLen+8 {
		shown = shown[:MaxLabelLen] + "..."
	}
	return errInvalidName(fmt.Sprintf("field %q (%q) is not a valid DNS name: %s", "data."+field, shown, why))
}
