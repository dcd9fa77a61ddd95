package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// printReport writes the per-class table, the process summary and the verdict.
func printReport(out io.Writer, cfg *AttackConfig, rep *Report) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\tcases\tsent\terr-answers\tok-answers\tclosed\ttimeouts\tno-conn\tbusy\taborted\tunexpected\t")
	var tot ClassStats
	for _, c := range rep.Classes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", c.Name, c.Cases, c.Sent, c.ErrAnswers, c.OKAnswers, c.Closed, c.Timeouts, c.NoConn, c.Busy, c.Aborted, c.Unexpected)
		tot.Cases += c.Cases
		tot.Sent += c.Sent
		tot.ErrAnswers += c.ErrAnswers
		tot.OKAnswers += c.OKAnswers
		tot.Closed += c.Closed
		tot.Timeouts += c.Timeouts
		tot.NoConn += c.NoConn
		tot.Busy += c.Busy
		tot.Aborted += c.Aborted
		tot.Unexpected += c.Unexpected
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", tot.Cases, tot.Sent, tot.ErrAnswers, tot.OKAnswers, tot.Closed, tot.Timeouts, tot.NoConn, tot.Busy, tot.Aborted, tot.Unexpected)
	tw.Flush()
	for _, s := range rep.Skipped {
		fmt.Fprintf(out, "skipped %s: needs -token-cmd to mint launcher strings\n", s)
	}
	for _, u := range rep.Unexpected {
		fmt.Fprintf(out, "unexpected: %s\n", u)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(out, "timed out or not connected: %s\n", n)
	}
	if p := rep.Proc; p != nil {
		fmt.Fprintf(out, "daemon pid %d (%d samples): RSS %d -> peak %d -> final %d KiB; threads %d -> peak %d -> final %d; fds %d -> peak %d -> final %d\n",
			p.PID, p.Samples, p.Baseline.RSSKB, p.Peak.RSSKB, p.Final.RSSKB,
			p.Baseline.Threads, p.Peak.Threads, p.Final.Threads, p.Baseline.FDs, p.Peak.FDs, p.Final.FDs)
		if p.Err != nil {
			fmt.Fprintf(out, "sampling error: %v\n", p.Err)
		}
		verdict := "ok"
		if rep.RSSOver {
			verdict = "OVER"
		}
		fmt.Fprintf(out, "rss bound: %d MiB, final %d MiB: %s\n", p.BoundMB, p.Final.RSSKB>>10, verdict)
	}
	if rep.Probe != nil {
		fmt.Fprintf(out, "probe: FAILED: %v\n", rep.Probe)
	} else {
		fmt.Fprintln(out, "probe: ok (fresh app: handshake, unknown-module answer, nfs get-dir)")
	}
	if rep.Failed() {
		fmt.Fprintln(out, "result: FAIL")
	} else {
		fmt.Fprintln(out, "result: PASS")
	}
}
