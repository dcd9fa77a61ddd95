package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// ProcSample is one reading of a process's resources from /proc.
type ProcSample struct {
	RSSKB   int64 // VmRSS
	Threads int64
	FDs     int64
}

// ProcSummary is what the sampler saw.
type ProcSummary struct {
	PID                   int
	Baseline, Peak, Final ProcSample
	Samples               int
	BoundMB               int64
	Err                   error // the last sampling error (e.g. the process is gone)
}

// readProc reads VmRSS and Threads from /proc/<pid>/status and counts /proc/<pid>/fd.
func readProc(pid int) (ProcSample, error) {
	var s ProcSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(val)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		switch string(key) {
		case "VmRSS":
			s.RSSKB = n
		case "Threads":
			s.Threads = n
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.FDs = int64(len(ents))
	return s, nil
}

// procSampler samples a process periodically in its own goroutine until finish.
type procSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	sum     ProcSummary
	lastErr error
}

func startSampler(pid int, every time.Duration) (*procSampler, error) {
	first, err := readProc(pid)
	if err != nil {
		return nil, fmt.Errorf("framegen: sampling pid %d: %w", pid, err)
	}
	p := &procSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	p.sum = ProcSummary{PID: pid, Baseline: first, Peak: first, Final: first, Samples: 1}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.sample()
			}
		}
	}()
	return p, nil
}

func (p *procSampler) sample() (ProcSample, error) {
	s, err := readProc(p.pid)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.lastErr = err
		return s, err
	}
	p.sum.Samples++
	p.sum.Final = s
	p.sum.Peak.RSSKB = max(p.sum.Peak.RSSKB, s.RSSKB)
	p.sum.Peak.Threads = max(p.sum.Peak.Threads, s.Threads)
	p.sum.Peak.FDs = max(p.sum.Peak.FDs, s.FDs)
	return s, nil
}

// finish stops the periodic sampling, then samples until RSS is at most
// boundMB or settle has passed (the Go runtime returns memory gradually). It
// reports whether the final RSS is over the bound.
func (p *procSampler) finish(ctx context.Context, boundMB int64, settle time.Duration) (*ProcSummary, bool) {
	close(p.stop)
	<-p.done
	end := time.Now().Add(settle)
	over := true
	for {
		s, err := p.sample()
		if err == nil && s.RSSKB <= boundMB<<10 {
			over = false
			break
		}
		if err != nil || time.Now().After(end) || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	sum := p.sum
	sum.BoundMB = boundMB
	sum.Err = p.lastErr
	return &sum, over
}
