package vfs

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var parsePathCases = []struct {
	in      string
	want    Path
	bad     string // non-empty: must fail and the message must quote this
	wantErr bool
}{
	{in: "", want: nil},
	{in: "/", want: nil},
	{in: "///", want: nil},
	{in: "a", want: Path{"a"}},
	{in: "/a/b/", want: Path{"a", "b"}},
	{in: "a//b", want: Path{"a", "b"}},
	{in: "mysite/css/a.css", want: Path{"mysite", "css", "a.css"}},
	{in: "%2e%2e", want: Path{"%2e%2e"}},             // no decoding: a plain name
	{in: "..%2f..", want: Path{"..%2f.."}},           // idem
	{in: "\u2024\u2024", want: Path{"\u2024\u2024"}}, // one-dot leaders, not ".."
	{in: "\uff0e\uff0e", want: Path{"\uff0e\uff0e"}}, // fullwidth full stops
	{in: "a\\..\\b", want: Path{"a\\..\\b"}},         // backslash is an ordinary byte
	{in: "...", want: Path{"..."}},
	{in: " ", want: Path{" "}},
	{in: "é", want: Path{"é"}},
	{in: strings.Repeat("x", 255), want: Path{strings.Repeat("x", 255)}},
	{in: "..", bad: `".."`},
	{in: ".", bad: `"."`},
	{in: "a/../../b", bad: `".."`},
	{in: "a/./b", bad: `"."`},
	{in: "a\x00b", bad: `"a\x00b"`},
	{in: "ok/\xff\xfe", bad: `"\xff\xfe"`},
	{in: "\xc0\xae\xc0\xae", bad: `"\xc0\xae\xc0\xae"`}, // overlong "..": invalid UTF-8
	{in: "ok/a\xed\xa0\x80b", bad: `"a\xed\xa0\x80b"`},  // a surrogate in (invalid) UTF-8
	{in: "ok/a\ufffdb/c", bad: `"a\ufffdb"`},            // what a decoder makes of one`
	{in: strings.Repeat("y", 256), bad: `"yyyy`},
	{in: strings.Repeat("z", 300), bad: "300 bytes"},
}

func TestParsePath(t *testing.T) {
	for _, tc := range parsePathCases {
		t.Run(strconv.Quote(truncName(tc.in)), func(t *testing.T) {
			got, err := ParsePath(tc.in)
			if tc.bad != "" {
				if !errors.Is(err, ErrInvalidPath) {
					t.Fatalf("ParsePath(%q) = %v, %v; want ErrInvalidPath", tc.in, got, err)
				}
				if !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("error %q does not name %s", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePath(%q): %v", tc.in, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ParsePath(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "A", "a b", "日本", "%00", strings.Repeat("é", 127)} {
		if err := ValidName(ok); err != nil {
			t.Errorf("ValidName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "/", "a\x00", "\xff", strings.Repeat("é", 128)} {
		if err := ValidName(bad); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("ValidName(%q) = %v, want ErrInvalidPath", bad, err)
		}
	}
}

func TestPathString(t *testing.T) {
	for _, tc := range []struct {
		p    Path
		want string
	}{{nil, "/"}, {Path{"a"}, "/a"}, {Path{"a", "b c"}, "/a/b c"}} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%q.String() = %q, want %q", []string(tc.p), got, tc.want)
		}
	}
}

func TestRootString(t *testing.T) {
	for _, tc := range []struct {
		r    Root
		want string
	}{
		{AppRoot("mail-Root-Dir"), "app:mail-Root-Dir"},
		{SharedRoot(), "shared"},
		{SharedRootFor("mail-Root-Dir"), "shared"},
		{ReservedRoot("dns"), "reserved:dns"},
		{Root{}, "none"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		if tc.r.kind != kindNone {
			back, ok := parseRootKey(tc.want)
			if !ok || back.kind != tc.r.kind || back.name != tc.r.name {
				t.Errorf("parseRootKey(%q) = %v, %v", tc.want, back, ok)
			}
		}
	}
	if AppRoot("dns") == ReservedRoot("dns") || AppRoot("dns").String() == ReservedRoot("dns").String() {
		t.Error("app and reserved roots of one name alias")
	}
}

// FuzzParsePath checks ParsePath's contract on any input: a success gives
// segments that are valid names, contain no "/" and rebuild the input's
// non-empty segments; a failure wraps ErrInvalidPath.
func FuzzParsePath(f *testing.F) {
	for _, tc := range parsePathCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPath) {
				t.Fatalf("ParsePath(%q): error %v does not wrap ErrInvalidPath", s, err)
			}
			return
		}
		var want []string
		for _, seg := range strings.Split(s, "/") {
			if seg != "" {
				want = append(want, seg)
			}
		}
		if !slices.Equal([]string(p), want) {
			t.Fatalf("ParsePath(%q) = %q, want %q", s, p, want)
		}
		for _, seg := range p {
			if seg == "." || seg == ".." || seg == "" || len(seg) > MaxNameLen ||
				strings.ContainsAny(seg, "/\x00") || !utf8.ValidString(seg) {
				t.Fatalf("ParsePath(%q) accepted segment %q", s, seg)
			}
			if err := ValidName(seg); err != nil {
				t.Fatalf("segment %q from ParsePath fails ValidName: %v", seg, err)
			}
		}
		if err := p.validate(); err != nil {
			t.Fatal(err)
		}
	})
}
