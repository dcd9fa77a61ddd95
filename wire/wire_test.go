package wire_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/wire"
)

func TestParseEndpoint(t *testing.T) {
	good := map[string]wire.Endpoint{
		"safe-api/v1.0/nfs/create-dir":   {Version: wire.V1_0, Module: "nfs", Request: "create-dir"},
		"safe-api/v1.29/dns/add-service": {Version: wire.Version{Major: 1, Minor: 29}, Module: "dns", Request: "add-service"},
		"safe-api/v10.0/x/y":             {Version: wire.Version{Major: 10}, Module: "x", Request: "y"},
	}
	for in, want := range good {
		got, err := wire.ParseEndpoint(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
		assert.Equal(t, in, got.String())
	}
	bad := []string{"", "safe-api", "safe-api/v1.0/nfs", "safe-api/v1.0/nfs/create-dir/x", "Safe-api/v1.0/nfs/a",
		"safe-api/1.0/nfs/a", "safe-api/v1/nfs/a", "safe-api/v1.0.0/nfs/a", "safe-api/v01.0/nfs/a", "safe-api/v1.00/nfs/a",
		"safe-api/v1.x/nfs/a", "safe-api/v-1.0/nfs/a", "safe-api/v1.0//a", "safe-api/v1.0/nfs/", "safe-api/v1.0/NFS/a",
		"safe-api/v1.0/nfs/a b", "safe-api/v1.0/nfs/\x00", "safe-api/v99999.0/nfs/a", "safe-api/v1.0/" + strings.Repeat("a", 65) + "/b",
		"safe-api/v1.0/nfs/" + strings.Repeat("a", 300)}
	for _, in := range bad {
		_, err := wire.ParseEndpoint(in)
		require.ErrorIs(t, err, wire.ErrBadEndpoint, "%q", in)
	}
}

func TestResponses(t *testing.T) {
	id := wire.ID([]byte("body"))
	assert.Len(t, id, wire.IDSize)
	got := wire.AppendError(nil, id, wire.CodeOK, "")
	assert.Equal(t, `{"id":"`+id+`","error":{"code":0,"description":""}}`, string(got))
	got = wire.AppendError(nil, "", wire.CodeLauncherString, `bad "string" <x>`)
	var r wire.Response
	require.NoError(t, json.Unmarshal(got, &r))
	assert.Equal(t, "", r.ID)
	assert.Equal(t, wire.CodeLauncherString, r.Error.Code)
	assert.Equal(t, `bad "string" <x>`, r.Error.Description)
	require.ErrorIs(t, r.Err(), wire.ErrLauncherString)

	got, err := wire.AppendAnswer(nil, id, &wire.LongNamesResponse{LongNames: []string{"a"}})
	require.NoError(t, err)
	assert.Equal(t, `{"id":"`+id+`","data":{"long_names":["a"]}}`, string(got))
}

func TestGetDirResponseShape(t *testing.T) {
	b, err := json.Marshal(wire.GetDirResponse{SubDirectories: []wire.DirInfo{}, Files: []wire.FileInfo{}})
	require.NoError(t, err)
	assert.Equal(t, `{"info":{"name":"","creation_time_sec":0,"creation_time_nsec":0,"modification_time_sec":0,"modification_time_nsec":0,"is_private":false,"is_versioned":false,"user_metadata":""},"sub_directories":[],"files":[]}`, string(b))
}

func TestParseRequestEnvelope(t *testing.T) {
	r, err := wire.ParseRequest([]byte(`{"endpoint":"safe-api/v1.0/dns/add-service","parameters":{"long_name":"x"}}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"long_name":"x"}`, string(r.Data), "parameters stands for data")
	r, err = wire.ParseRequest([]byte(`{"endpoint":"e","data":{"a":1},"parameters":{"b":2}}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":1}`, string(r.Data), "data wins over parameters")
	for _, in := range []string{``, `[]`, `"s"`, `{"endpoint":1}`, `{}`, `{"endpoint":"x"`} {
		_, err := wire.ParseRequest([]byte(in))
		var we *wire.Error
		require.ErrorAs(t, err, &we, in)
	}
}

func TestDecodeNamesFields(t *testing.T) {
	cases := []struct {
		in    string
		want  *wire.Error
		field string
	}{
		{`{"is_path_shared":false}`, wire.ErrMissingField, `"data.file_path"`},
		{`{"is_path_shared":1,"file_path":"a"}`, wire.ErrWrongType, `"data.is_path_shared"`},
		{`{"is_path_shared":false,"file_path":null}`, wire.ErrWrongType, `"data.file_path"`},
		{`{"is_path_shared":false,"file_path":"a","new_values":{"user_metadata":"@@"}}`, wire.ErrBadBase64, `"data.new_values.user_metadata"`},
		{`{"is_path_shared":false,"file_path":"a","new_values":{"user_metadata":"AQ"}}`, wire.ErrBadBase64, `"data.new_values.user_metadata"`},
		{`{"is_path_shared":false,"file_path":"a","new_values":{"content":{"offset":"1","bytes":""}}}`, wire.ErrWrongType, `"data.new_values.content.offset"`},
		{`{"is_path_shared":false,"file_path":"a","new_values":{"content":{"offset":99999999999999999999,"bytes":""}}}`, wire.ErrWrongType, `"data.new_values.content.offset"`},
		{`{"is_path_shared":false,"file_path":"a","new_values":5}`, wire.ErrWrongType, `"data.new_values"`},
		{`[1]`, wire.ErrWrongType, `"data"`},
	}
	for _, tc := range cases {
		var r wire.ModifyFileRequest
		err := wire.Decode([]byte(tc.in), &r)
		require.ErrorIs(t, err, tc.want, tc.in)
		assert.Contains(t, err.Error(), tc.field, tc.in)
	}
	var r wire.ModifyFileRequest
	require.NoError(t, wire.Decode([]byte(`{"is_path_shared":true,"file_path":"a/b","new_values":{"name":"n","content":{"bytes":"AQID"},"user_metadata":""},"extra":1}`), &r))
	assert.True(t, r.IsPathShared)
	assert.Equal(t, "n", *r.NewValues.Name)
	assert.Nil(t, r.NewValues.Content.Offset)
	assert.Equal(t, []byte{1, 2, 3}, []byte(r.NewValues.Content.Bytes))
	assert.Equal(t, []byte{}, []byte(*r.NewValues.UserMetadata))
}

func TestBytesJSON(t *testing.T) {
	b, err := json.Marshal(struct{ B wire.Bytes }{wire.Bytes{}})
	require.NoError(t, err)
	assert.Equal(t, `{"B":""}`, string(b))
	var v struct{ B wire.Bytes }
	require.NoError(t, json.Unmarshal([]byte(`{"B":"AQID"}`), &v))
	assert.Equal(t, []byte{1, 2, 3}, []byte(v.B))
	require.Error(t, json.Unmarshal([]byte(`{"B":"AQI"}`), &v), "unpadded refused")
	require.Error(t, json.Unmarshal([]byte(`{"B":"AQ\nID"}`), &v), "line breaks refused")
}

// depthCases are requests around the depth limit, valid and not.
var depthCases = []string{
	`{"endpoint":"e","data":{"a":[{"b":"[[[[[[[[\"{{{{"}]}}`,
	`{"endpoint":"e","data":{"a":[[[1]]]}}`,
	`{"endpoint":"e","data":{"a":[[[1]]]}`,
	`{"endpoint":"e","data":{"a":[[[1]]]}} [[[[[[`,
	`{"endpoint":x,"data":{"a":[[[[[[[1]]]]]]]}}`,
	`{"endpoint":"e","data":{"a":[[[[[[[1]]]]]]]},x}`,
	`{"endpoint":"e","data":{"a":"x`,
	`[[[[[[`,
	`{"endpoint":"e","data":{}}`,
	`{"endpoint":"e","x":[],"data":{"a":{"b":{}}}}`,
	`{"endpoint":"e\"[[[[[[","data":{}}`,
	` {"endpoint":"e","data":[1]} `,
	`{}`,
	`{`,
	``,
}

// checkParseRequestLimit: ParseRequestLimit gives what CheckDepth then
// ParseRequest give, error text included.
func checkParseRequestLimit(t *testing.T, data []byte, max int) {
	t.Helper()
	want, wantErr := wire.Request{}, wire.CheckDepth(data, max)
	if wantErr == nil {
		want, wantErr = wire.ParseRequest(data)
	}
	got, err := wire.ParseRequestLimit(data, max)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) || got.Endpoint != want.Endpoint || string(got.Data) != string(want.Data) {
		t.Fatalf("max %d, input %q: got %q, %v; want %q, %v", max, data, got, err, want, wantErr)
	}
	var ge, we *wire.Error
	if errors.As(err, &ge) != errors.As(wantErr, &we) || ge != nil && ge.Code != we.Code {
		t.Fatalf("max %d, input %q: error %#v, want %#v", max, data, err, wantErr)
	}
}

func TestParseRequestLimit(t *testing.T) {
	for _, s := range depthCases {
		for max := 1; max <= 6; max++ {
			checkParseRequestLimit(t, []byte(s), max)
		}
	}
}

func TestCheckDepth(t *testing.T) {
	require.NoError(t, wire.CheckDepth([]byte(`{"a":[{"b":"[[[[[[[[\"{{{{"}]}`), 3))
	require.ErrorIs(t, wire.CheckDepth([]byte(`[[[[1]]]]`), 3), wire.ErrLimit)
	require.NoError(t, wire.CheckDepth([]byte(`[[[1]]]`), 3))
}

func TestErrorIs(t *testing.T) {
	err := error(wire.Errorf(wire.CodePathNotFound, "x"))
	assert.True(t, errors.Is(err, wire.ErrPathNotFound))
	assert.False(t, errors.Is(err, wire.ErrAlreadyExists))
	cause := errors.New("cause")
	assert.True(t, errors.Is(wire.Wrap(wire.CodeInternal, cause), cause))
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"safe-api/v1.0/nfs/create-dir", "safe-api/v1.1/dns/list-long-names", "safe-api/v01.0/a/b", "safe-api/v1.0/../b", "safe-api/v1.0/nfs/get-dir/", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := wire.ParseEndpoint(s)
		if err != nil {
			if !errors.Is(err, wire.ErrBadEndpoint) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if ep.String() != s {
			t.Fatalf("accepted %q but it prints as %q", s, ep.String())
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"endpoint":"safe-api/v1.0/nfs/get-dir","data":{"timeout_ms":0,"is_path_shared":false,"dir_path":"/"}}`))
	f.Add([]byte(`{"endpoint":"safe-api/v1.0/dns/add-service","parameters":{}}`))
	f.Add([]byte(`{"endpoint":1}`))
	f.Add([]byte(`[[[[[[`))
	for _, s := range depthCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, max := range []int{1, 2, 3, 4, 32} {
			checkParseRequestLimit(t, data, max)
		}
		r, err := wire.ParseRequest(data)
		if err != nil {
			var we *wire.Error
			if !errors.As(err, &we) || we.Code >= 0 {
				t.Fatalf("error is not a negative *wire.Error: %v", err)
			}
			return
		}
		if !utf8.ValidString(r.Endpoint) && len(r.Endpoint) > 0 {
			// json decoding replaces invalid UTF-8; an accepted endpoint is text.
			t.Fatalf("endpoint is not valid UTF-8")
		}
	})
}

// FuzzDecodeRequests feeds the same data to every request decoder: each either
// decodes or returns a negative *wire.Error; none panics.
func FuzzDecodeRequests(f *testing.F) {
	f.Add([]byte(`{"is_path_shared":false,"dir_path":"a","is_private":true,"is_versioned":false,"user_metadata":""}`))
	f.Add([]byte(`{"is_path_shared":false,"file_path":"a","new_values":{"name":"b","content":{"offset":3,"bytes":"AQID"},"user_metadata":"AA=="}}`))
	f.Add([]byte(`{"long_name":"example","service_name":"www","is_path_shared":false,"service_home_dir_path":"site"}`))
	f.Add([]byte(`{"is_path_shared":false,"file_path":"a","offset":0,"length":-1,"include_metadata":true}`))
	f.Add([]byte(`{"timeout_ms":"x"}`))
	f.Add([]byte(`{"payload":"aGVsbG8="}`))
	f.Add([]byte(`{"is_path_shared":true,"dir_path":"docs","recursive":true}`))
	f.Add([]byte(`{"watch_id":"w1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		decoders := []wire.Decoder{
			&wire.CreateDirRequest{}, &wire.DirRequest{}, &wire.GetDirRequest{}, &wire.ModifyDirRequest{},
			&wire.CreateFileRequest{}, &wire.FileRequest{}, &wire.GetFileRequest{}, &wire.ModifyFileRequest{},
			&wire.ServiceRequest{}, &wire.LongNameRequest{}, &wire.ServiceNameRequest{}, &wire.ServiceFileRequest{},
			&wire.PingRequest{}, &wire.WatchRequest{}, &wire.UnwatchRequest{}, &wire.Event{},
		}
		for _, d := range decoders {
			if err := wire.Decode(data, d); err != nil {
				var we *wire.Error
				if !errors.As(err, &we) || we.Code >= 0 || we.Description == "" {
					t.Fatalf("%T: error is not a described negative *wire.Error: %v", d, err)
				}
			}
		}
	})
}
