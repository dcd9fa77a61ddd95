package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/wire"
)

// pingEndpoint names a module no daemon serves: its answer must be
// CodeUnknownModule, which proves a session still works.
const pingEndpoint = "safe-api/v1.0/framegen-probe/ping"

// class is a mutation class: run drives one case on one connection.
type class struct {
	name       string
	needsToken bool // it completes a real handshake first
	desc       string
	run        func(ctx context.Context, e *env, rng *rand.Rand) caseResult
}

// allClasses lists the mutation classes in report order.
func allClasses() []class {
	return []class{
		{"len-prefix", false, "handshake frame with length 0, 1, 2^63, 2^64-1, one short, one long", runLenPrefix},
		{"truncate", false, "handshake frame cut inside the header or the body", runTruncate},
		{"drip", false, "handshake frame one byte per interval: the handshake deadline must cut it", runDrip},
		{"garbage", false, "garbage bytes before the handshake", runGarbage},
		{"hs-json", false, "malformed authenticate-app JSON", runHandshakeJSON},
		{"bitflip", true, "bit flips in a sealed request", runBitflip},
		{"replay", true, "a sealed request sent twice", runReplay},
		{"bad-json", true, "well-encrypted, malformed request JSON", runBadJSON},
		{"endpoint", true, "unknown or malformed endpoints and versions", runEndpoint},
		{"nfs-path", true, "nfs/dns requests with hostile paths and names", runNFSPath},
		{"huge-b64", true, "requests with huge or broken base64 fields", runHugeB64},
		{"len-session", true, "session frame with length 0, 1, 2^63, 2^64-1, one short, one long", runLenSession},
		{"trunc-session", true, "session frame cut inside the header or the body", runTruncSession},
		{"claim-big", true, "a frame claiming a huge length, then a stall", runClaimBig},
		{"pipeline", true, "many valid requests written at once", runPipeline},
	}
}

// rngReader reads from a math/rand generator (reproducible keys and nonces).
type rngReader struct{ r *rand.Rand }

func (r rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}

// library holds payloads built once per run.
type library struct {
	hsMalformed []named
	plainBad    []named
	pathReqs    []named
	hugeB64     []named
}

func (e *env) lib() *library {
	e.libOnce.Do(func() {
		g := newGen(e.cfg.Seed, attackBig)
		l := &e.library
		l.hsMalformed = g.malformedHandshakes("framegen-"+b64(g.bytes(12)), 48<<10)
		l.hsMalformed = append(l.hsMalformed, named{"over-frame-limit", handshakeJSON("v1.0", strings.Repeat("L", 100<<10), g.bytes(24), g.bytes(32), "")})
		l.plainBad = g.malformedPlaintexts()
		l.pathReqs = hostilePathRequests()
		l.hugeB64 = g.hugeBase64Requests(e.cfg.HugeB64)
	})
	return &e.library
}

// badTokenHandshake is a well-formed handshake with a launcher string no daemon knows.
func badTokenHandshake(rng *rand.Rand) []byte {
	g := &gen{rng: rng, big: attackBig}
	return handshakeJSON("v1.0", "framegen-"+b64(g.bytes(12)), g.bytes(24), g.bytes(32), "counter")
}

// ---- answer checks ----

type rawAnswer struct {
	ID    *string         `json:"id"`
	Data  json.RawMessage `json:"data"`
	Error *struct {
		Code        *int64  `json:"code"`
		Description *string `json:"description"`
	} `json:"error"`
}

// answer is a checked answer.
type answer struct {
	plain bool // unencrypted
	id    string
	code  int64 // 0 for success
	data  bool
	desc  string
}

// parseAnswer checks the envelope of an answer: an object with a string id and
// exactly one of data or error{code,description}.
func parseAnswer(b []byte) (answer, error) {
	var raw rawAnswer
	if err := json.Unmarshal(b, &raw); err != nil {
		return answer{}, fmt.Errorf("answer is not JSON: %q", truncateText(string(b), 80))
	}
	if raw.ID == nil {
		return answer{}, fmt.Errorf("answer has no id: %q", truncateText(string(b), 80))
	}
	a := answer{id: *raw.ID}
	hasData := len(raw.Data) > 0 && string(raw.Data) != "null"
	switch {
	case hasData && raw.Error != nil:
		return a, errors.New("answer has both data and error")
	case hasData:
		a.data = true
	case raw.Error != nil:
		if raw.Error.Code == nil || raw.Error.Description == nil {
			return a, fmt.Errorf("error answer without code or description: %q", truncateText(string(b), 80))
		}
		a.code, a.desc = *raw.Error.Code, *raw.Error.Description
		if a.code > 0 {
			return a, fmt.Errorf("positive error code %d", a.code)
		}
	default:
		return a, fmt.Errorf("answer has neither data nor error: %q", truncateText(string(b), 80))
	}
	if strings.Contains(a.desc, "goroutine ") || strings.Contains(a.desc, "panic") {
		return a, fmt.Errorf("error description leaks internals: %q", truncateText(a.desc, 80))
	}
	return a, nil
}

// dialCase opens a case's connection; when that fails it records why in r and
// reports false.
func dialCase(ctx context.Context, e *env, r *caseResult) (*wconn, bool) {
	w, err := dialConn(ctx, e)
	if err != nil {
		if ctx.Err() != nil {
			r.aborted = true
		} else {
			r.noConn, r.why = true, "dial: "+err.Error()
		}
		return nil, false
	}
	return w, true
}

// readErr records how a read or write failed.
func (r *caseResult) readErr(ctx context.Context, err error) {
	switch {
	case ctx.Err() != nil:
		r.aborted = true
	case classify(err) == outTimeout:
		r.timeout, r.why = true, err.Error()
	default:
		r.closed = true
	}
}

// expectPlainThenClose reads what the daemon sends after a refused handshake:
// at most one plain error frame, then the close. A connection reset before the
// frame (the daemon closed with our bytes unread) counts as a close.
func (w *wconn) expectPlainThenClose(ctx context.Context, r *caseResult, wantCode wire.Code) {
	b, err := w.readFrame()
	if err != nil {
		r.readErr(ctx, err)
		return
	}
	a, err := parseAnswer(b)
	switch {
	case err != nil:
		r.bad("%v", err)
		return
	case a.id != "" || a.code >= 0:
		r.bad("handshake-time answer is not a plain error: id %q code %d", truncateText(a.id, 16), a.code)
		return
	}
	if a.code == int64(wire.CodeBusy) {
		r.busy = true
	} else if wantCode != 0 && a.code != int64(wantCode) {
		r.bad("plain error code %d, want %d (%s)", a.code, wantCode, truncateText(a.desc, 80))
	}
	r.errAnswers++
	w.expectClosed(r)
}

// ---- pre-handshake classes ----

func runLenPrefix(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	w, ok := dialCase(ctx, e, &r)
	if !ok {
		return r
	}
	defer w.close()
	body := badTokenHandshake(rng)
	n := uint64(len(body))
	var out []byte
	var want wire.Code
	half := false
	switch rng.IntN(7) {
	case 0:
		out, want = header(0), wire.CodeHandshake
	case 1:
		out, want = append(header(1), '{'), wire.CodeHandshake
	case 2:
		out, want = header(1<<63), wire.CodeFrameTooLarge
	case 3:
		out, want = header(^uint64(0)), wire.CodeFrameTooLarge
	case 4:
		out, want = append(header(n-1), body...), wire.CodeHandshake
	case 5:
		out, want = append(append(header(n+1), body...), ' '), wire.CodeLauncherString
	case 6:
		out, half = append(header(n+1), body...), true
	}
	r.sent++
	if err := w.write(out); err != nil {
		r.readErr(ctx, err)
		return r
	}
	if half {
		w.closeWrite()
		w.expectClosed(&r)
		return r
	}
	w.expectPlainThenClose(ctx, &r, want)
	return r
}

func runTruncate(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	w, ok := dialCase(ctx, e, &r)
	if !ok {
		return r
	}
	defer w.close()
	f := frame(badTokenHandshake(rng))
	cut := 1 + rng.IntN(framing.HeaderSize-1) // inside the header
	if rng.IntN(2) == 0 {
		cut = framing.HeaderSize + rng.IntN(len(f)-framing.HeaderSize) // inside the body
	}
	r.sent++
	if err := w.write(f[:cut]); err != nil {
		r.readErr(ctx, err)
		return r
	}
	w.closeWrite()
	w.expectClosed(&r)
	return r
}

func runDrip(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	w, ok := dialCase(ctx, e, &r)
	if !ok {
		return r
	}
	defer w.close()
	f := frame(badTokenHandshake(rng))
	r.sent++
	end := time.Now().Add(e.cfg.DripMax)
	var buf [512]byte
	for i := 0; i < len(f); i++ {
		if time.Now().After(end) {
			r.timeout, r.why = true, fmt.Sprintf("drip not cut within %s", e.cfg.DripMax)
			return r
		}
		if err := w.write(f[i : i+1]); err != nil {
			r.readErr(ctx, err)
			return r
		}
		_ = w.nc.SetReadDeadline(time.Now().Add(e.cfg.DripInterval))
		n, err := w.nc.Read(buf[:])
		if n > 0 {
			// The daemon may only answer a busy error before the frame is whole.
			if strings.Contains(string(buf[:n]), fmt.Sprint(int64(wire.CodeBusy))) {
				r.busy = true
				r.errAnswers++
				w.expectClosed(&r)
				return r
			}
			r.bad("drip: %d bytes of answer before the frame was complete", n)
			return r
		}
		if err != nil && classify(err) != outTimeout {
			r.readErr(ctx, err)
			return r
		}
	}
	// Never cut: the whole frame went through; it must be refused as usual.
	w.expectPlainThenClose(ctx, &r, wire.CodeLauncherString)
	r.timeout, r.why = true, "drip: the whole frame went through without a cut"
	return r
}

func runGarbage(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	w, ok := dialCase(ctx, e, &r)
	if !ok {
		return r
	}
	defer w.close()
	g := &gen{rng: rng, big: attackBig}
	var junk []byte
	switch rng.IntN(6) {
	case 0:
		junk = []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	case 1:
		junk = append([]byte{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03}, g.bytes(64)...)
	case 2:
		junk = []byte("SSH-2.0-OpenSSH_9.6\r\n")
	case 3:
		junk = badTokenHandshake(rng) // JSON without a length prefix
	case 4:
		junk = append(header(uint64(2+rng.IntN(16))), g.bytes(1+rng.IntN(8))...) // a small bogus frame
	default:
		junk = g.bytes(1 + rng.IntN(512))
	}
	r.sent++
	if err := w.write(append(junk, frame(badTokenHandshake(rng))...)); err != nil {
		r.readErr(ctx, err)
		return r
	}
	w.closeWrite()
	w.expectPlainThenClose(ctx, &r, 0)
	return r
}

func runHandshakeJSON(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	lib := e.lib()
	w, ok := dialCase(ctx, e, &r)
	if !ok {
		return r
	}
	defer w.close()
	m := lib.hsMalformed[rng.IntN(len(lib.hsMalformed))]
	r.sent++
	if err := w.write(frame(m.b)); err != nil {
		r.readErr(ctx, err)
		return r
	}
	w.expectPlainThenClose(ctx, &r, 0)
	return r
}

// ---- sessions ----

type session struct {
	*wconn
	ch   *handshake.Channel
	mode handshake.Mode
}

// openSession mints a launcher string and completes a real handshake in a
// random nonce mode. It reports false (with r filled in) when it could not.
func openSession(ctx context.Context, e *env, rng *rand.Rand, r *caseResult) (*session, bool) {
	value, err := e.cfg.Mint(ctx)
	if err != nil {
		if ctx.Err() != nil {
			r.aborted = true
		} else {
			r.bad("minting a launcher string: %v", err)
		}
		return nil, false
	}
	t, err := client.ParseLauncherValue(value)
	if err != nil {
		r.bad("minted value: %v", err)
		return nil, false
	}
	w, ok := dialCase(ctx, e, r)
	if !ok {
		return nil, false
	}
	mode := handshake.Counter
	if rng.IntN(2) == 0 {
		mode = handshake.Fixed
	}
	app, req, err := handshake.NewApp(rngReader{rng}, t.LauncherString, "v1.0", mode)
	if err != nil {
		w.close()
		r.bad("handshake request: %v", err)
		return nil, false
	}
	r.sent++
	if err := w.write(frame(req)); err != nil {
		w.close()
		r.readErr(ctx, err)
		return nil, false
	}
	b, err := w.readFrame()
	if err != nil {
		w.close()
		r.readErr(ctx, err)
		return nil, false
	}
	ch, err := app.Finish(b)
	if err != nil {
		w.close()
		var re *handshake.RefusedError
		switch {
		case errors.As(err, &re) && re.Code == int64(wire.CodeBusy):
			r.busy = true
		case errors.As(err, &re) && re.Code == int64(wire.CodeFixedRefused) && mode == handshake.Fixed:
			// A daemon that refuses fixed nonces: fine, try counter next time.
			r.errAnswers++
		default:
			r.bad("handshake with a fresh launcher string failed: %v", err)
		}
		return nil, false
	}
	return &session{wconn: w, ch: ch, mode: mode}, true
}

func (s *session) close() {
	s.ch.Close()
	s.wconn.close()
}

// seal seals a request plaintext.
func (s *session) seal(plain []byte) []byte { return s.ch.Seal(nil, plain) }

// roundTrip writes body as one frame and reads and checks the answer to it.
// It returns the answer and true, or false when the connection ended (r says how).
func (s *session) roundTrip(ctx context.Context, r *caseResult, body []byte) (answer, bool) {
	r.sent++
	if err := s.write(frame(body)); err != nil {
		r.readErr(ctx, err)
		return answer{}, false
	}
	return s.readAnswer(ctx, r, wire.ID(body))
}

// readAnswer reads one answer and checks that it decrypts, is a valid
// envelope and carries wantID.
func (s *session) readAnswer(ctx context.Context, r *caseResult, wantID string) (answer, bool) {
	b, err := s.readFrame()
	if err != nil {
		r.readErr(ctx, err)
		return answer{}, false
	}
	plain, err := s.ch.Open(nil, b)
	if err != nil {
		// The daemon's plain error before it closes (frame too large).
		a, perr := parseAnswer(b)
		if perr != nil || a.id != "" || a.code >= 0 {
			r.bad("answer neither decrypts nor is a plain error (%d bytes)", len(b))
			return answer{}, false
		}
		a.plain = true
		r.errAnswers++
		return a, true
	}
	a, err := parseAnswer(plain)
	if err != nil {
		r.bad("%v", err)
		return a, false
	}
	if a.id != wantID {
		r.bad("answer id %q, want %q", truncateText(a.id, 16), truncateText(wantID, 16))
	}
	if a.code == int64(wire.CodeBusy) {
		// The in-flight budget is exhausted (by other cases): a valid answer,
		// but the case cannot go on as planned.
		r.busy = true
		r.errAnswers++
		return a, false
	}
	if a.code < 0 {
		r.errAnswers++
	} else {
		r.okAnswers++
	}
	if a.code == int64(wire.CodeInternal) {
		r.bad("internal error for a hostile request: %s", truncateText(a.desc, 80))
	}
	return a, true
}

// wantCode records an unexpected code.
func (r *caseResult) wantCode(a answer, want wire.Code) {
	if a.code != int64(want) {
		r.bad("code %d, want %d (%s)", a.code, want, truncateText(a.desc, 80))
	}
}

// ping checks that the session still answers correctly.
func (s *session) ping(ctx context.Context, r *caseResult) bool {
	a, ok := s.roundTrip(ctx, r, s.seal(envelope(pingEndpoint, "{}")))
	if ok {
		r.wantCode(a, wire.CodeUnknownModule)
	}
	return ok
}

// afterDecryptError checks what follows a decrypt error: the end of a counter
// session, or a fixed session that goes on.
func (s *session) afterDecryptError(ctx context.Context, r *caseResult) {
	if s.mode == handshake.Counter {
		s.expectClosed(r)
		return
	}
	s.ping(ctx, r)
}

func runBitflip(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	s, ok := openSession(ctx, e, rng, &r)
	if !ok {
		return r
	}
	defer s.close()
	sealed := s.seal(envelope(pingEndpoint, `{"n":1}`))
	for k := 1 + rng.IntN(3); k > 0; k-- {
		i := rng.IntN(len(sealed) * 8)
		sealed[i/8] ^= 1 << (i % 8)
	}
	a, ok := s.roundTrip(ctx, &r, sealed)
	if !ok {
		return r
	}
	r.wantCode(a, wire.CodeDecrypt)
	s.afterDecryptError(ctx, &r)
	return r
}

func runReplay(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	s, ok := openSession(ctx, e, rng, &r)
	if !ok {
		return r
	}
	defer s.close()
	sealed := s.seal(envelope(pingEndpoint, `{"replay":true}`))
	a, ok := s.roundTrip(ctx, &r, sealed)
	if !ok {
		return r
	}
	r.wantCode(a, wire.CodeUnknownModule)
	a, ok = s.roundTrip(ctx, &r, sealed)
	if !ok {
		return r
	}
	if s.mode == handshake.Fixed {
		// The original protocol cannot tell a replay: it is answered again.
		r.wantCode(a, wire.CodeUnknownModule)
		return r
	}
	r.wantCode(a, wire.CodeDecrypt)
	s.expectClosed(&r)
	return r
}

// runRequests sends 1 to 4 requests picked from list, each answered, then a ping.
func runRequests(ctx context.Context, e *env, rng *rand.Rand, list []named) (r caseResult) {
	s, ok := openSession(ctx, e, rng, &r)
	if !ok {
		return r
	}
	defer s.close()
	for k := 1 + rng.IntN(4); k > 0; k-- {
		m := list[rng.IntN(len(list))]
		a, ok := s.roundTrip(ctx, &r, s.seal(m.b))
		if !ok {
			return r
		}
		if a.plain {
			r.bad("%s: plain error %d inside a session", m.name, a.code)
			return r
		}
	}
	s.ping(ctx, &r)
	return r
}

func runBadJSON(ctx context.Context, e *env, rng *rand.Rand) caseResult {
	return runRequests(ctx, e, rng, e.lib().plainBad)
}

func runEndpoint(ctx context.Context, e *env, rng *rand.Rand) caseResult {
	eps := endpointTexts()
	list := make([]named, len(eps))
	for i, ep := range eps {
		list[i] = named{ep.name, envelope(string(ep.b), "{}")}
	}
	return runRequests(ctx, e, rng, list)
}

func runNFSPath(ctx context.Context, e *env, rng *rand.Rand) caseResult {
	return runRequests(ctx, e, rng, e.lib().pathReqs)
}

func runHugeB64(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	s, ok := openSession(ctx, e, rng, &r)
	if !ok {
		return r
	}
	defer s.close()
	list := e.lib().hugeB64
	m := list[rng.IntN(len(list))]
	if _, ok := s.roundTrip(ctx, &r, s.seal(m.b)); !ok {
		return r
	}
	s.ping(ctx, &r)
	return r
}

func runLenSession(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	s, ok := openSession(ctx, e, rng, &r)
	if !ok {
		return r
	}
	defer s.close()
	sealed := s.seal(envelope(pingEndpoint, `{"len":true}`))
	n := uint64(len(sealed))
	var out, body []byte
	r.sent++
	switch rng.IntN(7) {
	case 0:
		out, body = header(0), nil
	case 1:
		body = []byte{byte(rng.Uint32())}
		out = append(header(1), body...)
	case 2, 3:
		size := uint64(1 << 63)
		if rng.IntN(2) == 0 {
			size = ^uint64(0)
		}
		if err := s.write(header(size)); err != nil {
			r.readErr(ctx, err)
			return r
		}
		a, ok := s.readAnswer(ctx, &r, "")
		if ok && !a.plain {
			r.bad("an oversized length prefix got an encrypted answer")
		} else if ok {
			r.wantCode(a, wire.CodeFrameTooLarge)
			s.expectClosed(&r)
		}
		return r
	case 4: // one byte short: the last byte is left over
		body = sealed[:n-1]
		out = append(header(n-1), sealed...)
		if err := s.write(out); err != nil {
			r.readErr(ctx, err)
			return r
		}
		s.closeWrite()
		if a, ok := s.readAnswer(ctx, &r, wire.ID(body)); ok {
			r.wantCode(a, wire.CodeDecrypt)
			s.expectClosed(&r)
		}
		return r
	case 5: // one byte long, the extra byte sent
		body = append(append([]byte{}, sealed...), byte(rng.Uint32()))
		out = append(header(n+1), body...)
	case 6: // one byte long, then the end of the stream
		if err := s.write(append(header(n+1), sealed...)); err != nil {
			r.readErr(ctx, err)
			return r
		}
		s.closeWrite()
		s.expectClosed(&r)
		return r
	}
	if err := s.write(out); err != nil {
		r.readErr(ctx, err)
		return r
	}
	if a, ok := s.readAnswer(ctx, &r, wire.ID(body)); ok {
		r.wantCode(a, wire.CodeDecrypt)
		s.afterDecryptError(ctx, &r)
	}
	return r
}

func runTruncSession(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	s, ok := openSession(ctx, e, rng, &r)
	if !ok {
		return r
	}
	defer s.close()
	f := frame(s.seal(envelope(pingEndpoint, "{}")))
	cut := 1 + rng.IntN(framing.HeaderSize-1)
	if rng.IntN(2) == 0 {
		cut = framing.HeaderSize + rng.IntN(len(f)-framing.HeaderSize)
	}
	r.sent++
	if err := s.write(f[:cut]); err != nil {
		r.readErr(ctx, err)
		return r
	}
	s.closeWrite()
	s.expectClosed(&r)
	return r
}

func runClaimBig(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	s, ok := openSession(ctx, e, rng, &r)
	if !ok {
		return r
	}
	defer s.close()
	g := &gen{rng: rng, big: attackBig}
	r.sent++
	if err := s.write(append(header(e.cfg.ClaimSize), g.bytes(rng.IntN(64<<10))...)); err != nil {
		r.readErr(ctx, err)
		return r
	}
	hold := time.Duration(rng.Int64N(int64(min(2*time.Second, e.cfg.IOTimeout))))
	_ = s.nc.SetReadDeadline(time.Now().Add(hold))
	b, err := s.fr.ReadFrame()
	switch {
	case err == nil:
		// Only a plain "frame too large" may come before the body is complete.
		a, perr := parseAnswer(b)
		if perr != nil || a.id != "" || a.code != int64(wire.CodeFrameTooLarge) {
			r.bad("answer to an incomplete frame")
		} else {
			r.errAnswers++
		}
	case classify(err) == outTimeout:
		// Still waiting for the body: the stall held; we hang up.
	default:
		r.readErr(ctx, err)
	}
	return r
}

func runPipeline(ctx context.Context, e *env, rng *rand.Rand) (r caseResult) {
	s, ok := openSession(ctx, e, rng, &r)
	if !ok {
		return r
	}
	defer s.close()
	n := 10 + rng.IntN(40)
	var buf []byte
	ids := make([]string, n)
	for i := range n {
		sealed := s.seal(envelope(pingEndpoint, fmt.Sprintf(`{"i":%d}`, i)))
		ids[i] = wire.ID(sealed)
		buf = framing.AppendFrame(buf, sealed)
	}
	r.sent += n
	if err := s.write(buf); err != nil {
		r.readErr(ctx, err)
		return r
	}
	for i := range n {
		a, ok := s.readAnswer(ctx, &r, ids[i])
		if !ok {
			return r
		}
		r.wantCode(a, wire.CodeUnknownModule)
	}
	return r
}

// Probe checks that a fresh app is served correctly: it completes a handshake
// with the SDK, asks for an unknown module (the answer must be exactly
// CodeUnknownModule) and for nfs get-dir of "/" (data, or CodeUnknownModule on a
// daemon that serves no nfs). value is used when mint is nil.
func Probe(ctx context.Context, addr, value string, mint Minter) error {
	if mint != nil {
		v, err := mint(ctx)
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		value = v
	}
	c, err := client.Dial(ctx, value, client.WithDialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}))
	if err != nil {
		return fmt.Errorf("probe: handshake: %w", err)
	}
	defer c.Close()
	err = c.Call(ctx, pingEndpoint, map[string]string{}, nil)
	if !errors.Is(err, wire.ErrUnknownModule) {
		return fmt.Errorf("probe: %s answered %v, want error %d", pingEndpoint, err, wire.CodeUnknownModule)
	}
	var listing json.RawMessage
	err = c.Call(ctx, "safe-api/v1.0/nfs/get-dir", map[string]any{"timeout_ms": 0, "is_path_shared": false, "dir_path": "/"}, &listing)
	if err != nil && !errors.Is(err, wire.ErrUnknownModule) {
		return fmt.Errorf("probe: nfs/get-dir of /: %w", err)
	}
	return nil
}
