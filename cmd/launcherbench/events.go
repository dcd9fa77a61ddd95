package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/wire"
)

// Push events (launcher/watch, v1.1): how long a change takes to reach the
// SDKs of the sessions watching its directory, and what those watchers
// cost the session making changes. One daemon child; the writer and the
// watching sessions are SDK clients of the bench app in this process, all
// watching cdDir, where the changes are made.

// eventsResult are the events section's figures.
type eventsResult struct {
	Watchers int
	Changes  int // changes timed (creates and deletes, one at a time)
	// Latency is from the writer's answer to the event at each watching
	// SDK (its consumer's loop), over every watcher and change. An event
	// may reach a watcher before the writer has its answer: Early counts
	// those samples, taken as 0.
	Latency latencyPair
	Early   int
	Samples int
	// FromSend is the same events' latency from the writer sending its
	// request (the change's own round trip included).
	FromSend latencyPair
	// Spaced is the writer's create+delete round trip (the two changes'
	// round trips added) while latency was measured: each change made
	// once every watcher had heard of the one before, so that only its
	// own fan-out competes with it.
	Spaced latencyPair
	// Ping is launcher/ping's round trip on one session with no watch:
	// the reference for one sealed frame each way through the daemon.
	Ping latencyPair
	// Without and With are the create+delete round trip on the writer's
	// connection with no watch, and with every watcher watching (and its
	// consumer draining), in interleaved rounds.
	Without, With latencyPair
	// PerEvent is the CPU per event delivered while latency was measured
	// (daemon: Server; this process, the watching SDKs and the writer:
	// Client); PerPing the same per ping round trip.
	PerEvent, PerPing cost
	Overflows         int64 // overflow events the consumers saw (none is expected)
}

// runEvents is the events section.
func runEvents(p plan, res *results, dirOf dirFunc, logf logFunc) error {
	d, err := dirOf("events")
	if err != nil {
		return err
	}
	if err := prepareStore(d); err != nil {
		return err
	}
	r, err := measureEvents(d, p.EvWatchers, p.EvChanges, p.EvPairs)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	res.Events = &r
	logf("events x%d watchers: latency p50 %s p99 %s (%d samples, %d before the answer); from the request p50 %s p99 %s; ping p50 %s",
		r.Watchers, r.Latency.P50.Round(time.Microsecond), r.Latency.P99.Round(time.Microsecond), r.Samples, r.Early,
		r.FromSend.P50.Round(time.Microsecond), r.FromSend.P99.Round(time.Microsecond), r.Ping.P50.Round(time.Microsecond))
	logf("events create+delete p50 %s without watchers, %s with %d (%.2fx), %s spaced; CPU per event %s + %s, per ping %s + %s",
		r.Without.P50.Round(time.Microsecond), r.With.P50.Round(time.Microsecond), r.Watchers, ratio(float64(r.With.P50), float64(r.Without.P50)),
		r.Spaced.P50.Round(time.Microsecond),
		r.PerEvent.Server.Round(time.Microsecond), r.PerEvent.Client.Round(time.Microsecond),
		r.PerPing.Server.Round(time.Microsecond), r.PerPing.Client.Round(time.Microsecond))
	return nil
}

// measureEvents runs the events section on a fresh daemon child over the
// store in dir: watchers watching sessions, changes timed changes (even),
// pairs create+delete round trips each way.
func measureEvents(dir string, watchers, changes, pairs int) (eventsResult, error) {
	r := eventsResult{Watchers: watchers, Changes: changes}
	if watchers <= 0 || changes <= 0 || pairs <= 0 {
		return r, errors.New("the plan has no watchers, changes or pairs")
	}
	ch, err := startChild("", kindDaemon, dir, watchers+16)
	if err != nil {
		return r, err
	}
	defer ch.stop()
	vals, err := ch.mint(watchers + 1)
	if err != nil {
		return r, err
	}
	var cs []*client.Client
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for _, v := range vals {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := client.Dial(ctx, v)
		cancel()
		if err != nil {
			return r, err
		}
		cs = append(cs, c)
	}
	writer, watching := cs[0], cs[1:]
	ctx := context.Background()

	// The reference: pings on the writer, no watch anywhere.
	if r.Ping, r.PerPing, err = pings(ctx, ch, writer, max(200, pairs)); err != nil {
		return r, err
	}
	if err := eventLatency(ctx, ch, writer, watching, &r); err != nil {
		return r, err
	}
	if err := changesBesideWatchers(ctx, writer, watching, pairs, &r); err != nil {
		return r, err
	}
	return r, nil
}

// pings times n pings on c, and what they cost the daemon and this process.
func pings(ctx context.Context, ch *child, c *client.Client, n int) (latencyPair, cost, error) {
	for range 20 { // warm up
		if _, err := c.Ping(ctx, nil); err != nil {
			return latencyPair{}, cost{}, err
		}
	}
	s0, ok1 := readUsage(ch.pid())
	c0, ok2 := readUsage(0)
	samples := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if _, err := c.Ping(ctx, nil); err != nil {
			return latencyPair{}, cost{}, err
		}
		samples = append(samples, time.Since(t))
	}
	s1, ok3 := readUsage(ch.pid())
	c1, ok4 := readUsage(0)
	var k cost
	if ok1 && ok2 && ok3 && ok4 {
		k = perOp(s1.since(s0), c1.since(c0), n)
	}
	return percentiles(samples, nil), k, nil
}

// percentiles returns the p50 and p99 of samples, and the spread of the
// rounds' p50s (nil: no rounds). It sorts samples.
func percentiles(samples, roundP50 []time.Duration) latencyPair {
	if len(samples) == 0 {
		return latencyPair{}
	}
	slices.Sort(samples)
	lp := latencyPair{P50: samples[len(samples)/2], P99: samples[len(samples)*99/100]}
	if len(roundP50) > 0 {
		lp.RoundMin, lp.RoundMax = slices.Min(roundP50), slices.Max(roundP50)
	}
	return lp
}

// watchSet is a watch on cdDir on each of a set of sessions, each with a
// consumer goroutine ranging over its events, owned by the set: stop
// unwatches and waits for them.
type watchSet struct {
	ws   []*client.Watch
	wg   sync.WaitGroup
	errs chan error
}

// startWatches starts the watches; consume(k, ev) runs on the k-th
// session's consumer for each event.
func startWatches(ctx context.Context, cs []*client.Client, consume func(k int, ev client.Event)) (*watchSet, error) {
	s := &watchSet{errs: make(chan error, len(cs))}
	for k, c := range cs {
		w, err := c.Watch(ctx, client.WatchOptions{DirPath: cdDir})
		if err != nil {
			_ = s.stop(ctx)
			return nil, err
		}
		s.ws = append(s.ws, w)
		s.wg.Go(func() {
			for ev, err := range w.Events() {
				if err != nil {
					s.errs <- err
					return
				}
				consume(k, ev)
			}
		})
	}
	return s, nil
}

// stop unwatches every watch, waits for the consumers and returns the
// first error one met.
func (s *watchSet) stop(ctx context.Context) error {
	var first error
	for _, w := range s.ws {
		if err := w.Unwatch(ctx); err != nil && first == nil {
			first = err
		}
	}
	s.wg.Wait()
	select {
	case err := <-s.errs:
		if first == nil {
			first = err
		}
	default:
	}
	return first
}

// eventName is the file of the j-th create and delete of the latency run.
func eventName(j int) string { return cdDir + "/ev" + strconv.Itoa(j) }

// changeIndex returns the index of the change an event reports (a create of
// eventName(j) is change 2j, its delete 2j+1), or -1.
func changeIndex(ev client.Event) int {
	s, ok := strings.CutPrefix(ev.Path, cdDir+"/ev")
	if !ok {
		return -1
	}
	j, err := strconv.Atoi(s)
	if err != nil || j < 0 {
		return -1
	}
	switch ev.Kind {
	case wire.EventCreated:
		return 2 * j
	case wire.EventDeleted:
		return 2*j + 1
	}
	return -1
}

// eventLatency makes r.Changes changes one at a time on writer, each once
// every watcher has heard of the one before, and times each event from the
// writer's answer to its arrival at each watcher's consumer.
func eventLatency(ctx context.Context, ch *child, writer *client.Client, watching []*client.Client, r *eventsResult) error {
	const warm = 20 // changes made first, not counted (even: whole pairs)
	n, total := len(watching), warm+r.Changes+r.Changes%2
	arrive := make([][]time.Time, n)
	for k := range arrive {
		arrive[k] = make([]time.Time, total)
	}
	remaining := make([]atomic.Int32, total)
	for i := range remaining {
		remaining[i].Store(int32(n))
	}
	heard := make(chan int, total)
	var overflows atomic.Int64
	set, err := startWatches(ctx, watching, func(k int, ev client.Event) {
		now := time.Now()
		if ev.Kind == wire.EventOverflow {
			overflows.Add(1)
			return
		}
		if i := changeIndex(ev); i >= 0 && i < total && arrive[k][i].IsZero() {
			arrive[k][i] = now
			if remaining[i].Add(-1) == 0 {
				heard <- i
			}
		}
	})
	if err != nil {
		return err
	}
	sent, answered := make([]time.Time, total), make([]time.Time, total)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var s0, c0 usage
	var ok1, ok2 bool
	for i := range total {
		if i == warm {
			s0, ok1 = readUsage(ch.pid())
			c0, ok2 = readUsage(0)
		}
		p := eventName(i / 2)
		sent[i] = time.Now()
		if i%2 == 0 {
			err = writer.CreateFile(ctx, wire.CreateFileRequest{FilePath: p, UserMetadata: wire.Bytes{}})
		} else {
			err = writer.DeleteFile(ctx, false, p)
		}
		answered[i] = time.Now()
		if err != nil {
			_ = set.stop(ctx)
			return err
		}
		timer.Reset(10 * time.Second)
		select {
		case got := <-heard:
			if got != i {
				_ = set.stop(ctx)
				return fmt.Errorf("change %d was heard while change %d was awaited", got, i)
			}
		case <-timer.C:
			_ = set.stop(ctx)
			return fmt.Errorf("change %d: %d of %d watchers heard nothing within 10 s (%d overflows)", i, remaining[i].Load(), n, overflows.Load())
		}
	}
	s1, ok3 := readUsage(ch.pid())
	c1, ok4 := readUsage(0)
	if err := set.stop(ctx); err != nil {
		return err
	}
	timed := total - warm
	if ok1 && ok2 && ok3 && ok4 {
		r.PerEvent = perOp(s1.since(s0), c1.since(c0), timed*n)
	}
	samples := make([]time.Duration, 0, timed*n)
	fromSend := make([]time.Duration, 0, timed*n)
	var spaced []time.Duration
	for i := warm; i < total; i++ {
		for k := range n {
			d := arrive[k][i].Sub(answered[i])
			if d < 0 {
				r.Early++
				d = 0
			}
			samples = append(samples, d)
			fromSend = append(fromSend, arrive[k][i].Sub(sent[i]))
		}
		if i%2 == 1 {
			spaced = append(spaced, answered[i].Sub(sent[i])+answered[i-1].Sub(sent[i-1]))
		}
	}
	r.Samples = len(samples)
	r.Latency = percentiles(samples, nil)
	r.FromSend = percentiles(fromSend, nil)
	r.Spaced = percentiles(spaced, nil)
	r.Overflows = overflows.Load()
	return nil
}

// changesBesideWatchers times pairs create+delete round trips on writer
// without watches and as many with every session of watching watching
// cdDir (consumers draining), in interleaved rounds; the watches of a
// round are started before its timed pairs and ended after them.
func changesBesideWatchers(ctx context.Context, writer *client.Client, watching []*client.Client, pairs int, r *eventsResult) error {
	rounds := min(10, max(1, pairs/10))
	per := max(1, pairs/rounds)
	cd := func(into *[]time.Duration) error {
		p := cdDir + "/lat"
		for range per {
			t := time.Now()
			if err := writer.CreateFile(ctx, wire.CreateFileRequest{FilePath: p, UserMetadata: wire.Bytes{}}); err != nil {
				return err
			}
			if err := writer.DeleteFile(ctx, false, p); err != nil {
				return err
			}
			*into = append(*into, time.Since(t))
		}
		return nil
	}
	var without, with, roundWithout, roundWith []time.Duration
	var overflows atomic.Int64
	roundP50 := func(all []time.Duration, from int) time.Duration {
		x := slices.Clone(all[from:])
		slices.Sort(x)
		return x[len(x)/2]
	}
	for range rounds {
		from := len(without)
		if err := cd(&without); err != nil {
			return err
		}
		roundWithout = append(roundWithout, roundP50(without, from))
		set, err := startWatches(ctx, watching, func(_ int, ev client.Event) {
			if ev.Kind == wire.EventOverflow {
				overflows.Add(1)
			}
		})
		if err != nil {
			return err
		}
		from = len(with)
		err = cd(&with)
		if serr := set.stop(ctx); err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
		roundWith = append(roundWith, roundP50(with, from))
	}
	r.Without = percentiles(without, roundWithout)
	r.With = percentiles(with, roundWith)
	r.Overflows += overflows.Load()
	return nil
}

// eventRows are the events section's rows of the table.
func eventRows(r *results) []row {
	e := r.Events
	if e == nil {
		return nil
	}
	lat := func(q string, v time.Duration, ref time.Duration, refName string, limit time.Duration) row {
		x := row{Figure: fmt.Sprintf("event latency %s, a change's answer to the event at a watching SDK, %d sessions watching", q, e.Watchers),
			Value: us(v), Ref: us(ref), RefName: refName, Ratio: fx(ratio(float64(v), float64(ref))),
			Target: "<= " + limit.String()}
		// A latency of 0 (every event before the answer) meets any target.
		x.VsTarget, x.Met = fx(ratio(float64(limit), float64(max(v, time.Microsecond)))), met(v <= limit)
		return x
	}
	pingName := "launcher/ping round trip, 1 session, no watch"
	out := []row{
		lat("p50", e.Latency.P50, e.Ping.P50, pingName+", p50", time.Millisecond),
		lat("p99", e.Latency.P99, e.Ping.P99, pingName+", p99", 10*time.Millisecond),
	}
	rr := ratio(float64(e.With.P50), float64(e.Without.P50))
	out = append(out,
		row{Figure: fmt.Sprintf("create+delete round trip p50, SDK, 1 connection, %d sessions watching its directory", e.Watchers),
			Value: us(e.With.P50), Ref: us(e.Without.P50), RefName: "the same with no watch, same run", Ratio: fx(rr),
			Target: "<= 1.3x no watch", VsTarget: fx(1.3 / rr), Met: met(rr <= 1.3)},
		row{Figure: fmt.Sprintf("create+delete round trip p99, SDK, 1 connection, %d sessions watching its directory", e.Watchers),
			Value: us(e.With.P99), Ref: us(e.Without.P99), RefName: "the same with no watch, same run",
			Ratio: fx(ratio(float64(e.With.P99), float64(e.Without.P99)))},
		row{Figure: fmt.Sprintf("create+delete round trip p50, %d sessions watching, each change made once the last one's events were delivered", e.Watchers),
			Value: us(e.Spaced.P50), Ref: us(e.Without.P50), RefName: "back to back with no watch, same run",
			Ratio: fx(ratio(float64(e.Spaced.P50), float64(e.Without.P50)))})
	for _, q := range []struct {
		name   string
		v, ref time.Duration
	}{{"p50", e.FromSend.P50, e.Ping.P50}, {"p99", e.FromSend.P99, e.Ping.P99}} {
		out = append(out, row{Figure: fmt.Sprintf("event latency %s, from the change's request to the event at a watching SDK, %d sessions watching", q.name, e.Watchers),
			Value: us(q.v), Ref: us(q.ref), RefName: pingName + ", " + q.name, Ratio: fx(ratio(float64(q.v), float64(q.ref)))})
	}
	if e.PerEvent != (cost{}) && e.PerPing != (cost{}) {
		pe, pp := e.PerEvent.Server+e.PerEvent.Client, e.PerPing.Server+e.PerPing.Client
		out = append(out, row{Figure: "CPU per event delivered (daemon + this process's SDKs)",
			Value: fmt.Sprintf("%s (%s + %s)", us(pe), us(e.PerEvent.Server), us(e.PerEvent.Client)),
			Ref:   fmt.Sprintf("%s (%s + %s)", us(pp), us(e.PerPing.Server), us(e.PerPing.Client)), RefName: "per ping round trip",
			Ratio: fx(ratio(float64(pe), float64(pp)))})
	}
	return out
}

// eventsText explains the events section in the report.
const eventsText = `- **events** (launcher/watch, v1.1): a daemon child; one SDK session makes changes in a
  directory that other SDK sessions of the same app in this process watch, each with a goroutine
  ranging over its watch's events. Latency runs from the writer's answer to each watcher's loop
  receiving the event, one change at a time (the next once every watcher heard the last); an event
  that reaches a watcher before the writer has its answer counts as 0 (the daemon offers a change
  to the watchers once its answer is written, and a watcher's SDK often reads the event before the
  writer's SDK has read its answer); the same events are
  also timed from the writer's request. Their reference is a launcher/ping round trip on one
  session. The create+delete round trip is timed on the writer's connection back to back with no
  watch and with every session watching, in interleaved rounds, and also from the latency run,
  where each change waits until the last one's events were delivered. CPU per event is the daemon's
  and this process's while latency was timed, over the events delivered.
`
