package codecbench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/safe-launcher/launcher/wire"
)

// The shapes every third-party codec decodes into and encodes from: the
// modify-file request of docs/protocol.md and the get-file answer, with the
// content as a plain []byte (standard, padded base64 in JSON, as every codec
// here treats []byte by default).
type (
	fileContent struct {
		Offset *int64 `json:"offset,omitempty"`
		Bytes  []byte `json:"bytes"`
	}
	fileNewValues struct {
		Name         *string      `json:"name,omitempty"`
		Content      *fileContent `json:"content,omitempty"`
		UserMetadata *[]byte      `json:"user_metadata,omitempty"`
	}
	modifyFile struct {
		IsPathShared bool          `json:"is_path_shared"`
		FilePath     string        `json:"file_path"`
		NewValues    fileNewValues `json:"new_values"`
	}
	// modifyFileEnvelope is the whole request, decoded in one pass.
	modifyFileEnvelope struct {
		Endpoint string     `json:"endpoint"`
		Data     modifyFile `json:"data"`
	}
	// rawEnvelope is the request as a router sees it before it knows the
	// endpoint: the data is decoded again once it does (two passes, like
	// the daemon's ParseRequestLimit then DecodeOwned).
	rawEnvelope struct {
		Endpoint string          `json:"endpoint"`
		Data     json.RawMessage `json:"data"`
	}
	getFile struct {
		Content []byte `json:"content"`
	}
	answerEnvelope struct {
		ID   string  `json:"id"`
		Data getFile `json:"data"`
	}
)

const (
	endpoint = "safe-api/v1.0/nfs/modify-file"
	filePath = "mysite/upload.bin"
)

// answerID is a message id as the daemon writes it (IDSize characters of
// base64, the SHA-512 of the request).
var answerID = strings.Repeat("Qk9", wire.IDSize/3) + strings.Repeat("=", wire.IDSize%3)

var sizes = []struct {
	name string
	n    int
}{
	{"1MiB", 1 << 20},
	{"16MiB", 16 << 20},
}

type fixture struct {
	content []byte // the random file content
	request []byte // the modify-file request carrying it
	answer  []byte // the get-file answer carrying it, as the daemon writes it
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[int]*fixture{}
)

// load builds (once per size) n bytes of random content, the modify-file
// request carrying it, encoded by the launcher's own encoder the way the Go
// SDK frames it ({"endpoint":E,"data":} then ModifyFileRequest.AppendJSON),
// and the get-file answer carrying it, encoded by wire.AppendData as the
// daemon does. Both are cross-checked against encoding/json.
func load(tb testing.TB, n int) *fixture {
	tb.Helper()
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f, ok := fixtures[n]; ok {
		return f
	}
	content := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{'c', 'o', 'd', 'e', 'c'})
	rng.Read(content)

	req := wire.ModifyFileRequest{
		FilePath:  filePath,
		NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: wire.Bytes(content)}},
	}
	msg := []byte(`{"endpoint":"` + endpoint + `","data":`)
	msg = req.AppendJSON(msg)
	msg = append(msg, '}')
	std, err := json.Marshal(struct {
		Endpoint string                 `json:"endpoint"`
		Data     wire.ModifyFileRequest `json:"data"`
	}{endpoint, req})
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(msg, std) {
		tb.Fatalf("the launcher's request encoding differs from encoding/json's")
	}

	ans := &wire.GetFileResponse{Content: wire.Bytes(content)}
	answer, err := wire.AppendData(make([]byte, 0, ans.EncodedSize()+256), answerID, ans)
	if err != nil {
		tb.Fatal(err)
	}
	std, err = json.Marshal(answerEnvelope{ID: answerID, Data: getFile{Content: content}})
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(answer, std) {
		tb.Fatalf("the launcher's answer encoding differs from encoding/json's")
	}

	f := &fixture{content: content, request: msg, answer: answer}
	fixtures[n] = f
	return f
}

// check fails unless a decoder's result is the request's: the endpoint, the
// path and the content, byte for byte.
func check(tb testing.TB, f *fixture, ep, path string, content []byte) {
	tb.Helper()
	if ep != endpoint {
		tb.Fatalf("endpoint %q, want %q", ep, endpoint)
	}
	if path != filePath {
		tb.Fatalf("file_path %q, want %q", path, filePath)
	}
	if !bytes.Equal(content, f.content) {
		tb.Fatalf("content of %d bytes differs from the %d bytes sent", len(content), len(f.content))
	}
}

func (e *modifyFileEnvelope) result() (ep, path string, content []byte, err error) {
	c := e.Data.NewValues.Content
	if c == nil {
		return e.Endpoint, e.Data.FilePath, nil, fmt.Errorf("no content")
	}
	return e.Endpoint, e.Data.FilePath, c.Bytes, nil
}
