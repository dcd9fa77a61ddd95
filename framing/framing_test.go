package framing_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/framing"
)

func frame(size uint64, body []byte) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, size), body...)
}

func TestReadFrame(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		max     uint64
		want    []byte
		wantErr error
	}{
		{"empty body", frame(0, nil), 0, []byte{}, nil},
		{"small", frame(3, []byte("abc")), 0, []byte("abc"), nil},
		{"at max", frame(4, []byte("abcd")), 4, []byte("abcd"), nil},
		{"over max", frame(5, []byte("abcde")), 4, nil, framing.ErrTooLarge},
		{"2^63", frame(1<<63, nil), 0, nil, framing.ErrTooLarge},
		{"2^64-1", frame(^uint64(0), nil), 0, nil, framing.ErrTooLarge},
		{"clean EOF", nil, 0, nil, io.EOF},
		{"truncated header", []byte{1, 0, 0}, 0, nil, framing.ErrTruncated},
		{"truncated body", frame(10, []byte("abc")), 0, nil, framing.ErrTruncated},
		{"one byte short", frame(4, []byte("abc")), 0, nil, framing.ErrTruncated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := framing.NewReader(bytes.NewReader(tc.in), tc.max).ReadFrame()
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestOneByteLongLeavesRest(t *testing.T) {
	in := append(frame(3, []byte("abcd")), 0)
	r := framing.NewReader(bytes.NewReader(in), 0)
	got, err := r.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, "abc", string(got))
	_, err = r.ReadFrame() // "d" + 0 is a truncated header
	require.ErrorIs(t, err, framing.ErrTruncated)
}

func TestSequence(t *testing.T) {
	var buf bytes.Buffer
	msgs := [][]byte{[]byte("one"), {}, bytes.Repeat([]byte{7}, 200_000)}
	for _, m := range msgs {
		require.NoError(t, framing.WriteFrame(&buf, m))
	}
	r := framing.NewReader(&buf, 0)
	for _, m := range msgs {
		got, err := r.ReadFrame()
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	_, err := r.ReadFrame()
	assert.Equal(t, io.EOF, err)
}

// countingWriter records how many Write calls a frame took.
type countingWriter struct {
	bytes.Buffer
	calls int
}

func (w *countingWriter) Write(p []byte) (int, error) { w.calls++; return w.Buffer.Write(p) }

func TestWriteFrameIsOneWrite(t *testing.T) {
	var w countingWriter
	require.NoError(t, framing.WriteFrame(&w, []byte("hello")))
	assert.Equal(t, 1, w.calls)
	assert.Equal(t, frame(5, []byte("hello")), w.Bytes())

	w = countingWriter{}
	buf := append(make([]byte, framing.HeaderSize), "payload"...)
	require.NoError(t, framing.WriteFramed(&w, buf))
	assert.Equal(t, 1, w.calls)
	assert.Equal(t, frame(7, []byte("payload")), w.Bytes())
	require.Error(t, framing.WriteFramed(&w, []byte{1, 2}))
}

// TestClaimDoesNotReserve: a 16-byte frame claiming 300 MiB must not make the
// reader allocate 300 MiB.
func TestClaimDoesNotReserve(t *testing.T) {
	in := frame(300<<20, []byte("only eight"))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := framing.NewReader(bytes.NewReader(in), 0).ReadFrame()
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, framing.ErrTruncated)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "allocated for a claim, not for bytes received")
}

// TestOverPipeAndTCP runs the same exchange over an in-memory pipe and real TCP,
// with the writer splitting the stream into tiny pieces.
func TestOverPipeAndTCP(t *testing.T) {
	transports := map[string]func(t *testing.T) (net.Conn, net.Conn){
		"pipe": func(t *testing.T) (net.Conn, net.Conn) { return net.Pipe() },
		"tcp": func(t *testing.T) (net.Conn, net.Conn) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			ch := make(chan net.Conn, 1)
			go func() { c, _ := ln.Accept(); ch <- c }()
			a, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			return a, <-ch
		},
	}
	for name, mk := range transports {
		t.Run(name, func(t *testing.T) {
			a, b := mk(t)
			defer a.Close()
			defer b.Close()
			payload := bytes.Repeat([]byte("xyz"), 50_000)
			stream := framing.AppendFrame(nil, payload)
			done := make(chan error, 1)
			go func() {
				for i := 0; i < len(stream); i += 7 {
					if _, err := a.Write(stream[i:min(i+7, len(stream))]); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			got, err := framing.NewReader(b, 0).ReadFrame()
			require.NoError(t, err)
			require.NoError(t, <-done)
			assert.Equal(t, payload, got)
		})
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	assert.False(t, errors.Is(framing.ErrTooLarge, framing.ErrTruncated))
}

// FuzzReadFrame: any input either yields frames that re-encode to the same
// bytes, or a documented error; never a panic or an allocation past the input.
func FuzzReadFrame(f *testing.F) {
	f.Add(frame(3, []byte("abc")))
	f.Add(frame(0, nil))
	f.Add(frame(1<<63, nil))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := framing.NewReader(bytes.NewReader(data), 1<<20)
		var out []byte
		for {
			p, err := r.ReadFrame()
			if err != nil {
				if err != io.EOF && !errors.Is(err, framing.ErrTooLarge) && !errors.Is(err, framing.ErrTruncated) {
					t.Fatalf("undocumented error %v", err)
				}
				if err == io.EOF && !bytes.Equal(out, data) {
					t.Fatalf("clean EOF but re-encoding differs")
				}
				return
			}
			if len(p) > len(data) {
				t.Fatalf("frame larger than input")
			}
			out = framing.AppendFrame(out, p)
		}
	})
}
