'use strict';
/*
 * Interop client for the launcher daemon, written the way the original
 * Node.js apps spoke to the original launcher (see
 * shared/spec/launcher-service-rfc.md and shared/spec/wire-notes.md), plus
 * this project's v1.1 launcher module (docs/protocol.md, "launcher (v1.1)"
 * and "Push frames").
 *
 * As a program:
 *
 *   node client.js tcp:<host>:<port>:<launcher_string> <fixed|counter>
 *
 * performs the handshake, then pipelines three encrypted v1.0 requests
 * (create-dir, get-dir on the same directory, a request to an unknown
 * module), matches the answers by id and prints exactly one JSON line:
 *   {"ok":true,...}  exit 0      or      {"ok":false,"error":"..."}  exit 1
 *
 * As a library (driver.js and selftest.js use it), the same calls as the Go
 * SDK's:
 *
 *   const s = await connect(value, { mode: 'counter' });
 *   await s.version();                  // launcher/version
 *   await s.ping(bytes);                // launcher/ping (payload optional)
 *   const w = await s.watch({ dirPath: 'docs', recursive: true });
 *   for await (const ev of w) { ... }   // or s.watch(spec, { onEvent })
 *   await w.unwatch();                  // launcher/unwatch
 *   await s.close();                    // launcher/bye, then the socket closes
 *
 * `main`, `connect` and the protocol helpers are exported.
 */

const net = require('node:net');
const crypto = require('node:crypto');
const sodium = require('libsodium-wrappers');

const USAGE = 'usage: node client.js tcp:<host>:<port>:<launcher_string> <fixed|counter>';
const HANDSHAKE_ENDPOINT = 'safe-api/v1.0/handshake/authenticate-app';
const LAUNCHER_MODULE = 'safe-api/v1.1/launcher/';
const DEFAULT_TIMEOUT_MS = 10000;

/** Error codes the client acts on (docs/errors.md). */
const CODES = Object.freeze({
  NEEDS_COUNTER: -160, // watch in a fixed-nonce session
  UNKNOWN_WATCH: -161, // unwatch of a watch the session does not hold
});

/**
 * Push frames kept for watches whose answer has not arrived yet (the
 * launcher may send a watch's first events before the watch's own answer).
 */
const MAX_EARLY_EVENTS = 4096;
/** Events a watch without onEvent buffers for its iterator by default. */
const DEFAULT_MAX_BUFFERED = 4096;

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
// Errors, promises, cancellation
// ---------------------------------------------------------------------------

/** An error the launcher answered: a negative `code` and its `description`. */
class LauncherError extends Error {
  constructor(what, error) {
    super(`${what}: ${describeError(error)}`);
    this.name = 'LauncherError';
    this.code = isObject(error) ? error.code : undefined;
    this.description = isObject(error) ? error.description : undefined;
  }
}

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * promise, or a rejection with signal.reason once the AbortSignal aborts
 * (onAbort runs first). The original promise keeps a handler either way, so
 * a later rejection of it is never unhandled.
 */
function abortable(promise, signal, onAbort) {
  if (!signal) return promise;
  if (signal.aborted) {
    if (onAbort) onAbort();
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const abort = () => {
      if (onAbort) onAbort();
      reject(signal.reason);
    };
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', abort);
        reject(e);
      },
    );
  });
}

// ---------------------------------------------------------------------------
// Session: handshake, encrypted requests, answers matched by id, push frames
// ---------------------------------------------------------------------------

/**
 * One connection to the launcher. Every frame the launcher sends after the
 * handshake, answer or push, is opened with the launcher's next nonce, in
 * the order received. A frame whose plaintext has an "id" key is an answer
 * (matched to its request by id); one with an "event" key and no "id" key is
 * a push frame, routed to its watch by watch_id.
 *
 * The session ends once: in order (the answer to bye, or a "closing" event,
 * then the launcher closes the connection), or with an error (a socket
 * error, a frame that does not open or parse, an unexpected close, a
 * timeout or destroy()). `done` resolves then, with null or the Error; it
 * never rejects. Requests still waiting are rejected, watches end.
 */
class Session {
  constructor(host, port) {
    this.reader = new FrameReader();
    this.ended = false;
    this.endReason = null;
    this.waiters = new Set(); // every outstanding deferred, rejected when the session ends
    this.doneDeferred = deferred();
    /** Resolves once the session has ended: null when in order, else the Error. */
    this.done = this.doneDeferred.promise;
    this.connected = this.track(deferred());
    this.handshake = null; // state of the handshake in flight
    this.channel = null; // { key, nonces } once the handshake succeeded
    this.pending = new Map(); // request id -> { endpoint, d (null once abandoned), onAnswer }
    this.watches = new Map(); // watch_id -> Watch
    this.watchRequests = 0; // watch requests sent and not yet answered
    this.early = []; // push frames for watch ids not known yet (while watchRequests > 0)
    this.lastSeq = 0; // seq of the last push frame
    this.byeSent = false;
    this.orderlyEnd = false; // bye answered or "closing" heard: the launcher closes next
    this.closing = null; // the promise of close()
    /** Push frames that concerned no watch of this session (e.g. sent just before an unwatch's answer). */
    this.strayEvents = 0;

    this.socket = net.connect({ host, port });
    this.socket.on('connect', () => this.settle(this.connected, 'resolve'));
    this.socket.on('data', (chunk) => {
      try {
        for (const frame of this.reader.push(chunk)) {
          if (this.ended) return;
          this.onFrame(frame);
        }
      } catch (e) {
        this.end(e);
      }
    });
    this.socket.on('error', (e) => this.end(new Error(`socket error: ${e.message}`)));
    this.socket.on('close', () => this.end(this.orderlyEnd ? null : new Error('connection closed by the launcher')));
  }

  /** "counter" or "fixed" once the handshake is done. */
  get mode() {
    if (!this.channel) return undefined;
    return this.channel.nonces.counterMode ? 'counter' : 'fixed';
  }

  track(d) {
    this.waiters.add(d);
    return d;
  }

  settle(d, how, value) {
    this.waiters.delete(d);
    d[how](value);
  }

  /**
   * Ends the session (once): reason null is an orderly end, else the Error.
   * Rejects everything still waiting, ends every watch, closes the socket.
   */
  end(reason) {
    if (this.ended) return;
    this.ended = true;
    this.endReason = reason;
    const err = reason || new Error('the session has ended');
    for (const d of this.waiters) d.reject(err);
    this.waiters.clear();
    this.pending.clear();
    for (const w of this.watches.values()) w.end(reason);
    this.watches.clear();
    this.early = [];
    this.socket.destroy();
    this.doneDeferred.resolve(reason);
  }

  /** Ends the session at once, without bye (close() is the orderly way). */
  destroy(reason = new Error('the session was destroyed by the app')) {
    this.end(reason);
  }

  /** Plain-JSON handshake; resolves once the session key and nonce are known. */
  authenticate(launcherString, counterMode) {
    if (this.ended) return Promise.reject(this.endReason || new Error('the session has ended'));
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
    if (this.channel) {
      this.onSessionFrame(frame);
    } else if (this.handshake) {
      const hs = this.handshake;
      this.handshake = null;
      // Processed synchronously so a frame coalesced right behind the
      // handshake answer is already decrypted with the new session.
      this.channel = openHandshakeAnswer(frame, hs);
      this.settle(hs.done, 'resolve');
    } else {
      throw new Error('unexpected frame from the launcher before the handshake');
    }
  }

  /** Opens one frame with the launcher's next nonce, then routes it. */
  onSessionFrame(frame) {
    const index = this.channel.nonces.received;
    const nonce = this.channel.nonces.nextIncoming();
    let plain;
    try {
      plain = sodium.crypto_secretbox_open_easy(frame, nonce, this.channel.key);
    } catch (e) {
      throw new Error(`cannot decrypt launcher message #${index}`);
    }
    const what = `launcher message #${index}`;
    const msg = parseJson(sodium.to_string(plain), what);
    if (Object.hasOwn(msg, 'id')) this.onAnswer(msg, what);
    else if (Object.hasOwn(msg, 'event')) this.onPush(msg.event, what);
    else throw new Error(`${what} has neither an id (an answer) nor an event (a push frame)`);
  }

  onAnswer(msg, what) {
    if (typeof msg.id !== 'string') throw new Error(`${what} has no string id`);
    const entry = this.pending.get(msg.id);
    if (entry) {
      this.pending.delete(msg.id);
      let how = 'resolve';
      let value = msg;
      if (entry.onAnswer) {
        // Run synchronously, before the next frame (a watch must be known
        // before the push frame right behind its answer is routed).
        try {
          value = entry.onAnswer(msg, entry.d === null);
        } catch (e) {
          how = 'reject';
          value = e;
        }
      }
      if (entry.d) this.settle(entry.d, how, value);
    } else if (msg.id === '' && msg.error) {
      throw new LauncherError('unassociated error from the launcher', msg.error);
    } else {
      throw new Error(`${what} answers an unknown id`);
    }
  }

  onPush(raw, what) {
    if (!this.channel.nonces.counterMode) {
      throw new Error(`${what} is a push frame, but the session is in fixed-nonce mode`);
    }
    const ev = checkEvent(raw, what);
    if (ev.seq !== this.lastSeq + 1) throw new Error(`${what}: push frame seq ${ev.seq}, expected ${this.lastSeq + 1}`);
    this.lastSeq = ev.seq;
    if (ev.kind === 'closing') this.orderlyEnd = true;
    if (ev.watch_id === '') {
      // overflow: it concerns every watch, those not answered yet included.
      for (const w of this.watches.values()) w.push(ev);
      if (this.watchRequests > 0) this.keepEarly(ev, what);
      else if (this.watches.size === 0) this.strayEvents++;
      return;
    }
    const w = this.watches.get(ev.watch_id);
    if (w) {
      w.push(ev);
      if (ev.kind === 'closing') this.endWatch(w.id, null);
    } else if (this.watchRequests > 0) {
      this.keepEarly(ev, what);
    } else {
      this.strayEvents++;
    }
  }

  keepEarly(ev, what) {
    if (this.early.length >= MAX_EARLY_EVENTS) {
      throw new Error(`${what}: more than ${MAX_EARLY_EVENTS} push frames for watches not answered yet`);
    }
    this.early.push(ev);
  }

  /** Ends a watch locally (no request). */
  endWatch(id, reason) {
    const w = this.watches.get(id);
    if (!w) return;
    this.watches.delete(id);
    w.end(reason);
  }

  /** Why a request cannot be sent now, or null. */
  refusal(endpoint) {
    if (this.ended) return this.endReason || new Error('the session has ended');
    if (!this.channel) return new Error(`${endpoint}: the handshake is not done`);
    if (this.byeSent) return new Error(`${endpoint}: the session is closing (bye was sent)`);
    return null;
  }

  /**
   * Encrypts and sends one request (data omitted when undefined); resolves
   * with the answer carrying its id, or with what opts.onAnswer(answer,
   * abandoned) returns (it runs synchronously when the answer is read, even
   * after opts.signal aborted the wait). opts.onSent runs once it is written.
   */
  request(endpoint, data, opts = {}) {
    const refused = this.refusal(endpoint);
    if (refused) return Promise.reject(refused);
    const plain = sodium.from_string(JSON.stringify({ endpoint, data }));
    const nonce = this.channel.nonces.nextOutgoing();
    const body = Buffer.from(sodium.crypto_secretbox_easy(plain, nonce, this.channel.key));
    const id = requestId(body);
    if (this.pending.has(id)) {
      // Only possible with the fixed nonce and two identical requests.
      return Promise.reject(new Error(`${endpoint}: a request with the same id is still pending`));
    }
    const d = this.track(deferred());
    const entry = { endpoint, d, onAnswer: opts.onAnswer };
    this.pending.set(id, entry);
    this.socket.write(Buffer.concat([frameHeader(body.length), body]));
    if (opts.onSent) opts.onSent();
    return abortable(d.promise, opts.signal, () => {
      // The answer will still come (and be consumed); nobody waits for it.
      this.waiters.delete(d);
      entry.d = null;
    });
  }

  /**
   * request() that returns the answer's data: null for the "success without
   * data" answer (code 0); a LauncherError for an error answer.
   */
  async call(endpoint, data, opts = {}) {
    return answerData(await this.request(endpoint, data, opts), endpoint);
  }

  /** launcher/version: {version, api_versions, started, nonce_mode, gateway}. */
  async version(opts = {}) {
    const data = await this.call(`${LAUNCHER_MODULE}version`, undefined, opts);
    if (!isObject(data)) throw new Error('launcher/version: the answer has no data object');
    return data;
  }

  /**
   * launcher/ping, with payload (Uint8Array or string, at most 1 KiB) or
   * without (undefined: the request has no data). Resolves with
   * {payload: Uint8Array, time_ms}: the payload echoed and the launcher's
   * unix time in ms.
   */
  async ping(payload, opts = {}) {
    let data;
    if (payload !== undefined) {
      const bytes = typeof payload === 'string' ? sodium.from_string(payload) : payload;
      if (!(bytes instanceof Uint8Array)) throw new TypeError('ping payload must be a Uint8Array or a string');
      data = { payload: toB64(bytes) };
    }
    const out = await this.call(`${LAUNCHER_MODULE}ping`, data, opts);
    if (!isObject(out)) throw new Error('launcher/ping: the answer has no data object');
    if (!Number.isSafeInteger(out.time_ms)) throw new Error('launcher/ping: time_ms is not an integer');
    return { payload: fromB64(out.payload, 'launcher/ping payload'), time_ms: out.time_ms };
  }

  /**
   * launcher/watch (counter-nonce sessions only; a fixed-mode session gets a
   * LauncherError with code -160). spec: {dirPath, isPathShared, recursive}.
   * Resolves with a Watch: its events go to options.onEvent(event) if given
   * (called synchronously as each push frame is read), otherwise to the
   * Watch's async iterator, which buffers at most options.maxBuffered.
   */
  watch(spec = {}, options = {}) {
    const { dirPath = '', isPathShared = false, recursive = false } = spec;
    const { onEvent, maxBuffered = DEFAULT_MAX_BUFFERED, signal } = options;
    if (onEvent !== undefined && typeof onEvent !== 'function') {
      return Promise.reject(new TypeError('onEvent must be a function'));
    }
    if (!Number.isSafeInteger(maxBuffered) || maxBuffered < 1) {
      return Promise.reject(new TypeError('maxBuffered must be a positive integer'));
    }
    const data = { is_path_shared: isPathShared, dir_path: dirPath, recursive };
    return this.request(`${LAUNCHER_MODULE}watch`, data, {
      signal,
      onSent: () => {
        this.watchRequests++;
      },
      onAnswer: (msg, abandoned) => {
        this.watchRequests--;
        try {
          const out = answerData(msg, 'launcher/watch');
          if (!isObject(out) || typeof out.watch_id !== 'string' || out.watch_id === '') {
            throw new Error('launcher/watch: the answer has no watch_id');
          }
          const id = out.watch_id;
          if (this.watches.has(id)) throw new Error(`launcher/watch: watch_id ${JSON.stringify(id)} is already in use`);
          if (abandoned) {
            // Nobody will read this watch: end it on the launcher too.
            this.early = this.early.filter((ev) => ev.watch_id !== id);
            this.unwatch(id).catch(() => {});
            return null;
          }
          return this.registerWatch(id, { dirPath, isPathShared, recursive }, { onEvent, maxBuffered });
        } finally {
          if (this.watchRequests === 0) this.early = [];
        }
      },
    });
  }

  /** Makes the Watch of an answered watch request and hands it its early events. */
  registerWatch(id, spec, options) {
    const w = new Watch(this, id, spec, options);
    this.watches.set(id, w);
    const kept = [];
    for (const ev of this.early) {
      if (ev.watch_id === id || ev.watch_id === '') {
        w.push(ev);
        if (ev.kind === 'closing') this.endWatch(id, null);
      }
      if (ev.watch_id !== id) kept.push(ev); // overflow is also for the other watches not answered yet
    }
    this.early = kept;
    return w;
  }

  /**
   * launcher/unwatch (a Watch or its id). The watch ends once answered; an
   * unknown watch (-161, e.g. one a SAFEDrive revoke ended) ends it locally
   * too, and rejects with that LauncherError.
   */
  unwatch(watchOrId, opts = {}) {
    const id = typeof watchOrId === 'string' ? watchOrId : watchOrId && watchOrId.id;
    if (typeof id !== 'string') return Promise.reject(new TypeError('unwatch needs a Watch or a watch id'));
    return this.request(`${LAUNCHER_MODULE}unwatch`, { watch_id: id }, {
      signal: opts.signal,
      onAnswer: (msg) => {
        const code = isObject(msg.error) ? msg.error.code : undefined;
        if (code === 0 || code === CODES.UNKNOWN_WATCH) this.endWatch(id, null);
        answerData(msg, 'launcher/unwatch');
        return undefined;
      },
    });
  }

  /**
   * Orderly goodbye: sends launcher/bye (no request may follow it), waits
   * for its answer and the push frames due before it, then for the launcher
   * to close the connection. Resolves once the socket is closed; rejects
   * (and destroys the session) if the session ended otherwise. opts.signal
   * aborts the wait (destroying the session). Calling it again returns the
   * same promise.
   */
  close(opts = {}) {
    if (!this.closing) this.closing = this.closeInOrder(opts.signal);
    return this.closing;
  }

  async closeInOrder(signal) {
    if (this.ended) {
      if (this.endReason) throw this.endReason;
      return;
    }
    try {
      await this.request(`${LAUNCHER_MODULE}bye`, undefined, {
        signal,
        onSent: () => {
          this.byeSent = true;
        },
        onAnswer: (msg) => {
          answerData(msg, 'launcher/bye');
          this.orderlyEnd = true;
          return null;
        },
      });
    } catch (e) {
      this.destroy(e);
      throw e;
    }
    const reason = await abortable(this.done, signal, () => this.destroy(signal.reason));
    if (reason) throw reason;
  }
}

/**
 * A watch: launcher/watch's answer. Its events are the push frames' "event"
 * objects ({watch_id, seq, kind, path, new_path, is_dir}), plus "overflow"
 * (watch_id "") which concerns every watch.
 *
 * Without onEvent it is an async iterator (one consumer): it yields the
 * events in order and finishes once the watch ends: unwatched, "closing",
 * or the session ended in order; it throws the Error when the session
 * ended with one. Leaving a for-await loop early (break) unwatches. When
 * more than maxBuffered events wait unread, they are dropped for one
 * {kind: "overflow", watch_id: "", local: true} event (as the launcher
 * does for a slow reader): re-read what is watched.
 *
 * `ended` resolves when the watch ends, with null or the session's Error.
 * An "access-changed" event does not end a watch here: the launcher sends
 * it on a grant as well as on a revoke, and a revoke ends SAFEDrive watches
 * without saying which; unwatch answers -161 for such a watch.
 */
class Watch {
  constructor(session, id, spec, { onEvent, maxBuffered }) {
    this.session = session;
    this.id = id;
    this.dirPath = spec.dirPath;
    this.isPathShared = spec.isPathShared;
    this.recursive = spec.recursive;
    this.onEvent = onEvent || null;
    this.maxBuffered = maxBuffered;
    this.buffer = [];
    this.finished = false;
    this.reason = null;
    this.reasonThrown = false;
    this.waiter = null; // the deferred of a next() waiting for an event
    this.endedDeferred = deferred();
    this.ended = this.endedDeferred.promise;
  }

  push(ev) {
    if (this.finished) return;
    if (this.onEvent) {
      try {
        this.onEvent(ev);
      } catch (e) {
        // A listener's bug is the app's, not the protocol's: report it as
        // uncaught, like an EventEmitter listener's, but keep reading.
        queueMicrotask(() => {
          throw e;
        });
      }
      return;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: ev, done: false });
      return;
    }
    if (this.buffer.length >= this.maxBuffered) {
      this.buffer = [
        Object.freeze({ watch_id: '', seq: ev.seq, kind: 'overflow', path: '', new_path: '', is_dir: false, local: true }),
      ];
      return;
    }
    this.buffer.push(ev);
  }

  end(reason) {
    if (this.finished) return;
    this.finished = true;
    this.reason = reason;
    this.endedDeferred.resolve(reason);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      this.settleEnd(w);
    }
  }

  settleEnd(d) {
    if (this.reason && !this.reasonThrown) {
      this.reasonThrown = true;
      d.reject(this.reason);
    } else {
      d.resolve({ value: undefined, done: true });
    }
  }

  next() {
    if (this.onEvent) {
      return Promise.reject(new TypeError('this watch delivers its events to onEvent: it cannot be iterated'));
    }
    if (this.buffer.length) return Promise.resolve({ value: this.buffer.shift(), done: false });
    if (this.waiter) return Promise.reject(new Error('watch: next() called before the previous call settled'));
    const d = deferred();
    if (this.finished) this.settleEnd(d);
    else this.waiter = d;
    return d.promise;
  }

  /** Ends the iteration (a for-await loop left early): unwatches in the background. */
  return() {
    const live = !this.finished;
    this.buffer = [];
    this.reasonThrown = true;
    this.session.endWatch(this.id, null);
    this.end(null);
    if (live && !this.session.refusal('unwatch')) this.session.unwatch(this.id).catch(() => {});
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** launcher/unwatch for this watch. */
  unwatch(opts) {
    return this.session.unwatch(this.id, opts);
  }
}

/** Checks a push frame's "event" object; absent fields are ""/false, as in the Go SDK. */
function checkEvent(raw, what) {
  if (!isObject(raw)) throw new Error(`${what}: "event" is not a JSON object`);
  const field = (key, type, absent) => {
    if (!Object.hasOwn(raw, key)) return absent;
    if (typeof raw[key] !== type) throw new Error(`${what}: event.${key} is not a ${type}`);
    return raw[key];
  };
  if (!Number.isSafeInteger(raw.seq) || raw.seq < 1) throw new Error(`${what}: event.seq is not a positive integer`);
  const kind = field('kind', 'string', '');
  if (kind === '') throw new Error(`${what}: the event has no kind`);
  return Object.freeze({
    watch_id: field('watch_id', 'string', ''),
    seq: raw.seq,
    kind,
    path: field('path', 'string', ''),
    new_path: field('new_path', 'string', ''),
    is_dir: field('is_dir', 'boolean', false),
  });
}

/** An answer's data: null for code 0, a LauncherError for an error. */
function answerData(answer, what) {
  if (Object.hasOwn(answer, 'error')) {
    if (isObject(answer.error) && answer.error.code === 0) return null;
    if (isObject(answer.error) && Number.isInteger(answer.error.code)) throw new LauncherError(what, answer.error);
    throw new Error(`${what}: malformed error ${JSON.stringify(answer.error)}`);
  }
  if (!Object.hasOwn(answer, 'data')) throw new Error(`${what}: the answer has neither data nor error`);
  return answer.data;
}

/**
 * Connects and authenticates: resolves with a Session. options.mode is
 * "counter" (the default; needed for watch) or "fixed"; options.signal
 * aborts (destroying the session).
 */
async function connect(launcherValue, options = {}) {
  const { mode = 'counter', signal } = options;
  if (mode !== 'fixed' && mode !== 'counter') throw new Error(`mode must be fixed or counter, got ${JSON.stringify(mode)}`);
  const { host, port, launcherString } = parseLauncherValue(launcherValue);
  await sodium.ready;
  const s = new Session(host, port);
  const setup = (async () => {
    await s.connected.promise;
    await s.authenticate(launcherString, mode === 'counter');
  })();
  try {
    await abortable(setup, signal, () => s.destroy(signal.reason));
  } catch (e) {
    s.destroy(e);
    throw e;
  }
  return s;
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
// The interop run (the program): v1.0 requests, as the original apps sent
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

  const conn = new Session(host, port);
  const timer = setTimeout(() => conn.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
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
    conn.destroy();
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
  connect,
  Session,
  Watch,
  LauncherError,
  CODES,
  checkEvent,
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
