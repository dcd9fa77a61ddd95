'use strict';
/*
 * Interop client for the launcher daemon, written the way the original
 * Node.js apps spoke to the original launcher (see
 * shared/spec/launcher-service-rfc.md and shared/spec/wire-notes.md).
 *
 *   node client.js tcp:<host>:<port>:<launcher_string> <fixed|counter>
 *
 * It performs the handshake, then pipelines three encrypted requests
 * (create-dir, get-dir on the same directory, a request to an unknown
 * module), matches the answers by id and prints exactly one JSON line:
 *   {"ok":true,...}  exit 0      or      {"ok":false,"error":"..."}  exit 1
 *
 * `main` (and the protocol helpers) are exported so selftest.js can drive
 * the same code against a fake launcher.
 */

const net = require('node:net');
const crypto = require('node:crypto');
const sodium = require('libsodium-wrappers');

const USAGE = 'usage: node client.js tcp:<host>:<port>:<launcher_string> <fixed|counter>';
const HANDSHAKE_ENDPOINT = 'safe-api/v1.0/handshake/authenticate-app';
const DEFAULT_TIMEOUT_MS = 10000;

// ---------------------------------------------------------------------------
// Base64 (standard alphabet, '=' padding) and ids
// ---------------------------------------------------------------------------

function toB64(bytes) {
  return sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
}

function fromB64(text, what) {
  if (typeof text !== 'string') throw new Error(`${what} is not a base64 string`);
  try {
    return sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
  } catch (e) {
    throw new Error(`${what} is not valid base64`);
  }
}

/** Answer id for a request: base64(SHA-512(frame body exactly as sent)). */
function requestId(body) {
  return crypto.createHash('sha512').update(body).digest('base64');
}

// ---------------------------------------------------------------------------
// Framing: {S}{P}, S = 8-byte little-endian length of P
// ---------------------------------------------------------------------------

const HEADER_BYTES = 8;
const MAX_FRAME_BYTES = 300 * 1024 * 1024; // the original launcher's cap

/** Header as the original Node app built it: writeUInt32LE into 8 zero bytes. */
function frameHeader(length) {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(length, 0);
  return header;
}

/**
 * Reassembles frames from 'data' chunks that may split or coalesce frames in
 * any way. push() returns the complete frame bodies now available (in order)
 * and throws on a length the original would not accept.
 */
class FrameReader {
  constructor() {
    this.buffered = Buffer.alloc(0);
  }

  push(chunk) {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const frames = [];
    while (this.buffered.length >= HEADER_BYTES) {
      const length = this.buffered.readUInt32LE(0);
      const high = this.buffered.readUInt32LE(4);
      if (high !== 0 || length > MAX_FRAME_BYTES) {
        throw new Error('incoming frame length exceeds 300 MiB');
      }
      if (this.buffered.length < HEADER_BYTES + length) break;
      // Copy the body out so it does not pin the (possibly large) receive buffer.
      frames.push(Buffer.from(this.buffered.subarray(HEADER_BYTES, HEADER_BYTES + length)));
      this.buffered = this.buffered.subarray(HEADER_BYTES + length);
    }
    return frames;
  }
}

// ---------------------------------------------------------------------------
// Nonces
// ---------------------------------------------------------------------------

/**
 * base + n, with base a 24-byte little-endian (192-bit) unsigned integer and
 * n a non-negative safe integer; the result wraps modulo 2^192. Returns a new
 * array, base is left untouched.
 */
function addLE(base, n) {
  const out = Uint8Array.from(base);
  let carry = n;
  for (let i = 0; i < out.length && carry > 0; i++) {
    const sum = out[i] + (carry % 256);
    out[i] = sum & 0xff;
    carry = Math.floor(carry / 256) + (sum >> 8);
  }
  return out;
}

/**
 * Which nonce each message uses. Fixed mode (the original protocol): the one
 * nonce for everything. Counter mode (wire-notes part B): the app's k-th
 * message uses N+2k, the launcher's k-th message N+2k+1.
 */
class NonceSchedule {
  constructor(base, counterMode) {
    this.base = Uint8Array.from(base);
    this.counterMode = counterMode;
    this.sent = 0;
    this.received = 0;
  }

  nextOutgoing() {
    if (!this.counterMode) return this.base;
    return addLE(this.base, 2 * this.sent++);
  }

  nextIncoming() {
    if (!this.counterMode) return this.base;
    return addLE(this.base, 2 * this.received++ + 1);
  }
}

// ---------------------------------------------------------------------------
// Connection: handshake, encrypted requests, answers matched by id
// ---------------------------------------------------------------------------

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

class LauncherConnection {
  constructor(host, port) {
    this.reader = new FrameReader();
    this.failure = null; // first fatal error; the connection is dead after it
    this.waiters = new Set(); // every outstanding deferred, rejected on failure
    this.connected = this.track(deferred());
    this.handshake = null; // state of the handshake in flight
    this.session = null; // { key, nonces } once the handshake succeeded
    this.pending = new Map(); // request id -> deferred answer

    this.socket = net.connect({ host, port });
    this.socket.on('connect', () => this.settle(this.connected, 'resolve'));
    this.socket.on('data', (chunk) => {
      try {
        for (const frame of this.reader.push(chunk)) {
          if (this.failure) return;
          this.onFrame(frame);
        }
      } catch (e) {
        this.fail(e);
      }
    });
    this.socket.on('error', (e) => this.fail(new Error(`socket error: ${e.message}`)));
    this.socket.on('close', () => this.fail(new Error('connection closed by the launcher')));
  }

  track(d) {
    this.waiters.add(d);
    return d;
  }

  settle(d, how, value) {
    this.waiters.delete(d);
    d[how](value);
  }

  /** Fatal error: reject everything still waiting; later failures are ignored. */
  fail(err) {
    if (this.failure) return;
    this.failure = err;
    for (const d of this.waiters) d.reject(err);
    this.waiters.clear();
    this.pending.clear();
  }

  close() {
    this.failure = this.failure || new Error('connection closed');
    this.socket.destroy();
  }

  /** Plain-JSON handshake; resolves once the session key and nonce are known. */
  authenticate(launcherString, counterMode) {
    if (this.failure) return Promise.reject(this.failure);
    const keyPair = sodium.crypto_box_keypair();
    const asymmNonce = sodium.randombytes_buf(sodium.crypto_box_NONCEBYTES);
    const data = {
      launcher_string: launcherString,
      asymm_nonce: toB64(asymmNonce),
      asymm_pub_key: toB64(keyPair.publicKey),
    };
    if (counterMode) data.nonce_mode = 'counter';
    const body = JSON.stringify({ endpoint: HANDSHAKE_ENDPOINT, data });

    this.handshake = { keyPair, asymmNonce, counterMode, done: this.track(deferred()) };
    // As the original Node app: header and body in two separate writes, the
    // body written as a JS string. (Its length is counted in bytes here; that
    // equals the character count for the ASCII bodies the original sent.)
    this.socket.write(frameHeader(Buffer.byteLength(body)));
    this.socket.write(body);
    return this.handshake.done.promise;
  }

  onFrame(frame) {
    if (this.session) {
      this.onAnswer(frame);
    } else if (this.handshake) {
      const hs = this.handshake;
      this.handshake = null;
      // Processed synchronously so a frame coalesced right behind the
      // handshake answer is already decrypted with the new session.
      this.session = openHandshakeAnswer(frame, hs);
      this.settle(hs.done, 'resolve');
    } else {
      throw new Error('unexpected frame from the launcher before the handshake');
    }
  }

  /** Encrypts and sends one request; resolves with the answer carrying its id. */
  request(endpoint, data) {
    if (this.failure) return Promise.reject(this.failure);
    const plain = sodium.from_string(JSON.stringify({ endpoint, data }));
    const nonce = this.session.nonces.nextOutgoing();
    const body = Buffer.from(sodium.crypto_secretbox_easy(plain, nonce, this.session.key));
    const id = requestId(body);
    if (this.pending.has(id)) {
      // Only possible with the fixed nonce and two identical requests.
      return Promise.reject(new Error(`${endpoint}: a request with the same id is still pending`));
    }
    const answer = this.track(deferred());
    this.pending.set(id, answer);
    this.socket.write(Buffer.concat([frameHeader(body.length), body]));
    return answer.promise;
  }

  onAnswer(frame) {
    const index = this.session.nonces.received;
    const nonce = this.session.nonces.nextIncoming();
    let plain;
    try {
      plain = sodium.crypto_secretbox_open_easy(frame, nonce, this.session.key);
    } catch (e) {
      throw new Error(`cannot decrypt launcher message #${index}`);
    }
    const msg = parseJson(sodium.to_string(plain), `launcher message #${index}`);
    if (typeof msg.id !== 'string') throw new Error(`launcher message #${index} has no string id`);
    const answer = this.pending.get(msg.id);
    if (answer) {
      this.pending.delete(msg.id);
      this.settle(answer, 'resolve', msg);
    } else if (msg.id === '' && msg.error) {
      throw new Error(`unassociated error from the launcher: ${describeError(msg.error)}`);
    } else {
      throw new Error(`launcher message #${index} answers an unknown id`);
    }
  }
}

/** Checks the handshake answer and opens the sealed nonce||key. */
function openHandshakeAnswer(frame, hs) {
  const answer = parseJson(frame.toString('utf8'), 'handshake answer');
  // Like the original app: ANY error key means the handshake failed.
  if ('error' in answer) throw new Error(`handshake refused: ${describeError(answer.error)}`);
  const data = answer.data;
  if (!isObject(data)) throw new Error('handshake answer has no data object');

  const launcherPub = fromB64(data.launcher_public_key, 'launcher_public_key');
  if (launcherPub.length !== sodium.crypto_box_PUBLICKEYBYTES) {
    throw new Error('launcher_public_key is not 32 bytes');
  }
  const sealed = fromB64(data.encrypted_symm_key, 'encrypted_symm_key');
  let opened;
  try {
    opened = sodium.crypto_box_open_easy(sealed, hs.asymmNonce, launcherPub, hs.keyPair.privateKey);
  } catch (e) {
    throw new Error('encrypted_symm_key does not open with our key pair');
  }
  const nonceBytes = sodium.crypto_secretbox_NONCEBYTES;
  if (opened.length !== nonceBytes + sodium.crypto_secretbox_KEYBYTES) {
    throw new Error(`encrypted_symm_key holds ${opened.length} bytes, expected 56`);
  }

  if (hs.counterMode && data.nonce_mode !== 'counter') {
    throw new Error('launcher did not accept nonce_mode "counter" (no echo in the handshake answer)');
  }
  if (!hs.counterMode && data.nonce_mode !== undefined) {
    throw new Error(`launcher answered nonce_mode ${JSON.stringify(data.nonce_mode)} that was not asked for`);
  }

  // Nonce FIRST, then the key.
  return {
    nonces: new NonceSchedule(opened.subarray(0, nonceBytes), hs.counterMode),
    key: opened.slice(nonceBytes),
  };
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(text, what) {
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON`);
  }
  if (!isObject(v)) throw new Error(`${what} is not a JSON object`);
  return v;
}

function describeError(error) {
  if (!isObject(error)) return JSON.stringify(error);
  return `code ${error.code}: ${error.description}`;
}

/** Splits tcp:<host>:<port>:<launcher_string> the way the original app did. */
function parseLauncherValue(value) {
  const parts = String(value).split(':');
  if (parts.length < 4 || parts[0] !== 'tcp') {
    throw new Error(`launcher value must be tcp:<host>:<port>:<launcher_string>, got ${JSON.stringify(value)}`);
  }
  const host = parts[1];
  const port = Number(parts[2]);
  if (host === '') throw new Error('launcher value has an empty host');
  if (!/^\d+$/.test(parts[2]) || port < 1 || port > 65535) {
    throw new Error(`launcher value has an invalid port ${JSON.stringify(parts[2])}`);
  }
  // The launcher string may itself contain ':'.
  return { host, port, launcherString: parts.slice(3).join(':') };
}

// ---------------------------------------------------------------------------
// The interop run
// ---------------------------------------------------------------------------

/** Expects the "success without data" answer {"error":{"code":0,...}}. */
function expectCodeZero(answer, what) {
  if (isObject(answer.error) && answer.error.code === 0) return 0;
  if ('error' in answer) throw new Error(`${what} failed: ${describeError(answer.error)}`);
  throw new Error(`${what}: expected error.code 0, got ${JSON.stringify(answer)}`);
}

function expectDirListing(answer, dirName) {
  if ('error' in answer) throw new Error(`get-dir failed: ${describeError(answer.error)}`);
  const data = answer.data;
  if (!isObject(data) || !isObject(data.info)) throw new Error('get-dir answer has no data.info');
  if (data.info.name !== dirName) {
    throw new Error(`get-dir info.name is ${JSON.stringify(data.info.name)}, expected ${JSON.stringify(dirName)}`);
  }
  if (data.info.user_metadata !== 'AQID') {
    throw new Error(`get-dir info.user_metadata is ${JSON.stringify(data.info.user_metadata)}, expected "AQID"`);
  }
  if (!Array.isArray(data.sub_directories)) throw new Error('get-dir data.sub_directories is not an array');
  if (!Array.isArray(data.files)) throw new Error('get-dir data.files is not an array');
  return data.info.name;
}

function expectNegativeCode(answer, what) {
  const code = isObject(answer.error) ? answer.error.code : undefined;
  if (Number.isInteger(code) && code < 0) return code;
  throw new Error(`${what}: expected a negative error code, got ${JSON.stringify(answer)}`);
}

/**
 * Runs the whole exchange; resolves with the success object, rejects with
 * the first error. The overall timeout covers connect, handshake and answers.
 */
async function run(launcherValue, mode, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  if (mode !== 'fixed' && mode !== 'counter') throw new Error(`mode must be fixed or counter, got ${JSON.stringify(mode)}`);
  const { host, port, launcherString } = parseLauncherValue(launcherValue);
  await sodium.ready;

  const conn = new LauncherConnection(host, port);
  const timer = setTimeout(() => conn.fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  try {
    await conn.connected.promise;
    await conn.authenticate(launcherString, mode === 'counter');

    const dirName = `interop-${mode}`;
    // All three are sent before any answer is read: the daemon runs one
    // connection's requests in order, so get-dir sees the created directory.
    const [created, listed, unknown] = await Promise.all([
      conn.request('safe-api/v1.0/nfs/create-dir', {
        is_path_shared: false,
        dir_path: dirName,
        is_private: true,
        is_versioned: false,
        user_metadata: toB64(Uint8Array.from([1, 2, 3])),
      }),
      conn.request('safe-api/v1.0/nfs/get-dir', {
        timeout_ms: 0,
        is_path_shared: false,
        dir_path: dirName,
      }),
      conn.request('safe-api/v1.0/nosuch/thing', {}),
    ]);

    return {
      ok: true,
      mode,
      handshake: 'ok',
      create_dir_code: expectCodeZero(created, 'create-dir'),
      get_dir_name: expectDirListing(listed, dirName),
      unknown_module_code: expectNegativeCode(unknown, 'unknown module request'),
    };
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}

/** Entry point: never throws, resolves with the object to print. */
async function main(argv, options = {}) {
  try {
    if (argv.length !== 2) throw new Error(USAGE);
    return await run(argv[0], argv[1], options);
  } catch (e) {
    return { ok: false, error: e && e.message ? e.message : String(e) };
  }
}

module.exports = {
  main,
  run,
  parseLauncherValue,
  frameHeader,
  FrameReader,
  addLE,
  NonceSchedule,
  requestId,
  MAX_FRAME_BYTES,
};

if (require.main === module) {
  main(process.argv.slice(2)).then((result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(result.ok ? 0 : 1));
  });
}
