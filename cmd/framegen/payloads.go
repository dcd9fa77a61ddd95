package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/safe-launcher/launcher/framing"
)

// TokenPlaceholder stands for a fresh launcher string in handshake seeds of
// launcher.FuzzHandshakeWire: the fuzz target replaces it before sending.
const TokenPlaceholder = "@TOKEN@"

// named is one generated payload and the name of its hostile class.
type named struct {
	name string
	b    []byte
}

// gen makes payloads from a seeded generator, so that the same seed always
// gives the same bytes.
type gen struct {
	rng *rand.Rand
	// big sizes the large hostile payloads (deep nesting, long strings, many
	// keys): small for committed seeds, large for attacks.
	big int
}

// Sizes of the large payloads.
const (
	seedBig   = 4096
	attackBig = 100_000
)

func newGen(seed uint64, big int) *gen {
	return &gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), big: big}
}

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// header returns an 8-byte little-endian length prefix.
func header(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

// frame returns the frame of p.
func frame(p []byte) []byte { return framing.AppendFrame(nil, p) }

// handshakeJSON builds an authenticate-app request. mode "" omits nonce_mode.
func handshakeJSON(version, token string, nonce, pub []byte, mode string) []byte {
	s := fmt.Sprintf(`{"endpoint":"safe-api/%s/handshake/authenticate-app","data":{"launcher_string":%s,"asymm_nonce":%q,"asymm_pub_key":%q`,
		version, jsonString(token), b64(nonce), b64(pub))
	if mode != "" {
		s += fmt.Sprintf(`,"nonce_mode":%s`, jsonString(mode))
	}
	return []byte(s + "}}")
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// validHandshakes are well-formed requests (both nonce modes, both versions).
func (g *gen) validHandshakes(token string) []named {
	var out []named
	for _, v := range []string{"v1.0", "v1.1"} {
		for _, m := range []string{"", "counter"} {
			mode := m
			if mode == "" {
				mode = "fixed"
			}
			out = append(out, named{"valid-" + v + "-" + mode, handshakeJSON(v, token, g.bytes(24), g.bytes(32), m)})
		}
	}
	return out
}

// malformedHandshakes are authenticate-app requests that a launcher must refuse
// with a plain error: missing fields, wrong types, wrong sizes, bad base64,
// non-UTF-8, deep nesting, huge strings, wrong endpoints. hugeLen sizes the huge
// string (keep it under the daemon's handshake frame limit to reach the parser).
func (g *gen) malformedHandshakes(token string, hugeLen int) []named {
	nonce, pub := b64(g.bytes(24)), b64(g.bytes(32))
	ep := `"endpoint":"safe-api/v1.0/handshake/authenticate-app"`
	tok := jsonString(token)
	obj := func(endpoint, data string) []byte {
		if endpoint == "" {
			return []byte(`{"data":` + data + `}`)
		}
		return []byte(`{` + endpoint + `,"data":` + data + `}`)
	}
	data := func(ls, n, k string, extra ...string) string {
		var parts []string
		if ls != "" {
			parts = append(parts, `"launcher_string":`+ls)
		}
		if n != "" {
			parts = append(parts, `"asymm_nonce":`+n)
		}
		if k != "" {
			parts = append(parts, `"asymm_pub_key":`+k)
		}
		parts = append(parts, extra...)
		return "{" + strings.Join(parts, ",") + "}"
	}
	q := func(s string) string { return `"` + s + `"` }
	good := data(tok, q(nonce), q(pub))
	deep := strings.Repeat(`{"a":`, g.big/50) + "1" + strings.Repeat("}", g.big/50)
	out := []named{
		{"empty", nil},
		{"null", []byte("null")},
		{"array", []byte("[]")},
		{"string", []byte(`"authenticate-app"`)},
		{"open-brace", []byte("{")},
		{"bom", append([]byte("\xef\xbb\xbf"), obj(ep, good)...)},
		{"missing-endpoint", obj("", good)},
		{"missing-data", []byte(`{` + ep + `}`)},
		{"missing-launcher-string", obj(ep, data("", q(nonce), q(pub)))},
		{"missing-nonce", obj(ep, data(tok, "", q(pub)))},
		{"missing-pub-key", obj(ep, data(tok, q(nonce), ""))},
		{"null-data", obj(ep, "null")},
		{"null-nonce", obj(ep, data(tok, "null", q(pub)))},
		{"endpoint-number", obj(`"endpoint":5`, good)},
		{"data-array", obj(ep, "[]")},
		{"launcher-string-number", obj(ep, data("12", q(nonce), q(pub)))},
		{"nonce-number", obj(ep, data(tok, "7", q(pub)))},
		{"pub-key-object", obj(ep, data(tok, q(nonce), "{}"))},
		{"nonce-mode-bool", obj(ep, data(tok, q(nonce), q(pub), `"nonce_mode":true`))},
		{"nonce-mode-unknown", obj(ep, data(tok, q(nonce), q(pub), `"nonce_mode":"COUNTER"`))},
		{"nonce-mode-fixed-text", obj(ep, data(tok, q(nonce), q(pub), `"nonce_mode":"fixed"`))},
		{"nonce-23", obj(ep, data(tok, q(b64(g.bytes(23))), q(pub)))},
		{"nonce-25", obj(ep, data(tok, q(b64(g.bytes(25))), q(pub)))},
		{"nonce-empty", obj(ep, data(tok, `""`, q(pub)))},
		{"key-31", obj(ep, data(tok, q(nonce), q(b64(g.bytes(31)))))},
		{"key-33", obj(ep, data(tok, q(nonce), q(b64(g.bytes(33)))))},
		{"key-empty", obj(ep, data(tok, q(nonce), `""`))},
		{"b64-garbage", obj(ep, data(tok, q("!!!!not*base64!!!!"), q(pub)))},
		{"b64-unpadded", obj(ep, data(tok, q(strings.TrimRight(b64(g.bytes(23)), "=")), q(pub)))},
		{"b64-urlsafe", obj(ep, data(tok, q(base64.URLEncoding.EncodeToString(append(g.bytes(21), 0xfb, 0xff, 0xfe))), q(pub)))},
		{"b64-linebreak", obj(ep, data(tok, q(nonce[:16]+`\n`+nonce[16:]), q(pub)))},
		{"non-utf8-string", obj(ep, data("\"\xff\xfe\xfd"+token+"\"", q(nonce), q(pub)))},
		{"non-utf8-raw", []byte("\xff\xfe{\x80\x81}")},
		{"deep-nesting", obj(ep, data(tok, q(nonce), q(pub), `"x":`+deep))},
		{"deep-array", []byte(strings.Repeat("[", g.big))},
		{"huge-launcher-string", obj(ep, data(q(strings.Repeat("A", hugeLen)), q(nonce), q(pub)))},
		{"huge-nonce", obj(ep, data(tok, q(b64(g.bytes(hugeLen*3/4/4*4))), q(pub)))},
		{"trailing-object", append(obj(ep, good), "{}"...)},
		{"trailing-garbage", append(obj(ep, good), "xyz"...)},
		{"duplicate-keys", obj(ep, `{"launcher_string":1,`+good[1:])},
		{"wrong-module", obj(`"endpoint":"safe-api/v1.0/nfs/get-dir"`, good)},
		{"wrong-request", obj(`"endpoint":"safe-api/v1.0/handshake/authenticate-appx"`, good)},
		{"unknown-version", obj(`"endpoint":"safe-api/v9.9/handshake/authenticate-app"`, good)},
		{"bad-version", obj(`"endpoint":"safe-api/v1.0.0/handshake/authenticate-app"`, good)},
		{"bad-api-id", obj(`"endpoint":"safe-apx/v1.0/handshake/authenticate-app"`, good)},
		{"long-endpoint", obj(`"endpoint":"safe-api/v1.0/handshake/`+strings.Repeat("a", 5000)+`"`, good)},
		{"unknown-launcher-string", obj(ep, data(q("framegen-not-a-launcher-string"), q(nonce), q(pub)))},
	}
	return out
}

// Hostile path texts for nfs requests and vfs.ParsePath.
func hostilePaths() []named {
	long := strings.Repeat("n", 10000)
	return []named{
		{"root", []byte("/")},
		{"empty", nil},
		{"dotdot", []byte("..")},
		{"dotdot-escape", []byte("/../../../../etc/passwd")},
		{"dot", []byte("/./a")},
		{"nul", []byte("a\x00b")},
		{"nul-dotdot", []byte("/..\x00/x")},
		{"name-10k", []byte("/" + long)},
		{"name-256", []byte("/" + strings.Repeat("x", 256))},
		{"name-255", []byte("/" + strings.Repeat("x", 255))},
		{"deep-1000", []byte(strings.Repeat("/d", 1000))},
		{"slashes", []byte("////a////b//")},
		{"backslash", []byte(`..\..\windows`)},
		{"fullwidth-solidus", []byte("..\uff0f..\uff0fetc")},
		{"division-slash", []byte("..\u2215..\u2215etc")},
		{"fraction-slash", []byte("a\u2044b")},
		{"one-dot-leader", []byte("\u2024\u2024/x")},
		{"fullwidth-dots", []byte("\uff0e\uff0e/x")},
		{"rtl-override", []byte("/evil\u202etxt.exe")},
		{"zero-width", []byte("/a\u200bb")},
		{"invalid-utf8", []byte("/\xff\xfe")},
		{"overlong-dotdot", []byte("/\xc0\xae\xc0\xae/x")},
		{"percent-dotdot", []byte("/%2e%2e/x")},
		{"tilde", []byte("~/x")},
		{"normal", []byte("mysite/css/a.css")},
	}
}

// Endpoint texts: valid ones and hostile ones.
func endpointTexts() []named {
	return []named{
		{"nfs-get-dir", []byte("safe-api/v1.0/nfs/get-dir")},
		{"dns-register", []byte("safe-api/v1.0/dns/register-dns")},
		{"v1-1", []byte("safe-api/v1.1/nfs/get-file")},
		{"handshake", []byte("safe-api/v1.0/handshake/authenticate-app")},
		{"unknown-module", []byte("safe-api/v1.0/nosuch/thing")},
		{"unknown-request", []byte("safe-api/v1.0/nfs/nosuch")},
		{"unknown-version", []byte("safe-api/v9.9/nfs/get-dir")},
		{"version-zero", []byte("safe-api/v0.0/nfs/get-dir")},
		{"version-huge", []byte("safe-api/v99999.99999/nfs/get-dir")},
		{"version-leading-zero", []byte("safe-api/v01.0/nfs/get-dir")},
		{"version-negative", []byte("safe-api/v-1.0/nfs/get-dir")},
		{"version-no-v", []byte("safe-api/1.0/nfs/get-dir")},
		{"version-three-parts", []byte("safe-api/v1.0.1/nfs/get-dir")},
		{"three-parts", []byte("safe-api/v1.0/nfs")},
		{"five-parts", []byte("safe-api/v1.0/nfs/get-dir/x")},
		{"empty", nil},
		{"slashes", []byte("///")},
		{"other-id", []byte("other-api/v1.0/nfs/get-dir")},
		{"upper-module", []byte("safe-api/v1.0/NFS/get-dir")},
		{"dotdot-module", []byte("safe-api/v1.0/../get-dir")},
		{"nul", []byte("safe-api/v1.0/nfs\x00/get-dir")},
		{"unicode", []byte("safe-api/v1.0/nf\u0455/get-dir")},
		{"long", []byte("safe-api/v1.0/nfs/" + strings.Repeat("a", 300))},
		{"long-ident", []byte("safe-api/v1.0/" + strings.Repeat("m", 65) + "/x")},
	}
}

// envelope builds a request envelope with raw JSON data (empty data omits it).
func envelope(endpoint, data string) []byte {
	if data == "" {
		return []byte(`{"endpoint":` + jsonString(endpoint) + `}`)
	}
	return []byte(`{"endpoint":` + jsonString(endpoint) + `,"data":` + data + `}`)
}

// nfsData returns a well-formed data object for an nfs request with path p
// (as a JSON string literal) and metadata m (base64 text).
func nfsData(req, p, meta string) string {
	switch req {
	case "create-dir":
		return `{"is_path_shared":false,"dir_path":` + p + `,"is_private":true,"is_versioned":false,"user_metadata":"` + meta + `"}`
	case "delete-dir":
		return `{"is_path_shared":false,"dir_path":` + p + `}`
	case "get-dir":
		return `{"timeout_ms":0,"is_path_shared":false,"dir_path":` + p + `}`
	case "modify-dir":
		return `{"is_path_shared":false,"dir_path":` + p + `,"new_values":{"name":"renamed","user_metadata":"` + meta + `"}}`
	case "create-file":
		return `{"is_path_shared":false,"file_path":` + p + `,"user_metadata":"` + meta + `"}`
	case "delete-file":
		return `{"is_path_shared":false,"file_path":` + p + `}`
	case "get-file":
		return `{"is_path_shared":false,"file_path":` + p + `,"offset":0,"length":-1,"include_metadata":true}`
	case "modify-file":
		return `{"is_path_shared":false,"file_path":` + p + `,"new_values":{"content":{"offset":0,"bytes":"` + meta + `"}}}`
	}
	panic("framegen: unknown nfs request " + req)
}

// nfsRequests are the RFC's nfs requests.
var nfsRequests = []string{"create-dir", "delete-dir", "get-dir", "modify-dir", "create-file", "delete-file", "get-file", "modify-file"}

// validPlaintexts are well-formed request envelopes (the plaintext of an
// encrypted request) for every nfs and dns request and the test module.
func (g *gen) validPlaintexts() []named {
	var out []named
	for _, r := range nfsRequests {
		out = append(out, named{"nfs-" + r, envelope("safe-api/v1.0/nfs/"+r, nfsData(r, `"framegen/a"`, b64(g.bytes(8))))})
	}
	out = append(out,
		named{"dns-register", envelope("safe-api/v1.0/dns/register-dns", `{"long_name":"framegen","service_name":"www","is_path_shared":false,"service_home_dir_path":"framegen"}`)},
		named{"dns-add-service-parameters", []byte(`{"endpoint":"safe-api/v1.0/dns/add-service","parameters":{"long_name":"framegen","service_name":"blog","is_path_shared":false,"service_home_dir_path":"framegen"}}`)},
		named{"test-echo", envelope("safe-api/v1.0/test/echo", `{"k":"v","n":[1,2,3]}`)},
		named{"test-empty", envelope("safe-api/v1.0/test/empty", "")},
		named{"test-panic", envelope("safe-api/v1.0/test/panic", "{}")},
		named{"v1-1-get-dir", envelope("safe-api/v1.1/nfs/get-dir", nfsData("get-dir", `"/"`, ""))},
	)
	return out
}

// malformedPlaintexts are well-encrypted but malformed request envelopes.
func (g *gen) malformedPlaintexts() []named {
	return []named{
		{"empty", nil},
		{"not-json", []byte("not json")},
		{"null", []byte("null")},
		{"array", []byte(`[{"endpoint":"safe-api/v1.0/nfs/get-dir"}]`)},
		{"number", []byte("12345678901234567890")},
		{"empty-object", []byte("{}")},
		{"endpoint-number", []byte(`{"endpoint":5}`)},
		{"endpoint-null", []byte(`{"endpoint":null,"data":{}}`)},
		{"data-string", envelope("safe-api/v1.0/nfs/get-dir", `"x"`)},
		{"data-null", envelope("safe-api/v1.0/nfs/get-dir", "null")},
		{"missing-field", envelope("safe-api/v1.0/nfs/get-dir", `{"is_path_shared":false}`)},
		{"wrong-type-bool", envelope("safe-api/v1.0/nfs/get-dir", `{"timeout_ms":0,"is_path_shared":"yes","dir_path":"/"}`)},
		{"wrong-type-int", envelope("safe-api/v1.0/nfs/get-dir", `{"timeout_ms":1e400,"is_path_shared":false,"dir_path":"/"}`)},
		{"int-overflow", envelope("safe-api/v1.0/nfs/get-file", `{"is_path_shared":false,"file_path":"a","offset":99999999999999999999,"length":-1,"include_metadata":false}`)},
		{"int-min", envelope("safe-api/v1.0/nfs/get-file", `{"is_path_shared":false,"file_path":"a","offset":-9223372036854775808,"length":-9223372036854775808,"include_metadata":false}`)},
		{"bad-base64", envelope("safe-api/v1.0/nfs/create-file", `{"is_path_shared":false,"file_path":"a","user_metadata":"!!!"}`)},
		{"base64-null", envelope("safe-api/v1.0/nfs/create-file", `{"is_path_shared":false,"file_path":"a","user_metadata":null}`)},
		{"base64-escaped", envelope("safe-api/v1.0/nfs/create-file", `{"is_path_shared":false,"file_path":"a","user_metadata":"QU\u0046B"}`)},
		{"new-values-array", envelope("safe-api/v1.0/nfs/modify-file", `{"is_path_shared":false,"file_path":"a","new_values":[]}`)},
		{"content-no-bytes", envelope("safe-api/v1.0/nfs/modify-file", `{"is_path_shared":false,"file_path":"a","new_values":{"content":{"offset":1}}}`)},
		{"truncated", []byte(`{"endpoint":"safe-api/v1.0/nfs/get-dir","data":{"timeout_ms":0,"is_pa`)},
		{"trailing", append(envelope("safe-api/v1.0/test/echo", "{}"), "garbage"...)},
		{"two-objects", append(envelope("safe-api/v1.0/test/echo", "{}"), envelope("safe-api/v1.0/test/echo", "{}")...)},
		{"duplicate-endpoint", []byte(`{"endpoint":"safe-api/v1.0/test/echo","endpoint":"safe-api/v1.0/test/panic","data":{}}`)},
		{"non-utf8", []byte("{\"endpoint\":\"safe-api/v1.0/test/echo\",\"data\":{\"k\":\"\xff\xfe\"}}")},
		{"bad-escape", []byte(`{"endpoint":"safe-api/v1.0/test/echo","data":{"k":"\ud800\uzzzz"}}`)},
		{"nul-bytes", []byte("{\"endpoint\":\"safe-api/v1.0/test/echo\"\x00}")},
		{"deep-33", envelope("safe-api/v1.0/test/echo", strings.Repeat("[", 33)+strings.Repeat("]", 33))},
		{"deep-big", []byte(strings.Repeat("[", g.big))},
		{"deep-in-string", envelope("safe-api/v1.0/test/echo", `{"s":"`+strings.Repeat("[", 1000)+`"}`)},
		{"escaped-quote-depth", envelope("safe-api/v1.0/test/echo", `{"s":"\"[[[[","t":[[1]]}`)},
		{"huge-string", envelope("safe-api/v1.0/test/echo", `{"s":"`+strings.Repeat("x", g.big)+`"}`)},
		{"many-keys", envelope("safe-api/v1.0/test/echo", "{"+manyKeys(g.big/20)+"}")},
		{"random-bytes", g.bytes(64)},
	}
}

func manyKeys(n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"k%d":%d`, i, i)
	}
	return sb.String()
}

// hostilePathRequests pairs every nfs request with every hostile path, plus a
// few dns requests with hostile names.
func hostilePathRequests() []named {
	var out []named
	for _, p := range hostilePaths() {
		lit := jsonString(string(p.b))
		for _, r := range nfsRequests {
			out = append(out, named{"nfs-" + r + "-" + p.name, envelope("safe-api/v1.0/nfs/"+r, nfsData(r, lit, ""))})
		}
		out = append(out, named{"dns-register-" + p.name, envelope("safe-api/v1.0/dns/register-dns",
			`{"long_name":`+lit+`,"service_name":`+lit+`,"is_path_shared":false,"service_home_dir_path":`+lit+`}`)})
	}
	return out
}

// hugeBase64Requests returns requests whose base64 fields decode to n bytes, or
// are n bytes of broken base64.
func (g *gen) hugeBase64Requests(n int) []named {
	enc := b64(g.bytes(n))
	bad := enc[:len(enc)-4] + "*==="
	unpadded := strings.TrimRight(b64(g.bytes(n+1)), "=")
	dir := fmt.Sprintf(`"framegen-%x"`, g.rng.Uint32())
	return []named{
		{"create-dir-meta", envelope("safe-api/v1.0/nfs/create-dir", nfsData("create-dir", dir, enc))},
		{"create-file-meta", envelope("safe-api/v1.0/nfs/create-file", nfsData("create-file", dir, enc))},
		{"modify-file-content", envelope("safe-api/v1.0/nfs/modify-file", nfsData("modify-file", dir, enc))},
		{"modify-dir-meta", envelope("safe-api/v1.0/nfs/modify-dir", nfsData("modify-dir", dir, enc))},
		{"bad-base64", envelope("safe-api/v1.0/nfs/create-file", nfsData("create-file", dir, bad))},
		{"unpadded", envelope("safe-api/v1.0/nfs/create-file", nfsData("create-file", dir, unpadded))},
	}
}
