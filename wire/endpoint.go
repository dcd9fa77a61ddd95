package wire

import (
	"strconv"
	"strings"
)

// APIID is the first part of every endpoint.
const APIID = "safe-api"

// Version is an API version, v<Major>.<Minor>.
type Version struct{ Major, Minor int }

// The versions the daemon serves: V1_0 is the RFC exactly, V1_1 adds this
// project's endpoints (docs/protocol.md).
var (
	V1_0 = Version{1, 0}
	V1_1 = Version{1, 1}
)

// String returns "v1.0" style text.
func (v Version) String() string {
	return "v" + strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor)
}

// Less orders versions.
func (v Version) Less(o Version) bool {
	return v.Major < o.Major || (v.Major == o.Major && v.Minor < o.Minor)
}

// Endpoint is a parsed <id>/<version>/<module>/<request>.
type Endpoint struct {
	Version Version
	Module  string
	Request string
}

// String returns the endpoint's wire text.
func (e Endpoint) String() string {
	return APIID + "/" + e.Version.String() + "/" + e.Module + "/" + e.Request
}

// maxEndpointLen bounds the endpoint text.
const maxEndpointLen = 256

// ParseEndpoint parses an endpoint strictly: exactly four parts, the id
// "safe-api", a version "v<major>.<minor>" in decimal without leading zeros, and
// module and request names of 1 to 64 characters from a-z, 0-9 and '-'. It does
// not decide whether the version, module or request exist. Errors are *Error
// with CodeBadEndpoint.
func ParseEndpoint(s string) (Endpoint, error) {
	if len(s) > maxEndpointLen {
		return Endpoint{}, Errorf(CodeBadEndpoint, "endpoint is %d bytes, more than %d", len(s), maxEndpointLen)
	}
	parts := strings.Split(s, "/")
	if len(parts) != 4 {
		return Endpoint{}, Errorf(CodeBadEndpoint, "endpoint %q is not <id>/<version>/<module>/<request>", s)
	}
	if parts[0] != APIID {
		return Endpoint{}, Errorf(CodeBadEndpoint, "endpoint id %q is not %q", parts[0], APIID)
	}
	v, ok := parseVersion(parts[1])
	if !ok {
		return Endpoint{}, Errorf(CodeBadEndpoint, "endpoint version %q is not v<major>.<minor>", parts[1])
	}
	if !validIdent(parts[2]) {
		return Endpoint{}, Errorf(CodeBadEndpoint, "endpoint module %q is not 1-64 of a-z, 0-9, '-'", parts[2])
	}
	if !validIdent(parts[3]) {
		return Endpoint{}, Errorf(CodeBadEndpoint, "endpoint request %q is not 1-64 of a-z, 0-9, '-'", parts[3])
	}
	return Endpoint{Version: v, Module: parts[2], Request: parts[3]}, nil
}

func parseVersion(s string) (Version, bool) {
	rest, ok := strings.CutPrefix(s, "v")
	if !ok {
		return Version{}, false
	}
	maj, min, ok := strings.Cut(rest, ".")
	if !ok {
		return Version{}, false
	}
	a, ok1 := parseSmall(maj)
	b, ok2 := parseSmall(min)
	return Version{a, b}, ok1 && ok2
}

// parseSmall parses 1 to 4 decimal digits without a leading zero.
func parseSmall(s string) (int, bool) {
	if len(s) == 0 || len(s) > 4 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func validIdent(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
