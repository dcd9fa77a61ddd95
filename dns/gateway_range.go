package dns

import (
	"slices"
	"strconv"
	"strings"
)

// MaxRangeSpecs is the most range-specs a Range header may list; a longer
// list is ignored (the whole file is sent, 200) without being sorted.
const MaxRangeSpecs = 64

// MaxRanges is the most ranges the gateway sends in one answer, after
// overlapping and adjacent ranges are merged; more are ignored (200 with the
// whole file), as Apache's MaxRanges and nginx's max_ranges do.
const MaxRanges = 8

// rangeAction is what the gateway does with a request's Range header before
// http.ServeContent sees it.
type rangeAction int

const (
	// rangeNone: no Range header; nothing to do.
	rangeNone rangeAction = iota
	// rangeIgnore: drop the header and answer with the whole file. RFC 9110
	// section 14.2 lets a server ignore a Range header; the gateway does so
	// for a unit other than bytes (which it must ignore), a malformed
	// ranges-specifier, and too many ranges.
	rangeIgnore
	// rangeServe: replace the header with the canonical form: at most
	// MaxRanges satisfiable ranges, ascending, merged, in plain digits.
	rangeServe
	// rangeUnsatisfiable: no range overlaps the file (416).
	rangeUnsatisfiable
)

// byteRange is a satisfiable range: first and last byte, inclusive.
type byteRange struct{ first, last int64 }

// planRange decides what to do with Range header value h for a file of size
// bytes, and for rangeServe and rangeUnsatisfiable returns the header to give
// http.ServeContent in its place. The work is linear in len(h) and stops at
// the MaxRangeSpecs+1st spec, so no header can make the gateway sort, seek
// or send more than MaxRanges parts.
//
// The grammar is RFC 9110 section 14.1.1: a case-insensitive unit, "=", and
// a comma-separated list (empty elements and spaces or tabs around commas
// allowed) of "first-last", "first-" or "-suffix", in decimal digits. A
// last position past the end, or a number too large for int64, means the end
// of the file. "first-last" with last < first makes the whole header
// malformed; "first-" past the end and "-0" are unsatisfiable and dropped.
func planRange(h string, size int64) (rangeAction, string) {
	if h == "" {
		return rangeNone, ""
	}
	unit, set, ok := strings.Cut(h, "=")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return rangeIgnore, ""
	}
	var rs []byteRange
	specs := 0
	for elem := range strings.SplitSeq(set, ",") {
		elem = strings.Trim(elem, " \t")
		if elem == "" {
			continue
		}
		if specs++; specs > MaxRangeSpecs {
			return rangeIgnore, ""
		}
		a, b, ok := strings.Cut(elem, "-")
		if !ok {
			return rangeIgnore, ""
		}
		var r byteRange
		switch {
		case a == "": // -suffix
			n, ok := digits(b)
			if !ok {
				return rangeIgnore, ""
			}
			if n == 0 || size == 0 {
				continue // unsatisfiable
			}
			r = byteRange{max(size-n, 0), size - 1}
		default:
			first, ok := digits(a)
			if !ok {
				return rangeIgnore, ""
			}
			last := int64(-1)
			if b != "" {
				if last, ok = digits(b); !ok || last < first {
					return rangeIgnore, ""
				}
			}
			if first >= size {
				continue // unsatisfiable
			}
			if last < 0 || last >= size {
				last = size - 1
			}
			r = byteRange{first, last}
		}
		rs = append(rs, r)
	}
	if specs == 0 {
		return rangeIgnore, "" // "bytes=" or "bytes=,": malformed
	}
	if len(rs) == 0 {
		// "first-" at the end of the file: the one form that
		// http.ServeContent answers with 416 and "Content-Range: bytes */size".
		return rangeUnsatisfiable, "bytes=" + strconv.FormatInt(size, 10) + "-"
	}
	rs = coalesce(rs)
	if len(rs) > MaxRanges {
		return rangeIgnore, ""
	}
	b := make([]byte, 0, 6+len(rs)*24)
	b = append(b, "bytes="...)
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, r.first, 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, r.last, 10)
	}
	return rangeServe, string(b)
}

// coalesce sorts rs and merges overlapping and adjacent ranges, in place.
func coalesce(rs []byteRange) []byteRange {
	slices.SortFunc(rs, func(x, y byteRange) int {
		switch {
		case x.first < y.first:
			return -1
		case x.first > y.first:
			return 1
		}
		return 0
	})
	out := rs[:1]
	for _, r := range rs[1:] {
		cur := &out[len(out)-1]
		if r.first <= cur.last+1 { // cur.last < size <= MaxInt64, no overflow
			cur.last = max(cur.last, r.last)
			continue
		}
		out = append(out, r)
	}
	return out
}

// digits parses a non-empty run of ASCII decimal digits; a value too large
// for int64 is math.MaxInt64 (it is past the end of any file).
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			n = 1<<63 - 1
			continue // keep checking that the rest are digits
		}
		n = n*10 + d
	}
	return n, true
}
