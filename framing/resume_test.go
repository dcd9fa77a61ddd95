package framing_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/framing"
)

var errTransient = errors.New("transient")

// choppy serves data in the chunk sizes of plan (cycled; 0 means a
// transient error instead of bytes, never twice in a row), then io.EOF.
type choppy struct {
	data   []byte
	plan   []byte
	i      int
	failed bool
}

func (c *choppy) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	step := 1 + len(c.data) // no plan: everything at once
	if len(c.plan) > 0 {
		step = int(c.plan[c.i%len(c.plan)])
		c.i++
		if step == 0 && !c.failed {
			c.failed = true
			return 0, errTransient
		}
		c.failed = false
		step = max(step, 1)
	}
	n := copy(p, c.data[:min(step, len(c.data))])
	c.data = c.data[n:]
	return n, nil
}

// frames reads every frame with read, retrying transient errors, and
// returns the payloads and the error that ended the stream. left reports
// the bytes the source still holds: a transient error with none consumed
// since the last one means read made no progress.
func frames(t *testing.T, read func() ([]byte, error), left func() int) (out [][]byte, end error) {
	last := -1
	for {
		p, err := read()
		if errors.Is(err, errTransient) {
			if n := left(); n == last {
				t.Fatal("no progress")
			} else {
				last = n
			}
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
}

// FuzzNext: Next over a stream that arrives in arbitrary pieces, with
// transient errors between them, gives exactly the frames and the final
// error class ReadFrame gives over the whole stream at once.
func FuzzNext(f *testing.F) {
	f.Add(frame(3, []byte("abc")), []byte{1})
	f.Add(append(frame(5, []byte("hello")), frame(0, nil)...), []byte{3, 0, 2, 0, 0, 7})
	f.Add(frame(1<<63, nil), []byte{4, 0})
	f.Add(frame(10, []byte("short")), []byte{2, 0})
	f.Add([]byte{1, 2, 3}, []byte{0, 1})
	f.Add(append(frame(70000, bytes.Repeat([]byte{7}, 70000)), frame(1, []byte{1})...), []byte{255, 0, 9})
	f.Fuzz(func(t *testing.T, data, plan []byte) {
		const max = 1 << 20
		src := bytes.NewReader(data)
		whole := framing.NewReader(src, max)
		want, wantEnd := frames(t, whole.ReadFrame, src.Len)
		ch := &choppy{data: data, plan: plan}
		r := framing.NewReader(ch, max)
		got, gotEnd := frames(t, r.Next, func() int { return len(ch.data) })
		require.Equal(t, len(want), len(got))
		for i := range want {
			require.True(t, bytes.Equal(want[i], got[i]), "frame %d", i)
		}
		for _, class := range []error{io.EOF, framing.ErrTooLarge, framing.ErrTruncated} {
			require.Equal(t, errors.Is(wantEnd, class), errors.Is(gotEnd, class), "end %v, want %v", gotEnd, wantEnd)
		}
	})
}

// TestNextResumesAfterDeadline: a read deadline that passes mid-frame on a
// real connection loses nothing; the next call finishes the frame.
func TestNextResumesAfterDeadline(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	r := framing.NewReader(b, 1<<20)
	payload := bytes.Repeat([]byte("x"), 1000)
	full := frame(uint64(len(payload)), payload)
	go func() { a.Write(full[:500]) }()
	require.NoError(t, b.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	_, err := r.Next()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, b.SetReadDeadline(time.Time{}))
	go func() { a.Write(full[500:]) }()
	p, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, payload, p)
}
