package main

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/curve25519"
)

// ModulePath is the Go module the fuzz targets live in (for the cache layout).
const ModulePath = "github.com/safe-launcher/launcher"

// Layouts of a corpus output directory.
const (
	// LayoutTree writes DIR/<pkg>/testdata/fuzz/<Fuzz>/<file>: DIR is the repository root.
	LayoutTree = "tree"
	// LayoutFlat writes DIR/<pkg>/<Fuzz>/<file>.
	LayoutFlat = "flat"
	// LayoutCache writes DIR/<module>/<pkg>/<Fuzz>/<file>: DIR is $(go env GOCACHE)/fuzz,
	// where go test -fuzz keeps its generated corpus (outside the repository).
	LayoutCache = "cache"
)

// FuzzKeyPrivate is the app private key the launcher.FuzzHandshakeWire seeds
// are made for (bytes 1..32): the fuzz target holds the same key, so a seed that
// is a valid handshake can be completed into a session.
func FuzzKeyPrivate() [32]byte {
	var k [32]byte
	for i := range k {
		k[i] = byte(i + 1)
	}
	return k
}

// fuzzKeyPublic returns the public key of FuzzKeyPrivate.
func fuzzKeyPublic() []byte {
	k := FuzzKeyPrivate()
	pub, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		panic(err) // a constant, non-zero key always works
	}
	return pub
}

// seedValue is one corpus entry: one value per argument of the fuzz function,
// each a []byte or a string.
type seedValue struct {
	name string
	args []any
}

// fuzzTarget is a fuzz function and how to make its seeds.
type fuzzTarget struct {
	pkg   string // directory of the package, relative to the module root
	name  string // FuzzXxx
	seeds func(g *gen) []seedValue
}

// ID returns "pkg.FuzzName".
func (t fuzzTarget) ID() string { return t.pkg + "." + t.name }

func bytesSeeds(prefix string, ns []named) []seedValue {
	out := make([]seedValue, 0, len(ns))
	for _, n := range ns {
		out = append(out, seedValue{prefix + n.name, []any{n.b}})
	}
	return out
}

func stringSeeds(prefix string, ns []named) []seedValue {
	out := make([]seedValue, 0, len(ns))
	for _, n := range ns {
		out = append(out, seedValue{prefix + n.name, []any{string(n.b)}})
	}
	return out
}

// fuzzTargets lists every fuzz target framegen writes seeds for.
func fuzzTargets() []fuzzTarget {
	return []fuzzTarget{
		{"framing", "FuzzReadFrame", func(g *gen) []seedValue { return bytesSeeds("", g.frameStreams()) }},
		{"handshake", "FuzzParseRequest", func(g *gen) []seedValue {
			tok := "k3J" + b64(g.bytes(24))
			s := bytesSeeds("", g.validHandshakes(tok))
			return append(s, bytesSeeds("", g.malformedHandshakes(tok, 4096))...)
		}},
		{"wire", "FuzzParseEndpoint", func(g *gen) []seedValue { return stringSeeds("", endpointTexts()) }},
		{"wire", "FuzzParseRequest", func(g *gen) []seedValue {
			s := bytesSeeds("", g.validPlaintexts())
			return append(s, bytesSeeds("", g.malformedPlaintexts())...)
		}},
		{"wire", "FuzzDecodeRequests", func(g *gen) []seedValue { return bytesSeeds("", g.dataObjects()) }},
		{"vfs", "FuzzParsePath", func(g *gen) []seedValue { return stringSeeds("", hostilePaths()) }},
		{"launcher", "FuzzSession", func(g *gen) []seedValue {
			s := bytesSeeds("valid-", g.validPlaintexts())
			s = append(s, bytesSeeds("malformed-", g.malformedPlaintexts())...)
			for _, e := range endpointTexts() {
				s = append(s, seedValue{"endpoint-" + e.name, []any{envelope(string(e.b), "{}")}})
			}
			paths := hostilePathRequests()
			for i := 0; i < len(paths); i += 7 { // a sample: every class of path, several requests
				s = append(s, seedValue{"path-" + paths[i].name, []any{paths[i].b}})
			}
			return append(s, bytesSeeds("b64-", g.hugeBase64Requests(4096))...)
		}},
		{"launcher", "FuzzHandshakeWire", func(g *gen) []seedValue {
			pub := fuzzKeyPublic()
			nonce := g.bytes(24)
			s := []seedValue{
				{"valid-fixed", []any{handshakeJSON("v1.0", TokenPlaceholder, nonce, pub, "")}},
				{"valid-counter", []any{handshakeJSON("v1.0", TokenPlaceholder, nonce, pub, "counter")}},
				{"valid-v1.1-counter", []any{handshakeJSON("v1.1", TokenPlaceholder, nonce, pub, "counter")}},
			}
			return append(s, bytesSeeds("", g.malformedHandshakes(TokenPlaceholder, 4096))...)
		}},
	}
}

// frameStreams are byte streams for a frame reader: valid frames and every
// hostile length prefix and truncation.
func (g *gen) frameStreams() []named {
	body := handshakeJSON("v1.0", "k3J"+b64(g.bytes(24)), g.bytes(24), g.bytes(32), "counter")
	n := uint64(len(body))
	two := append(frame(body), frame([]byte("{}"))...)
	return []named{
		{"valid", frame(body)},
		{"valid-two", two},
		{"len-0", header(0)},
		{"len-0-then-frame", append(header(0), frame(body)...)},
		{"len-1", append(header(1), '{')},
		{"len-2p63", append(header(1<<63), body...)},
		{"len-max", append(header(^uint64(0)), body...)},
		{"len-300MiB-plus-1", append(header(300<<20+1), body...)},
		{"len-short-by-one", append(header(n-1), body...)},
		{"len-long-by-one", append(header(n+1), body...)},
		{"trunc-header-1", header(n)[:1]},
		{"trunc-header-7", header(n)[:7]},
		{"trunc-body", append(header(n), body[:n/2]...)},
		{"garbage-http", append([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), frame(body)...)},
		{"garbage-tls", append([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, g.bytes(32)...)},
		{"garbage-random", g.bytes(64)},
		{"len-32bit-high", append(header(1<<32|n), body...)},
	}
}

// dataObjects are request data objects for the wire decoders: well-formed
// ones for each request and hostile ones.
func (g *gen) dataObjects() []named {
	var out []named
	for _, r := range nfsRequests {
		out = append(out, named{"nfs-" + r, []byte(nfsData(r, `"framegen/a"`, b64(g.bytes(8))))})
	}
	out = append(out,
		named{"dns-service", []byte(`{"long_name":"framegen","service_name":"www","is_path_shared":false,"service_home_dir_path":"framegen"}`)},
		named{"dns-service-file", []byte(`{"long_name":"framegen","service_name":"www","file_path":"index.html","offset":0,"length":-1,"include_metadata":false}`)},
		named{"modify-file-no-offset", []byte(`{"is_path_shared":false,"file_path":"a","new_values":{"name":"b","content":{"bytes":""},"user_metadata":""}}`)},
		named{"modify-dir-empty-new-values", []byte(`{"is_path_shared":false,"dir_path":"a","new_values":{}}`)},
	)
	for _, m := range g.malformedPlaintexts() {
		out = append(out, named{"envelope-" + m.name, m.b})
	}
	for _, m := range []named{
		{"null", []byte("null")},
		{"empty-object", []byte("{}")},
		{"wrong-types", []byte(`{"is_path_shared":1,"dir_path":[],"timeout_ms":"0","offset":1.5,"length":true,"user_metadata":5,"new_values":"x"}`)},
		{"nulls", []byte(`{"is_path_shared":null,"dir_path":null,"file_path":null,"new_values":null,"user_metadata":null}`)},
		{"content-null-bytes", []byte(`{"is_path_shared":false,"file_path":"a","new_values":{"content":{"offset":null,"bytes":null}}}`)},
	} {
		out = append(out, named{"data-" + m.name, m.b})
	}
	return out
}

// encodeCorpus encodes one corpus file in the format of go test fuzz v1.
func encodeCorpus(args []any) ([]byte, error) {
	b := []byte("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			b = fmt.Appendf(b, "[]byte(%q)\n", v)
		case string:
			b = fmt.Appendf(b, "string(%q)\n", v)
		default:
			return nil, fmt.Errorf("framegen: corpus value of type %T", a)
		}
	}
	return b, nil
}

// corpusFile is one file to write.
type corpusFile struct {
	path string // relative to the output directory
	data []byte
}

// targetSeed derives a target's generator seed from the run's seed, so that a
// target's bytes do not depend on which other targets are generated.
func targetSeed(seed uint64, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return seed ^ h.Sum64()
}

// buildCorpus returns the corpus files for the selected targets (all when only
// is empty) in the given layout. It is deterministic for a seed.
func buildCorpus(seed uint64, layout string, only []string) ([]corpusFile, error) {
	var files []corpusFile
	known := map[string]bool{}
	for _, t := range fuzzTargets() {
		known[t.ID()] = true
		if len(only) > 0 && !slices.Contains(only, t.ID()) {
			continue
		}
		var dir string
		switch layout {
		case LayoutTree:
			dir = filepath.Join(filepath.FromSlash(t.pkg), "testdata", "fuzz", t.name)
		case LayoutFlat:
			dir = filepath.Join(filepath.FromSlash(t.pkg), t.name)
		case LayoutCache:
			dir = filepath.Join(filepath.FromSlash(ModulePath), filepath.FromSlash(t.pkg), t.name)
		default:
			return nil, fmt.Errorf("framegen: unknown layout %q (want %s, %s or %s)", layout, LayoutTree, LayoutFlat, LayoutCache)
		}
		seen := map[string]bool{}
		for _, s := range t.seeds(newGen(targetSeed(seed, t.ID()), seedBig)) {
			name := "framegen-" + s.name
			if seen[name] {
				return nil, fmt.Errorf("framegen: duplicate seed name %s for %s", name, t.ID())
			}
			seen[name] = true
			data, err := encodeCorpus(s.args)
			if err != nil {
				return nil, err
			}
			files = append(files, corpusFile{filepath.Join(dir, name), data})
		}
	}
	for _, o := range only {
		if !known[o] {
			return nil, fmt.Errorf("framegen: unknown fuzz target %q", o)
		}
	}
	return files, nil
}

// writeCorpus writes files under out, creating directories as needed.
func writeCorpus(out string, files []corpusFile) error {
	if out == "" {
		return errors.New("framegen: -out is required")
	}
	for _, f := range files {
		p := filepath.Join(out, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
