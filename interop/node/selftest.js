'use strict';
/*
 * Self-test for client.js against a fake launcher (no daemon needed).
 *
 *   node selftest.js
 *
 * The fake launcher below is written independently of client.js (frame
 * lengths via readBigUInt64LE, nonce arithmetic via BigInt) so that framing,
 * crypto and counter-nonce mistakes in the client show up as failures instead
 * of being mirrored. It uses the same library, libsodium-wrappers.
 */

const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const crypto = require('node:crypto');
const { execFile } = require('node:child_process');
const sodium = require('libsodium-wrappers');
const client = require('./client');

const B64 = () => sodium.base64_variants.ORIGINAL;
const b64 = (bytes) => sodium.to_base64(bytes, B64());
const unb64 = (text) => sodium.from_base64(text, B64());

// ---------------------------------------------------------------------------
// Independent reference helpers
// ---------------------------------------------------------------------------

const MOD192 = 1n << 192n;

function leToBig(bytes) {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

function bigToLe(v, length = 24) {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** N + k over 192-bit little-endian integers, modulo 2^192. */
function refNonce(base, k) {
  return bigToLe((leToBig(base) + BigInt(k)) % MOD192);
}

function frame(body) {
  const header = Buffer.alloc(8);
  header.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([header, body]);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------
// Fake launcher
// ---------------------------------------------------------------------------

/**
 * options:
 *   launcherString  expected launcher_string
 *   base            24-byte nonce base to hand out (random if absent)
 *   acceptCounter   echo nonce_mode counter when asked (default true)
 *   handshakeError  answer the handshake with this error object instead
 *   silent          never answer the handshake (timeout test)
 *   delivery        'bytewise' : every answer sent in 1..3-byte pieces, in order
 *                   'reversed' : wait for all 3 requests, answer in reverse
 *                                order, all frames coalesced in ONE write
 *   wrongNonce      encrypt answers with the base nonce even in counter mode
 *   watchEarly      on launcher/watch, push this many events for the new
 *                   watch BEFORE its answer (the daemon may do so)
 *   byeEvents       events pushed after the answer to launcher/bye, before
 *                   the connection is closed
 *
 * state.conns gets one control object per connection, to push frames from
 * a test: push(event, {seq}) (seq: the next one unless given), sendSealed(msg)
 * (any plaintext object, sealed with the launcher's next nonce), end() (close
 * in order, after what is queued), destroy(), forget(watchId).
 */
function startFakeLauncher(options) {
  const state = { problems: [], requests: [], handshakes: [], conns: [] };

  const server = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let session = null; // { key, base, counter, appCount, launcherCount }
    const queued = []; // answers waiting for 'reversed' delivery
    const dirs = new Map();
    const watches = new Set();
    let watchCount = 0;
    let pushSeq = 0;
    let byeDone = false;
    let post = null; // runs after the answer being made is sent

    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 8) {
        const length = buffered.readBigUInt64LE(0);
        if (length > 300n * 1024n * 1024n) {
          state.problems.push(`oversized frame ${length}`);
          socket.destroy();
          return;
        }
        if (BigInt(buffered.length) < 8n + length) break;
        const body = buffered.subarray(8, 8 + Number(length));
        buffered = buffered.subarray(8 + Number(length));
        try {
          if (session) onRequest(Buffer.from(body));
          else onHandshake(Buffer.from(body));
        } catch (e) {
          state.problems.push(e.message);
        }
      }
    });

    // Outgoing bytes; in 'bytewise' delivery one pump dribbles them out in
    // tiny pieces (keeping frame order) so the client must reassemble.
    let outbox = Buffer.alloc(0);
    let pumping = false;
    let endWhenDrained = false;
    function pump() {
      if (outbox.length === 0 || socket.destroyed) {
        pumping = false;
        if (endWhenDrained) socket.end();
        return;
      }
      const n = 1 + Math.floor(Math.random() * 3);
      socket.write(outbox.subarray(0, n));
      outbox = outbox.subarray(n);
      setTimeout(pump, 0);
    }

    function send(bytes) {
      if (options.delivery !== 'bytewise') {
        socket.write(bytes);
        return;
      }
      outbox = Buffer.concat([outbox, bytes]);
      if (!pumping) {
        pumping = true;
        pump();
      }
    }

    /** Closes the connection in order once every queued byte is written. */
    function endAfterOutbox() {
      if (pumping) endWhenDrained = true;
      else socket.end();
    }

    /** Seals a plaintext object with the launcher's next nonce, now. */
    function seal(msg) {
      const k = session.launcherCount++;
      const nonce = session.counter && !options.wrongNonce ? refNonce(session.base, 2 * k + 1) : session.base;
      const plain = sodium.from_string(JSON.stringify(msg));
      return frame(Buffer.from(sodium.crypto_secretbox_easy(plain, nonce, session.key)));
    }

    /** Sends a push frame; its seq is the next one unless given. */
    function push(ev, { seq } = {}) {
      pushSeq = seq === undefined ? pushSeq + 1 : seq;
      const event = { watch_id: '', kind: 'created', path: '', new_path: '', is_dir: false, ...ev, seq: pushSeq };
      send(seal({ event }));
    }

    state.conns.push({
      push,
      sendSealed: (msg) => send(seal(msg)),
      end: endAfterOutbox,
      destroy: () => socket.destroy(),
      forget: (id) => watches.delete(id),
    });

    function onHandshake(body) {
      const req = JSON.parse(body.toString('utf8'));
      state.handshakes.push(req);
      assert.equal(req.endpoint, 'safe-api/v1.0/handshake/authenticate-app');
      assert.equal(req.data.launcher_string, options.launcherString);
      const appNonce = unb64(req.data.asymm_nonce);
      const appPub = unb64(req.data.asymm_pub_key);
      assert.equal(appNonce.length, 24);
      assert.equal(appPub.length, 32);
      // Encoding must be the standard alphabet with padding.
      assert.equal(b64(appNonce), req.data.asymm_nonce);
      assert.equal(b64(appPub), req.data.asymm_pub_key);

      if (options.silent) return;
      if (options.handshakeError) {
        send(frame(Buffer.from(JSON.stringify({ id: '', error: options.handshakeError }))));
        return;
      }
      const askedCounter = req.data.nonce_mode === 'counter';
      const counter = askedCounter && options.acceptCounter !== false;
      const key = sodium.randombytes_buf(32);
      const base = options.base ? Uint8Array.from(options.base) : sodium.randombytes_buf(24);
      const kp = sodium.crypto_box_keypair();
      const plain = new Uint8Array(56);
      plain.set(base, 0); // nonce FIRST
      plain.set(key, 24); // then the key
      const data = {
        encrypted_symm_key: b64(sodium.crypto_box_easy(plain, appNonce, appPub, kp.privateKey)),
        launcher_public_key: b64(kp.publicKey),
      };
      if (counter) data.nonce_mode = 'counter';
      session = { key, base, counter, appCount: 0, launcherCount: 0 };
      send(frame(Buffer.from(JSON.stringify({ id: '', data }))));
    }

    function onRequest(body) {
      const k = session.appCount++;
      const nonce = session.counter ? refNonce(session.base, 2 * k) : session.base;
      const id = crypto.createHash('sha512').update(body).digest('base64');
      let req;
      try {
        req = JSON.parse(sodium.to_string(sodium.crypto_secretbox_open_easy(body, nonce, session.key)));
      } catch (e) {
        state.problems.push(`app message #${k} does not open with the expected nonce`);
        answer({ id, error: { code: -11, description: 'cannot decrypt' } });
        return;
      }
      state.requests.push(req);
      if (byeDone) state.problems.push(`request after bye: ${req.endpoint}`);
      answer(handle(id, req));
      if (post) {
        const after = post;
        post = null;
        after();
      }
      if (options.delivery === 'reversed' && state.requests.length === 3) {
        // All encrypted answers in reverse order of the requests, one write.
        socket.write(Buffer.concat(queued.reverse().map((make) => make())));
      }
    }

    /** Encrypts with the launcher's next nonce at send time (send order). */
    function answer(msg) {
      const make = () => seal(msg);
      if (options.delivery === 'reversed') queued.push(make);
      else send(make());
    }

    /** The v1.1 launcher module, as docs/protocol.md describes it. */
    function handleLauncher(id, request, d) {
      switch (request) {
        case 'version':
          return {
            id,
            data: { version: '0.0.1-fake', api_versions: ['v1.0', 'v1.1'], started: 1765000000, nonce_mode: session.counter ? 'counter' : 'fixed', gateway: '' },
          };
        case 'ping': {
          const payload = d.payload === undefined ? '' : d.payload;
          if (unb64(payload).length > 1024) return { id, error: { code: -104, description: 'payload over 1 KiB' } };
          return { id, data: { payload, time_ms: 1765000000123 } };
        }
        case 'bye':
          byeDone = true;
          post = () => {
            for (const ev of options.byeEvents || []) push(ev);
            endAfterOutbox();
          };
          return { id, error: { code: 0, description: '' } };
        case 'watch': {
          if (!session.counter) return { id, error: { code: -160, description: 'watch needs a session in counter nonce mode' } };
          const wid = `w${++watchCount}`;
          watches.add(wid);
          for (let i = 0; i < (options.watchEarly || 0); i++) push({ watch_id: wid, path: `early-${i}` });
          return { id, data: { watch_id: wid } };
        }
        case 'unwatch':
          if (!watches.delete(d.watch_id)) return { id, error: { code: -161, description: `no watch ${d.watch_id}` } };
          return { id, error: { code: 0, description: '' } };
        default:
          return { id, error: { code: -113, description: `unknown request ${request}` } };
      }
    }

    function handle(id, req) {
      const m11 = /^safe-api\/v1\.1\/launcher\/([^/]+)$/.exec(req.endpoint || '');
      if (m11) return handleLauncher(id, m11[1], req.data || {});
      const m = /^safe-api\/v1\.0\/([^/]+)\/([^/]+)$/.exec(req.endpoint || '');
      const route = m ? `${m[1]}/${m[2]}` : '';
      const d = req.data || {};
      if (route === 'nfs/create-dir') {
        assert.equal(d.is_path_shared, false);
        assert.equal(d.is_private, true);
        assert.equal(d.is_versioned, false);
        assert.deepEqual(Array.from(unb64(d.user_metadata)), [1, 2, 3]);
        if (dirs.has(d.dir_path)) return { id, error: { code: -1001, description: 'exists' } };
        dirs.set(d.dir_path, d);
        return { id, error: { code: 0, description: '' } };
      }
      if (route === 'nfs/get-dir') {
        assert.equal(d.timeout_ms, 0);
        assert.equal(d.is_path_shared, false);
        const dir = dirs.get(d.dir_path);
        if (!dir) return { id, error: { code: -1002, description: `no directory ${d.dir_path}` } };
        const now = Math.floor(Date.now() / 1000);
        return {
          id,
          data: {
            info: {
              name: d.dir_path,
              creation_time_sec: now,
              creation_time_nsec: 0,
              modification_time_sec: now,
              modification_time_nsec: 0,
              is_private: dir.is_private,
              is_versioned: dir.is_versioned,
              user_metadata: dir.user_metadata,
            },
            sub_directories: [],
            files: [],
          },
        };
      }
      return { id, error: { code: -3, description: `unknown module in ${req.endpoint}` } };
    }
  });

  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port, state }));
  });
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

const LAUNCHER_STRING = 'k3J:with:colons=';

function expectedLine(mode) {
  return JSON.stringify({
    ok: true,
    mode,
    handshake: 'ok',
    create_dir_code: 0,
    get_dir_name: `interop-${mode}`,
    unknown_module_code: -3,
  });
}

/** Starts a fake launcher, runs client.main against it, returns both sides. */
async function exchange(mode, fakeOptions, { host = '127.0.0.1', timeoutMs } = {}) {
  const fake = await startFakeLauncher({ launcherString: LAUNCHER_STRING, ...fakeOptions });
  try {
    const value = `tcp:${host}:${fake.port}:${LAUNCHER_STRING}`;
    const result = await client.main([value, mode], timeoutMs ? { timeoutMs } : {});
    return { result, state: fake.state };
  } finally {
    fake.server.close();
  }
}

function assertSuccess({ result, state }, mode) {
  assert.deepEqual(state.problems, []);
  assert.equal(JSON.stringify(result), expectedLine(mode));
  assert.deepEqual(
    state.requests.map((r) => r.endpoint),
    ['safe-api/v1.0/nfs/create-dir', 'safe-api/v1.0/nfs/get-dir', 'safe-api/v1.0/nosuch/thing'],
  );
  const hs = state.handshakes[0];
  if (mode === 'counter') assert.equal(hs.data.nonce_mode, 'counter');
  else assert.equal('nonce_mode' in hs.data, false);
}

test('addLE matches BigInt arithmetic, including carries and wrap-around', () => {
  const bases = [
    new Uint8Array(24),
    new Uint8Array(24).fill(0xff),
    Uint8Array.from([0xfe, ...new Array(22).fill(0xff), 0x12]),
    Uint8Array.from([0xff, 0xff, 0x00, ...new Array(21).fill(0x7f)]),
  ];
  for (let i = 0; i < 50; i++) bases.push(new Uint8Array(crypto.randomBytes(24)));
  const ks = [0, 1, 2, 3, 255, 256, 257, 65535, 65536, 2 ** 32 + 5, 2 ** 40, Number.MAX_SAFE_INTEGER];
  for (const base of bases) {
    const copy = Uint8Array.from(base);
    for (const k of ks) assert.deepEqual(client.addLE(base, k), refNonce(base, k), `base ${b64(base)} k ${k}`);
    assert.deepEqual(base, copy, 'addLE must not modify its input');
  }
});

test('NonceSchedule: app N+2k, launcher N+2k+1; fixed mode always N', () => {
  const base = Uint8Array.from([0xfd, ...new Array(23).fill(0xff)]);
  const counter = new client.NonceSchedule(base, true);
  for (let k = 0; k < 4; k++) {
    assert.deepEqual(counter.nextOutgoing(), refNonce(base, 2 * k));
    assert.deepEqual(counter.nextIncoming(), refNonce(base, 2 * k + 1));
  }
  const fixed = new client.NonceSchedule(base, false);
  for (let k = 0; k < 3; k++) {
    assert.deepEqual(fixed.nextOutgoing(), base);
    assert.deepEqual(fixed.nextIncoming(), base);
  }
});

test('frameHeader is a zero-padded 8-byte little-endian length', () => {
  assert.deepEqual(client.frameHeader(0x01020304), Buffer.from([4, 3, 2, 1, 0, 0, 0, 0]));
  assert.equal(client.frameHeader(300 * 1024 * 1024).readBigUInt64LE(0), 300n * 1024n * 1024n);
});

test('FrameReader reassembles split and coalesced frames', () => {
  const bodies = [Buffer.alloc(0), Buffer.from('a'), crypto.randomBytes(1000), Buffer.from('{"x":1}')];
  const wire = Buffer.concat(bodies.map(frame));
  for (const pieceSize of [1, 2, 3, 7, 8, 9, 64, wire.length]) {
    const reader = new client.FrameReader();
    const got = [];
    for (let i = 0; i < wire.length; i += pieceSize) got.push(...reader.push(wire.subarray(i, i + pieceSize)));
    assert.deepEqual(got, bodies, `piece size ${pieceSize}`);
  }
  const tooBig = Buffer.alloc(8);
  tooBig.writeBigUInt64LE(300n * 1024n * 1024n + 1n);
  assert.throws(() => new client.FrameReader().push(tooBig), /300 MiB/);
  tooBig.writeBigUInt64LE(1n << 32n);
  assert.throws(() => new client.FrameReader().push(tooBig), /300 MiB/);
});

test('parseLauncherValue splits on ":" and rejoins the launcher string', () => {
  assert.deepEqual(client.parseLauncherValue('tcp:localhost:8080:demo'), {
    host: 'localhost',
    port: 8080,
    launcherString: 'demo',
  });
  assert.deepEqual(client.parseLauncherValue('tcp:127.0.9.9:30000:a:b::c'), {
    host: '127.0.9.9',
    port: 30000,
    launcherString: 'a:b::c',
  });
  assert.throws(() => client.parseLauncherValue('udp:h:1:x'));
  assert.throws(() => client.parseLauncherValue('tcp:h:1'));
  assert.throws(() => client.parseLauncherValue('tcp:h:0:x'));
  assert.throws(() => client.parseLauncherValue('tcp::1:x'));
});

test('fixed mode, answers dribbled byte by byte', async () => {
  assertSuccess(await exchange('fixed', { delivery: 'bytewise' }), 'fixed');
});

test('counter mode, answers dribbled byte by byte, host given as a name', async () => {
  assertSuccess(await exchange('counter', { delivery: 'bytewise' }, { host: 'localhost' }), 'counter');
});

test('fixed mode, answers coalesced in one write and in reverse order', async () => {
  assertSuccess(await exchange('fixed', { delivery: 'reversed' }), 'fixed');
});

test('counter mode, answers coalesced in one write and in reverse order', async () => {
  assertSuccess(await exchange('counter', { delivery: 'reversed' }), 'counter');
});

test('counter mode, nonce base whose increments carry across 23 bytes', async () => {
  const base = [0xfe, ...new Array(22).fill(0xff), 0x12];
  assertSuccess(await exchange('counter', { base, delivery: 'bytewise' }), 'counter');
});

test('counter mode, nonce base that wraps modulo 2^192', async () => {
  const base = [0xfd, ...new Array(23).fill(0xff)];
  assertSuccess(await exchange('counter', { base, delivery: 'reversed' }), 'counter');
});

test('handshake sent as two writes: 8-byte header, then the JSON body', async () => {
  const fake = await startFakeLauncher({ launcherString: 'demo' });
  const writes = [];
  const original = net.Socket.prototype.write;
  net.Socket.prototype.write = function spy(chunk, ...rest) {
    if (this.remotePort === fake.port) writes.push(Buffer.from(chunk));
    return original.call(this, chunk, ...rest);
  };
  try {
    const result = await client.main([`tcp:127.0.0.1:${fake.port}:demo`, 'fixed']);
    assert.equal(result.ok, true, JSON.stringify(result));
  } finally {
    net.Socket.prototype.write = original;
    fake.server.close();
  }
  assert.equal(writes[0].length, 8);
  assert.equal(writes[0].readBigUInt64LE(0), BigInt(writes[1].length));
  assert.equal(JSON.parse(writes[1].toString()).endpoint, 'safe-api/v1.0/handshake/authenticate-app');
  assert.equal(writes.length, 5); // header, body, then one write per encrypted request
});

test('failure: handshake answer with an error key', async () => {
  const { result } = await exchange('fixed', { handshakeError: { code: -5, description: 'bad launcher string' } });
  assert.deepEqual(result, { ok: false, error: 'handshake refused: code -5: bad launcher string' });
});

test('failure: handshake error key even with code 0', async () => {
  const { result } = await exchange('counter', { handshakeError: { code: 0, description: '' } });
  assert.equal(result.ok, false);
  assert.match(result.error, /handshake refused/);
});

test('failure: counter mode asked but not echoed', async () => {
  const { result } = await exchange('counter', { acceptCounter: false });
  assert.equal(result.ok, false);
  assert.match(result.error, /nonce_mode/);
});

test('failure: launcher answers with the wrong nonce in counter mode', async () => {
  const { result } = await exchange('counter', { wrongNonce: true });
  assert.equal(result.ok, false);
  assert.match(result.error, /cannot decrypt launcher message #0/);
});

test('failure: overall timeout', async () => {
  const { result } = await exchange('fixed', { silent: true }, { timeoutMs: 300 });
  assert.deepEqual(result, { ok: false, error: 'timed out after 300 ms' });
});

test('failure: nothing listening', async () => {
  const fake = await startFakeLauncher({});
  const port = fake.port;
  await new Promise((r) => fake.server.close(r));
  const result = await client.main([`tcp:127.0.0.1:${port}:x`, 'fixed']);
  assert.equal(result.ok, false);
  assert.match(result.error, /ECONNREFUSED/);
});

test('failure: bad mode and bad arguments', async () => {
  assert.equal((await client.main(['tcp:127.0.0.1:1:x', 'other'])).ok, false);
  assert.equal((await client.main(['tcp:127.0.0.1:1:x'])).ok, false);
});

/** Runs client.js as a process; resolves with { code, stdout }. */
function runCli(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(__dirname, 'client.js'), ...args], (err, stdout) => {
      resolve({ code: err ? err.code : 0, stdout });
    });
  });
}

test('CLI: prints exactly one JSON line, exit 0 on success, 1 on failure', async () => {
  for (const mode of ['fixed', 'counter']) {
    const fake = await startFakeLauncher({ launcherString: LAUNCHER_STRING, delivery: 'bytewise' });
    try {
      const out = await runCli([`tcp:127.0.0.1:${fake.port}:${LAUNCHER_STRING}`, mode]);
      assert.deepEqual(fake.state.problems, []);
      assert.equal(out.stdout, `${expectedLine(mode)}\n`);
      assert.equal(out.code, 0);
    } finally {
      fake.server.close();
    }
  }
  const bad = await runCli(['nonsense', 'fixed']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout.split('\n').length, 2);
  assert.equal(JSON.parse(bad.stdout).ok, false);
});

// ---------------------------------------------------------------------------
// The v1.1 launcher module and push frames (the library API)
// ---------------------------------------------------------------------------

/** Connects a Session to a new fake launcher; done() closes the fake. */
async function open(mode, fakeOptions = {}) {
  const fake = await startFakeLauncher({ launcherString: LAUNCHER_STRING, ...fakeOptions });
  const s = await client.connect(`tcp:127.0.0.1:${fake.port}:${LAUNCHER_STRING}`, { mode });
  return {
    s,
    state: fake.state,
    conn: fake.state.conns[0],
    done: () => {
      s.destroy();
      fake.server.close();
    },
  };
}

/** Reads n events from a watch's iterator, leaving the loop afterwards. */
async function take(w, n) {
  const out = [];
  if (n === 0) return out;
  for await (const ev of w) {
    out.push(ev);
    if (out.length === n) break;
  }
  return out;
}

function ev(watchId, seq, kind, path, extra = {}) {
  return { watch_id: watchId, seq, kind, path, new_path: '', is_dir: false, ...extra };
}

for (const mode of ['fixed', 'counter']) {
  test(`v1.1 ${mode}: version, ping with and without payload, close sends bye and waits for the close`, async () => {
    const t = await open(mode, { delivery: 'bytewise' });
    try {
      const v = await t.s.version();
      assert.equal(v.nonce_mode, mode);
      assert.deepEqual(v.api_versions, ['v1.0', 'v1.1']);
      const p0 = await t.s.ping();
      assert.deepEqual(Array.from(p0.payload), []);
      assert.equal(p0.time_ms, 1765000000123);
      const p1 = await t.s.ping(Uint8Array.from([0, 1, 254, 255]));
      assert.deepEqual(Array.from(p1.payload), [0, 1, 254, 255]);
      await assert.rejects(t.s.ping(new Uint8Array(1025)), (e) => e instanceof client.LauncherError && e.code === -104);

      const closing = t.s.close();
      assert.equal(t.s.close(), closing, 'close() twice is the same promise');
      await assert.rejects(t.s.ping(), /session is closing/, 'nothing may follow bye');
      await closing;
      assert.equal(await t.s.done, null, 'an orderly end');
      await assert.rejects(t.s.version(), /session has ended/);

      assert.deepEqual(t.state.problems, []);
      const eps = t.state.requests.map((r) => r.endpoint.replace('safe-api/v1.1/launcher/', ''));
      assert.deepEqual(eps, ['version', 'ping', 'ping', 'ping', 'bye']);
      // Without a payload, and for version and bye, the request has no data.
      for (const i of [0, 1, 4]) assert.equal('data' in t.state.requests[i], false, eps[i]);
      assert.deepEqual(t.state.requests[2].data, { payload: 'AAH+/w==' });
    } finally {
      t.done();
    }
  });
}

test('watch: events through the async iterator, interleaved with answers, each frame with the next nonce', async () => {
  const t = await open('counter', { delivery: 'bytewise' });
  try {
    const w = await t.s.watch({ dirPath: 'docs', recursive: true });
    assert.equal(w.id, 'w1');
    assert.deepEqual(t.state.requests[0].data, { is_path_shared: false, dir_path: 'docs', recursive: true });
    t.conn.push({ watch_id: 'w1', kind: 'created', path: 'docs/a', is_dir: true });
    t.conn.push({ watch_id: 'w1', kind: 'renamed', path: 'docs/a', new_path: 'docs/b', is_dir: true });
    await t.s.ping(); // its answer comes after two push frames and before the third
    t.conn.push({ watch_id: 'w1', kind: 'deleted', path: 'docs/b' });
    assert.deepEqual(await take(w, 3), [
      ev('w1', 1, 'created', 'docs/a', { is_dir: true }),
      ev('w1', 2, 'renamed', 'docs/a', { new_path: 'docs/b', is_dir: true }),
      ev('w1', 3, 'deleted', 'docs/b'),
    ]);
    // Leaving the loop unwatched it (in the background, before the bye).
    assert.equal(await w.ended, null);
    await t.s.close();
    assert.deepEqual(
      t.state.requests.map((r) => r.endpoint.split('/').pop()),
      ['watch', 'ping', 'unwatch', 'bye'],
    );
    assert.deepEqual(t.state.requests[2].data, { watch_id: 'w1' });
    assert.deepEqual(t.state.problems, []);
  } finally {
    t.done();
  }
});

test('watch: callback delivery; overflow reaches every watch; unwatch ends a watch, later frames for it are stray', async () => {
  const t = await open('counter');
  try {
    const got = [];
    const cb = await t.s.watch({ dirPath: '' }, { onEvent: (e) => got.push(e) });
    const it = await t.s.watch({ dirPath: 'x', isPathShared: true });
    assert.deepEqual(t.state.requests[1].data, { is_path_shared: true, dir_path: 'x', recursive: false });
    await assert.rejects(cb.next(), /cannot be iterated/);
    t.conn.push({ watch_id: cb.id, path: 'a' });
    t.conn.push({ kind: 'overflow' });
    t.conn.push({ watch_id: it.id, path: 'x/b' });
    await t.s.unwatch(cb); // answered after the three frames
    assert.deepEqual(got, [ev('w1', 1, 'created', 'a'), ev('', 2, 'overflow', '')]);
    assert.equal(await cb.ended, null);
    t.conn.push({ watch_id: cb.id, path: 'late' }); // sent before the launcher saw the unwatch
    t.conn.push({ watch_id: it.id, path: 'x/c' });
    assert.deepEqual(await take(it, 3), [ev('', 2, 'overflow', ''), ev('w2', 3, 'created', 'x/b'), ev('w2', 5, 'created', 'x/c')]);
    assert.equal(got.length, 2);
    assert.equal(t.s.strayEvents, 1);
    await t.s.close();
    assert.deepEqual(t.state.problems, []);
  } finally {
    t.done();
  }
});

for (const delivery of ['bytewise', 'whole']) {
  test(`watch: events sent before the watch's own answer go to the new watch, in order (${delivery})`, async () => {
    const t = await open('counter', { watchEarly: 2, delivery });
    try {
      const got = [];
      const cb = await t.s.watch({}, { onEvent: (e) => got.push(e) });
      assert.deepEqual(got, [ev('w1', 1, 'created', 'early-0'), ev('w1', 2, 'created', 'early-1')]);
      const it = await t.s.watch({});
      t.conn.push({ watch_id: 'w2', path: 'later' });
      assert.deepEqual(await take(it, 3), [
        ev('w2', 3, 'created', 'early-0'),
        ev('w2', 4, 'created', 'early-1'),
        ev('w2', 5, 'created', 'later'),
      ]);
      assert.equal(got.length, 2);
      assert.equal(t.s.strayEvents, 0);
      await t.s.close();
    } finally {
      t.done();
    }
  });
}

test('close: push frames after the answer to bye are delivered, then the iterator finishes', async () => {
  const t = await open('counter', {
    delivery: 'bytewise',
    byeEvents: [
      { watch_id: 'w1', path: 'last-1' },
      { watch_id: 'w1', path: 'last-2' },
    ],
  });
  try {
    const w = await t.s.watch({});
    const all = (async () => {
      const out = [];
      for await (const e of w) out.push(e);
      return out;
    })();
    await t.s.close();
    assert.deepEqual(await all, [ev('w1', 1, 'created', 'last-1'), ev('w1', 2, 'created', 'last-2')]);
    assert.equal(await t.s.done, null);
  } finally {
    t.done();
  }
});

test('closing ends the watch, and the launcher closing the connection after it is an orderly end', async () => {
  const t = await open('counter');
  try {
    const w = await t.s.watch({});
    const pending = t.s.ping(); // never answered: the session ends first
    t.conn.push({ watch_id: 'w1', kind: 'closing' });
    t.conn.end();
    assert.deepEqual(await take(w, 1), [ev('w1', 1, 'closing', '')]);
    assert.equal(await w.ended, null);
    assert.deepEqual(await w.next(), { value: undefined, done: true });
    assert.equal(await t.s.done, null);
    await assert.rejects(pending, /session has ended/);
  } finally {
    t.done();
  }
});

test('the iterator throws once when the session fails, then finishes', async () => {
  const t = await open('counter');
  try {
    const w = await t.s.watch({});
    t.conn.push({ watch_id: 'w1', path: 'a' });
    t.conn.destroy();
    assert.deepEqual(await w.next(), { value: ev('w1', 1, 'created', 'a'), done: false });
    await assert.rejects(w.next(), /connection closed by the launcher/);
    assert.deepEqual(await w.next(), { value: undefined, done: true });
    assert.match((await w.ended).message, /connection closed by the launcher/);
  } finally {
    t.done();
  }
});

test('watch in a fixed-nonce session: LauncherError -160', async () => {
  const t = await open('fixed');
  try {
    await assert.rejects(t.s.watch({}), (e) => e instanceof client.LauncherError && e.code === client.CODES.NEEDS_COUNTER);
    await t.s.close();
  } finally {
    t.done();
  }
});

test('unwatch of a watch the launcher no longer holds: LauncherError -161, and the watch ends', async () => {
  const t = await open('counter');
  try {
    const w = await t.s.watch({});
    t.conn.forget('w1'); // as a SAFEDrive revoke does
    await assert.rejects(w.unwatch(), (e) => e instanceof client.LauncherError && e.code === -161);
    assert.equal(await w.ended, null);
    assert.deepEqual(await w.next(), { value: undefined, done: true });
    await t.s.close();
  } finally {
    t.done();
  }
});

test('an unread watch buffers at most maxBuffered events, then one local overflow', async () => {
  const t = await open('counter');
  try {
    const w = await t.s.watch({}, { maxBuffered: 3 });
    for (let i = 1; i <= 5; i++) t.conn.push({ watch_id: 'w1', path: `f${i}` });
    await t.s.ping(); // after the five push frames
    assert.deepEqual(await take(w, 2), [
      { watch_id: '', seq: 4, kind: 'overflow', path: '', new_path: '', is_dir: false, local: true },
      ev('w1', 5, 'created', 'f5'),
    ]);
    await t.s.close();
  } finally {
    t.done();
  }
});

test('a watch whose wait was aborted is unwatched when its answer comes', async () => {
  const t = await open('counter', { watchEarly: 1 });
  try {
    const ac = new AbortController();
    const p = t.s.watch({}, { signal: ac.signal });
    ac.abort(new Error('given up'));
    await assert.rejects(p, /given up/);
    await t.s.ping(); // sent before the watch's answer came; the unwatch goes out when it does
    await t.s.close();
    assert.deepEqual(
      t.state.requests.map((r) => r.endpoint.split('/').pop()),
      ['watch', 'ping', 'unwatch', 'bye'],
    );
    assert.equal(t.s.strayEvents, 0);
    assert.deepEqual(t.state.problems, []);
  } finally {
    t.done();
  }
});

/** Opens a counter session with one watch, sends bad, returns why the session ended. */
async function endsWith(bad, mode = 'counter') {
  const t = await open(mode);
  try {
    if (mode === 'counter') await t.s.watch({});
    bad(t.conn);
    const reason = await t.s.done;
    assert.ok(reason instanceof Error, 'the session ends with an error');
    return reason.message;
  } finally {
    t.done();
  }
}

test('failure: a push frame seq that skips one', async () => {
  const msg = await endsWith((c) => {
    c.push({ watch_id: 'w1' });
    c.push({ watch_id: 'w1' }, { seq: 3 });
  });
  assert.match(msg, /launcher message #2: push frame seq 3, expected 2/);
});

test('failure: a push frame in a fixed-nonce session', async () => {
  assert.match(await endsWith((c) => c.push({}), 'fixed'), /launcher message #0 is a push frame, but the session is in fixed-nonce mode/);
});

test('failure: a frame with neither id nor event', async () => {
  assert.match(await endsWith((c) => c.sendSealed({ data: {} })), /neither an id/);
});

test('failure: malformed events', async () => {
  assert.match(await endsWith((c) => c.sendSealed({ event: { seq: '1', kind: 'created' } })), /event\.seq is not a positive integer/);
  assert.match(await endsWith((c) => c.sendSealed({ event: { seq: 1 } })), /the event has no kind/);
  assert.match(await endsWith((c) => c.sendSealed({ event: { seq: 1, kind: 'created', is_dir: 'no' } })), /event\.is_dir is not a boolean/);
  assert.match(await endsWith((c) => c.sendSealed({ event: [] })), /"event" is not a JSON object/);
});

test('failure: an unassociated error ends the session with a LauncherError', async () => {
  const t = await open('counter');
  try {
    const w = await t.s.watch({});
    t.conn.push({ watch_id: 'w1', kind: 'closing' });
    t.conn.sendSealed({ id: '', error: { code: -134, description: 'the launcher is locked' } });
    const reason = await t.s.done;
    assert.ok(reason instanceof client.LauncherError);
    assert.equal(reason.code, -134);
    assert.equal(await w.ended, null, 'closing ended the watch before the error');
  } finally {
    t.done();
  }
});

async function runAll() {
  await sodium.ready;
  let failed = 0;
  for (const { name, fn } of tests) {
    try {
      await fn();
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}\n     ${e && e.stack ? e.stack.split('\n').join('\n     ') : e}`);
    }
    await sleep(0);
  }
  console.log(failed ? `${failed} of ${tests.length} tests failed` : `all ${tests.length} tests passed`);
  process.exitCode = failed ? 1 : 0;
}

runAll();
