package codecbench

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/bytedance/sonic"
	goccy "github.com/goccy/go-json"
	jsoniter "github.com/json-iterator/go"

	"github.com/safe-launcher/launcher/wire"
)

// A decoder turns a modify-file request into its endpoint, path and
// content. One that owns the message may write over it (the benchmark hands
// it a fresh copy each time, outside the timer).
type decoder struct {
	name  string
	owned bool
	fn    func(msg []byte) (ep, path string, content []byte, err error)
}

// An encoder turns a file's content into the get-file answer
// {"id":ID,"data":{"content":"base64"}}.
type encoder struct {
	name string
	fn   func(content []byte) ([]byte, error)
}

// unmarshalOnePass decodes the whole request into a typed struct in one
// call, the best case for a general codec.
func unmarshalOnePass(unmarshal func([]byte, any) error) func([]byte) (string, string, []byte, error) {
	return func(msg []byte) (string, string, []byte, error) {
		var e modifyFileEnvelope
		if err := unmarshal(msg, &e); err != nil {
			return "", "", nil, err
		}
		return e.result()
	}
}

func marshalAnswer(marshal func(any) ([]byte, error)) func([]byte) ([]byte, error) {
	return func(content []byte) ([]byte, error) {
		return marshal(answerEnvelope{ID: answerID, Data: getFile{Content: content}})
	}
}

var jsoniterStd = jsoniter.ConfigCompatibleWithStandardLibrary

var decoders = []decoder{
	// What the daemon does (launcher/conn.go dispatch, nfs/nfs.go
	// modifyFile): the envelope within the depth limit, then the data
	// decoded in the request's own buffer.
	{"wire=ParseRequestLimit+DecodeOwned", true, func(msg []byte) (string, string, []byte, error) {
		req, err := wire.ParseRequestLimit(msg, 32)
		if err != nil {
			return "", "", nil, err
		}
		var r wire.ModifyFileRequest
		if err := wire.DecodeOwned(req.Data, &r); err != nil {
			return "", "", nil, err
		}
		return req.Endpoint, r.FilePath, r.NewValues.Content.Bytes, nil
	}},
	// The same with wire.Decode, which leaves the message alone and
	// decodes the content into a new buffer.
	{"wire=ParseRequestLimit+Decode", false, func(msg []byte) (string, string, []byte, error) {
		req, err := wire.ParseRequestLimit(msg, 32)
		if err != nil {
			return "", "", nil, err
		}
		var r wire.ModifyFileRequest
		if err := wire.Decode(req.Data, &r); err != nil {
			return "", "", nil, err
		}
		return req.Endpoint, r.FilePath, r.NewValues.Content.Bytes, nil
	}},
	{"encoding_json", false, unmarshalOnePass(json.Unmarshal)},
	// encoding/json the way a router would use it: the envelope with a
	// RawMessage, then the data once the endpoint is known.
	{"encoding_json=two_pass", false, func(msg []byte) (string, string, []byte, error) {
		var env rawEnvelope
		if err := json.Unmarshal(msg, &env); err != nil {
			return "", "", nil, err
		}
		var d modifyFile
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return "", "", nil, err
		}
		e := modifyFileEnvelope{Endpoint: env.Endpoint, Data: d}
		return e.result()
	}},
	{"goccy_go-json", false, unmarshalOnePass(goccy.Unmarshal)},
	{"json-iterator", false, unmarshalOnePass(jsoniterStd.Unmarshal)},
	{"sonic", false, unmarshalOnePass(sonic.Unmarshal)},
}

var encoders = []encoder{
	// What the daemon does for an in-memory answer.
	{"wire=AppendData_GetFileResponse", func(content []byte) ([]byte, error) {
		r := &wire.GetFileResponse{Content: wire.Bytes(content)}
		return wire.AppendData(make([]byte, 0, r.EncodedSize()+256), answerID, r)
	}},
	// What nfs get-file answers with: the content read from the store
	// while it is encoded (here from memory).
	{"wire=AppendData_GetFileStream", func(content []byte) ([]byte, error) {
		r := &wire.GetFileStream{Content: io.NopCloser(bytes.NewReader(content)), Size: int64(len(content))}
		return wire.AppendData(make([]byte, 0, r.EncodedSize()+256), answerID, r)
	}},
	{"encoding_json", marshalAnswer(json.Marshal)},
	{"goccy_go-json", marshalAnswer(goccy.Marshal)},
	{"json-iterator", marshalAnswer(jsoniterStd.Marshal)},
	{"sonic", marshalAnswer(sonic.Marshal)},
}
