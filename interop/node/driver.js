'use strict';
/*
 * A session of client.js driven line by line, for tests written in another
 * language (interop/interop_test.go drives it while the Go SDK changes the
 * tree):
 *
 *   node driver.js tcp:<host>:<port>:<launcher_string> <fixed|counter>
 *
 * It connects and prints {"ready":true,"mode":"counter"} (or
 * {"ready":false,"error":"..."} and exits 1). Then it reads one JSON command
 * per stdin line, runs them one at a time in order, and prints one JSON line
 * per command once it has its result:
 *
 *   {"op":"version"}                       -> {"op":"version","ok":true,"data":{...}}
 *   {"op":"ping"}                          -> {"op":"ping","ok":true,"payload":"","time_ms":N}
 *   {"op":"ping","payload":"<base64>"}     -> {"op":"ping","ok":true,"payload":"<base64>","time_ms":N}
 *   {"op":"watch","dir_path":"docs","recursive":false,"is_path_shared":false,"via":"callback"|"iterator"}
 *                                          -> {"op":"watch","ok":true,"watch_id":"w1","via":"callback"}
 *   {"op":"unwatch","watch_id":"w1"}       -> {"op":"unwatch","ok":true}
 *   {"op":"call","endpoint":"...","data":{...}} -> {"op":"call","ok":true,"data":...}
 *   {"op":"close"}                         -> {"op":"close","ok":true}   (bye answered, socket closed)
 *
 * A failed command prints {"op":...,"ok":false,"code":N|null,"error":"..."}
 * (code: the launcher's error code, null for other failures).
 *
 * Lines printed as they happen, between the results:
 *
 *   {"via":"callback"|"iterator","event":{"watch_id":...,"seq":...,...}}   a push event
 *   {"watch_end":"w1","error":null|"..."}   a watch ended (unwatched, closing, session end)
 *   {"session_end":true,"code":N|null,"error":null|"..."}   the session ended
 *
 * A watch "via":"callback" gets its events through onEvent, one "via":
 * "iterator" through a for-await loop over the Watch. At the end of stdin the
 * driver waits for the commands still running, destroys the session if it
 * is still open, and exits 0.
 */

const readline = require('node:readline');
const sodium = require('libsodium-wrappers');
const client = require('./client');

function print(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function b64(bytes) {
  return sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
}

function unb64(text) {
  return sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
}

function failure(op, e) {
  return {
    op,
    ok: false,
    code: e instanceof client.LauncherError ? e.code : null,
    error: e && e.message ? e.message : String(e),
  };
}

async function main(argv) {
  if (argv.length !== 2) {
    print({ ready: false, error: 'usage: node driver.js tcp:<host>:<port>:<launcher_string> <fixed|counter>' });
    return 1;
  }
  let session;
  try {
    session = await client.connect(argv[0], { mode: argv[1] });
  } catch (e) {
    print({ ready: false, error: e && e.message ? e.message : String(e) });
    return 1;
  }
  const sessionEnd = session.done.then((reason) => {
    print({
      session_end: true,
      code: reason instanceof client.LauncherError ? reason.code : null,
      error: reason ? reason.message : null,
    });
  });
  print({ ready: true, mode: session.mode });

  const loops = []; // iterator loops, finished before exiting

  function watchEnded(id, reason) {
    print({ watch_end: id, error: reason ? reason.message : null });
  }

  async function iterate(w) {
    try {
      for await (const event of w) print({ via: 'iterator', event });
      watchEnded(w.id, null);
    } catch (e) {
      watchEnded(w.id, e);
    }
  }

  const commands = {
    async version() {
      return { data: await session.version() };
    },
    async ping(cmd) {
      const out = await session.ping(cmd.payload === undefined ? undefined : unb64(cmd.payload));
      return { payload: b64(out.payload), time_ms: out.time_ms };
    },
    async watch(cmd) {
      const via = cmd.via || 'iterator';
      if (via !== 'callback' && via !== 'iterator') throw new Error(`via must be callback or iterator, got ${JSON.stringify(via)}`);
      const spec = { dirPath: cmd.dir_path, isPathShared: Boolean(cmd.is_path_shared), recursive: Boolean(cmd.recursive) };
      const options = via === 'callback' ? { onEvent: (event) => print({ via, event }) } : {};
      const w = await session.watch(spec, options);
      if (via === 'callback') w.ended.then((reason) => watchEnded(w.id, reason));
      else loops.push(iterate(w));
      return { watch_id: w.id, via };
    },
    async unwatch(cmd) {
      await session.unwatch(cmd.watch_id);
      return {};
    },
    async call(cmd) {
      return { data: await session.call(cmd.endpoint, cmd.data) };
    },
    async close() {
      await session.close();
      return {};
    },
  };

  async function run(text) {
    let cmd;
    try {
      cmd = JSON.parse(text);
    } catch (e) {
      print(failure(null, new Error('the command is not valid JSON')));
      return;
    }
    const op = cmd && cmd.op;
    if (!Object.hasOwn(commands, op)) {
      print(failure(op === undefined ? null : op, new Error(`unknown op ${JSON.stringify(op)}`)));
      return;
    }
    try {
      print({ op, ok: true, ...(await commands[op](cmd)) });
    } catch (e) {
      print(failure(op, e));
    }
  }

  // Commands run one at a time, in the order read.
  let queue = Promise.resolve();
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (text) => {
    if (text.trim() === '') return;
    queue = queue.then(() => run(text));
  });
  await new Promise((resolve) => rl.once('close', resolve));
  await queue;
  session.destroy();
  await Promise.all(loops);
  await sessionEnd;
  return 0;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
