// Fuzzes the npm package's worker protocol in Node.js: the real worker.js
// (web/pkg, after scripts/web/build) runs in this thread with `self` pointed
// at a stub, and gets random messages: every operation with arguments of
// every wrong type and size (bytes from the hostile-file corpus, truncated
// and random files, odd load and sampling options, bench counts from -1 to
// 2^40), unknown operations, aborts of random requests, several at once.
// Checks: every request gets exactly one final reply within a time limit;
// an error reply carries a message; no reply is fatal (a wasm trap is a
// bug); no promise rejection goes unhandled; and afterwards the same worker
// still loads the tiny model and tokenizes it as the engine does directly.
// usage: node tests/web/worker-fuzz.mjs [--seconds 20] [--seed N]
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const seconds = arg('--seconds', Number(process.env.FUSELM_FUZZ_SECONDS ?? 20));
const seed = arg('--seed', Date.now() % 2 ** 31);
const REPLY_LIMIT_MS = 30_000;
const slowest = { ms: 0, msg: null };

// --- fixtures: the tiny model, the hostile corpus, served as files and URLs.
const tinyPath = join(root, 'models', 'synth-tiny-q4_k_m.gguf');
if (!existsSync(tinyPath)) {
  execFileSync(join(root, 'target', 'release', 'fuselm'), ['synth', '--shape', 'tiny', '--quant', 'q4_k_m', '-o', tinyPath], { stdio: 'inherit' });
}
const tiny = new Uint8Array(readFileSync(tinyPath));
const hostileDir = join(root, 'tests', 'data', 'hostile');
const hostile = readdirSync(hostileDir).filter((f) => f.endsWith('.gguf')).map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(hostileDir, f))) }));
const served = { 'http://fixture/tiny.gguf': tiny, 'http://fixture/cut.gguf': tiny.slice(0, 5000) };

// --- the worker's world: `self`, fetch for file: and fixture URLs, no OPFS.
const finals = new Map(); // id -> replies with `ok`
const waiting = new Map(); // id -> resolve
globalThis.self = globalThis;
globalThis.crossOriginIsolated = false;
// A worker is an EventTarget (the threads build's helper listens on it).
self.addEventListener = () => {};
self.removeEventListener = () => {};
if (!('navigator' in globalThis)) globalThis.navigator = {};
const nodeFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => {
  const href = String(url instanceof URL ? url.href : url);
  if (href.startsWith('file:')) {
    return new Response(readFileSync(fileURLToPath(href)), { headers: { 'content-type': 'application/wasm' } });
  }
  if (href in served) return new Response(served[href], { headers: { 'content-length': String(served[href].length) } });
  if (href.startsWith('http://fixture/')) return new Response('missing', { status: 404, statusText: 'Not Found' });
  return nodeFetch(url, init); // invalid URLs throw TypeError, as in a browser
};
self.postMessage = (message) => {
  assert.equal(typeof message, 'object');
  if (!('ok' in message)) return; // progress and token events
  const list = finals.get(message.id) ?? [];
  list.push(message);
  finals.set(message.id, list);
  waiting.get(message.id)?.(message);
};
const unhandled = [];
process.on('unhandledRejection', (e) => unhandled.push(e));
await import(pathToFileURL(join(root, 'web', 'pkg', 'worker.js')).href);
assert.equal(typeof self.onmessage, 'function', 'worker.js did not install onmessage');

// --- random messages (mulberry32, so a failing seed replays).
let state = seed >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
};
const pick = (items) => items[Math.floor(random() * items.length)];
const chance = (p) => random() < p;
const junk = () => pick([undefined, null, true, 0, -1, 1.5, NaN, Infinity, 2 ** 40, '', 'x', '\u0000', [], {}, [1, 2], { a: 1 }, new Uint8Array(3)]);
const number = () => pick([0, 1, 2, 3, 7, 16, -1, -0.5, 2.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32 + 1, 2 ** 40, '8', null, undefined]);
const text = () => pick(['', 'Hello world', 'a'.repeat(1 + Math.floor(random() * 3000)), '\u{1F600}\u0000\uFFFD\uD800', '<s></s><unk>', ' '.repeat(2000), String(random())]);
const bytes = () => {
  const h = pick(hostile);
  switch (Math.floor(random() * 6)) {
    case 0: return { name: 'tiny.gguf', bytes: tiny };
    case 1: return { name: 'cut.gguf', bytes: tiny.slice(0, Math.floor(random() * tiny.length)) };
    case 2: {
      const flipped = tiny.slice();
      for (let i = 0; i < 8; i++) flipped[Math.floor(random() * 4096)] = Math.floor(random() * 256);
      return { name: 'flipped.gguf', bytes: flipped };
    }
    case 3: return { name: 'random.gguf', bytes: Uint8Array.from({ length: Math.floor(random() * 512) }, () => Math.floor(random() * 256)) };
    default: return h;
  }
};
const loadOptions = () => pick([undefined, {}, junk(), { contextSize: number() }, { contextSize: 64, cacheType: pick(['f16', 'q8_0', 'bogus', 3]) }, { kernels: pick(['fast', 'exact', 'bogus']) }]);
const sampling = () => pick([
  undefined,
  junk(),
  { maxTokens: number(), temperature: number(), topK: number(), topP: number(), minP: number(), seed: number() },
  { maxTokens: pick([1, 4, 8]), stop: pick([['.'], 'x', [1], null]), repeatPenalty: number(), chat: chance(0.5) },
  { maxTokens: 4, messages: pick([[{ role: 'user', content: 'hi' }], [{ role: 1 }], 'x', null]) },
]);

function message(id) {
  const op = pick(['init', 'init', 'loadBytes', 'loadBytes', 'loadUrl', 'loadFile', 'info', 'tokenize', 'complete', 'complete', 'bench', 'unload', 'abort', 'bogus', undefined]);
  switch (op) {
    case 'init': return { id, op, args: pick([{ build: 'simd' }, { build: 'scalar' }, { build: 'relaxed' }, { build: 'threads', threads: number() }, { build: 'threads-relaxed', threads: number() }, { build: pick(['nope', '', 'simd/../simd', 7]) }, junk()]) };
    case 'loadBytes': {
      const { name, bytes: b } = bytes();
      return { id, op, args: chance(0.9) ? { name: pick([name, junk()]), bytes: chance(0.9) ? b : junk(), load: loadOptions() } : junk() };
    }
    case 'loadUrl': return { id, op, args: { url: pick(['http://fixture/tiny.gguf', 'http://fixture/cut.gguf', 'http://fixture/none.gguf', 'not a url', junk()]), name: 'u.gguf', cache: pick([false, true, undefined]), load: loadOptions() } };
    case 'loadFile': {
      const { name, bytes: b } = bytes();
      return { id, op, args: { file: chance(0.8) ? new File([b], name) : junk(), load: loadOptions() } };
    }
    case 'tokenize': return { id, op, args: chance(0.8) ? { text: chance(0.8) ? text() : junk() } : junk() };
    case 'complete': return { id, op, args: chance(0.9) ? { prompt: chance(0.8) ? text().slice(0, 200) : junk(), options: sampling() } : junk() };
    case 'bench': return { id, op, args: { nPrompt: number(), nGen: number(), repetitions: number(), threads: number() } };
    case 'abort': return { op, target: chance(0.7) ? id - 1 - Math.floor(random() * 3) : junk() };
    default: return { id, op, args: chance(0.5) ? {} : junk() };
  }
}

// Sends one message; resolves with its final reply (aborts have none).
function send(msg) {
  const began = performance.now();
  const done = msg.op === 'abort' ? Promise.resolve(null) : new Promise((resolve) => waiting.set(msg.id, resolve));
  self.onmessage({ data: msg });
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no reply to ${JSON.stringify(summary(msg))} within ${REPLY_LIMIT_MS} ms (seed ${seed})`)), REPLY_LIMIT_MS);
  });
  return Promise.race([done, limit]).finally(() => {
    clearTimeout(timer);
    // A long synchronous call blocks the timer above; measure it here too.
    const took = performance.now() - began;
    assert.ok(took < REPLY_LIMIT_MS, `${JSON.stringify(summary(msg))} took ${Math.round(took)} ms (seed ${seed})`);
    if (took > slowest.ms) Object.assign(slowest, { ms: took, msg: summary(msg) });
  });
}

const summary = (msg) => JSON.parse(JSON.stringify(msg, (k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v instanceof File ? `<file ${v.name}, ${v.size} bytes>` : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)));

function checkReply(msg, reply) {
  if (!reply) return;
  const list = finals.get(msg.id);
  assert.equal(list.length, 1, `request ${msg.id} got ${list.length} final replies (seed ${seed})`);
  assert.equal(typeof reply.ok, 'boolean');
  if (!reply.ok) {
    assert.ok(typeof reply.error === 'string' && reply.error.length > 0, `an error reply without a message: ${JSON.stringify(reply)}`);
    assert.ok(!reply.fatal, `the engine trapped on ${JSON.stringify(summary(msg))}: ${reply.error} (seed ${seed})`);
  }
}

console.log(`worker fuzz: seed ${seed}, ${seconds} s`);
const start = performance.now();
let id = 0;
let sent = 0;
const outcomes = { ok: 0, error: 0 };
while (performance.now() - start < seconds * 1000) {
  // Mostly one at a time; sometimes a burst that overlaps.
  const burst = chance(0.15) ? 2 + Math.floor(random() * 3) : 1;
  const batch = [];
  for (let i = 0; i < burst; i++) {
    const msg = message(++id);
    batch.push(send(msg).then((reply) => {
      checkReply(msg, reply);
      if (reply) outcomes[reply.ok ? 'ok' : 'error']++;
    }));
    sent++;
  }
  await Promise.all(batch);
}
assert.deepEqual(unhandled.map((e) => e?.stack ?? String(e)), [], `unhandled rejections (seed ${seed})`);

// The worker still works: a fresh init and load, then the same ids as the
// engine gives directly.
const after = [
  await send({ id: ++id, op: 'init', args: { build: 'simd' } }),
  await send({ id: ++id, op: 'loadBytes', args: { name: 'tiny.gguf', bytes: tiny, load: {} } }),
  await send({ id: ++id, op: 'tokenize', args: { text: 'Hello world' } }),
];
for (const reply of after) assert.ok(reply.ok, `after fuzzing: ${reply.error} (seed ${seed})`);
const simd = await import(pathToFileURL(join(root, 'web', 'pkg', 'dist', 'simd', 'fuselm.js')).href);
const direct = new simd.Engine();
direct.beginLoad('tiny.gguf', tiny.length);
direct.appendChunk(tiny);
direct.finishLoad('{}');
assert.deepEqual(after[2].result, Array.from(direct.tokenize('Hello world')));
console.log(`worker fuzz: slowest reply ${Math.round(slowest.ms)} ms, to ${JSON.stringify(slowest.msg)}`);
console.log(`worker fuzz: ${sent} messages (${outcomes.ok} ok, ${outcomes.error} errors), no trap, hang or lost reply; the worker still tokenizes as the engine`);
// The worker's MessageChannel (its yield to the event loop) keeps Node alive.
process.exit(0);
