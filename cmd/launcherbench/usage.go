package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// usage is what a process has cost the machine so far: CPU time on its
// threads and how many times they were switched off a CPU, summed over the
// threads alive now (Linux /proc; the Go runtime seldom ends a thread, so a
// delta over a measurement is what that measurement cost).
type usage struct {
	CPU      time.Duration
	Switches int64
}

// since is what was used between v and u (v read first).
func (u usage) since(v usage) usage { return usage{u.CPU - v.CPU, u.Switches - v.Switches} }

// plus adds v to u.
func (u usage) plus(v usage) usage { return usage{u.CPU + v.CPU, u.Switches + v.Switches} }

// readUsage reads the usage of process pid (0: this process). ok is false
// where /proc does not say (not Linux).
func readUsage(pid int) (u usage, ok bool) {
	dir := "/proc/self/task"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/task"
	}
	tasks, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(tasks) == 0 {
		return usage{}, false
	}
	for _, t := range tasks {
		// schedstat: time on a CPU (ns), time waiting for one, timeslices.
		if b, err := os.ReadFile(filepath.Join(t, "schedstat")); err == nil {
			if f := bytes.Fields(b); len(f) > 0 {
				if ns, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					u.CPU += time.Duration(ns)
					ok = true
				}
			}
		}
		b, err := os.ReadFile(filepath.Join(t, "status"))
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			for _, key := range [][]byte{[]byte("voluntary_ctxt_switches:"), []byte("nonvoluntary_ctxt_switches:")} {
				if v, found := bytes.CutPrefix(line, key); found {
					if n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64); err == nil {
						u.Switches += n
					}
				}
			}
		}
	}
	return u, ok
}

// minorFaults reads how many minor page faults process pid (0: this
// process) has taken (Linux /proc/<pid>/stat, field 10). ok is false where
// /proc does not say.
func minorFaults(pid int) (n int64, ok bool) {
	p := "self"
	if pid != 0 {
		p = strconv.Itoa(pid)
	}
	b, err := os.ReadFile("/proc/" + p + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after its closing parenthesis (state is field 3).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 8 {
		return 0, false
	}
	n, err = strconv.ParseInt(string(f[7]), 10, 64)
	return n, err == nil
}

// cost is the usage per operation of a server and of its client while a
// latency was measured.
type cost struct {
	Server, Client     time.Duration // CPU per operation
	ServerSw, ClientSw float64       // context switches per operation
}

// perOp divides the usage of n operations.
func perOp(server, client usage, n int) cost {
	if n == 0 {
		return cost{}
	}
	return cost{
		Server: server.CPU / time.Duration(n), Client: client.CPU / time.Duration(n),
		ServerSw: float64(server.Switches) / float64(n), ClientSw: float64(client.Switches) / float64(n),
	}
}
