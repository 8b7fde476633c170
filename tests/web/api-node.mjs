// The package's main-thread API (web/pkg/index.js) against its real worker,
// run in Node.js worker_threads (tests/web/node-worker.mjs): calls that
// overlap (loads and completions started without waiting) each get the right
// answer or a clean error, because the worker runs one request at a time in
// order; `engine.model` stays true after failures; every abort rejects with
// an AbortError DOMException carrying the signal's reason (a waiting request
// never runs); and abort listeners are removed when a call ends.
// usage: node tests/web/api-node.mjs      (after scripts/web/build)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker as NodeWorker } from 'node:worker_threads';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = join(root, 'web', 'pkg');

/// A Web Worker made of a worker_threads Worker running node-worker.mjs.
globalThis.Worker = class {
  constructor(url) {
    this.thread = new NodeWorker(new URL('./node-worker.mjs', import.meta.url), { workerData: { url: String(url) } });
    this.thread.on('message', (data) => this.onmessage?.({ data }));
    this.thread.on('error', (e) => this.onerror?.(e));
  }
  postMessage(message, transfer) {
    this.thread.postMessage(message, transfer);
  }
  terminate() {
    this.thread.terminate();
  }
};

const tinyPath = join(root, 'models', 'synth-tiny-q4_k_m.gguf');
if (!existsSync(tinyPath)) {
  execFileSync(join(root, 'target', 'release', 'fuselm'), ['synth', '--shape', 'tiny', '--quant', 'q4_k_m', '-o', tinyPath], { stdio: 'inherit' });
}
const tiny = new Uint8Array(readFileSync(tinyPath));
const broken = new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, 1]);
const greedy = { maxTokens: 12, temperature: 0 };

const { createEngine } = await import(pathToFileURL(join(pkg, 'index.js')).href);
const engine = await createEngine({ build: 'simd' });
assert.equal(engine.build, 'simd');

// The reference: one load, one completion, each awaited.
await engine.loadModelFromBytes(tiny, { name: 'tiny.gguf' });
const reference = await engine.createCompletion('Once upon a time', greedy);
assert.equal(reference.tokens.length, 12);

// A load and two completions started together: the completions wait for the
// load and both give the reference answer.
const [loaded, first, second] = await Promise.all([
  engine.loadModelFromBytes(tiny, { name: 'again.gguf' }),
  engine.createCompletion('Once upon a time', greedy),
  engine.createCompletion('Once upon a time', greedy),
]);
assert.equal(loaded.file, 'again.gguf');
assert.deepEqual(first.tokens, reference.tokens);
assert.deepEqual(second.tokens, reference.tokens);
assert.equal(engine.model.file, 'again.gguf');

// A broken load sent while a completion runs: the completion finishes whole,
// the load fails cleanly, and then there is no model, on both sides.
const running = engine.createCompletion('Once upon a time', { ...greedy, maxTokens: 40, ignoreEos: true });
const failing = engine.loadModelFromBytes(broken, { name: 'cut.gguf' });
assert.equal((await running).tokens.length, 40);
await assert.rejects(failing, (e) => e.name === 'FuselmError' && /cut\.gguf: .*truncated/.test(e.message));
assert.equal(engine.model, null, 'a failed load leaves no model');
await assert.rejects(engine.createCompletion('x', greedy), /no model is loaded/);
await engine.loadModelFromBytes(tiny, { name: 'tiny.gguf' });
assert.equal(engine.model.file, 'tiny.gguf');

// Abort while generating: an AbortError DOMException with the reason and the
// partial completion.
const aborter = new AbortController();
let seen = 0;
const stopped = await engine
  .createCompletion('Once upon a time', {
    maxTokens: 100000, nCtx: 512, ignoreEos: true, temperature: 0, signal: aborter.signal,
    onToken: () => { if (++seen === 3) aborter.abort('enough'); },
  })
  .then(() => assert.fail('an aborted completion resolved'), (e) => e);
assert.ok(stopped instanceof DOMException, `not a DOMException: ${stopped}`);
assert.equal(stopped.name, 'AbortError');
assert.equal(stopped.cause, 'enough');
assert.equal(stopped.result.stopReason, 'cancelled');
assert.ok(stopped.result.tokens.length >= 3 && stopped.result.tokens.length < 100, `${stopped.result.tokens.length} tokens`);

// Abort a request that waits behind a long one: it never runs; the long one
// is not disturbed.
const waiting = new AbortController();
const long = engine.createCompletion('Once upon a time', { ...greedy, maxTokens: 60, ignoreEos: true });
const queued = engine.loadModelFromBytes(broken, { name: 'never.gguf', signal: waiting.signal });
const reason = new Error('changed my mind');
waiting.abort(reason);
const queuedError = await queued.then(() => assert.fail('an aborted load resolved'), (e) => e);
assert.equal(queuedError.name, 'AbortError');
assert.equal(queuedError.cause, reason);
assert.equal((await long).tokens.length, 60);
assert.equal(engine.model.file, 'tiny.gguf', 'a load aborted before it started leaves the model in place');

// Aborted before it started: rejected at once.
const early = await engine.createCompletion('x', { ...greedy, signal: AbortSignal.abort('early') }).then(() => null, (e) => e);
assert.equal(early?.name, 'AbortError');
assert.equal(early.cause, 'early');

// Listeners: every call removes the abort listener it added.
const signal = new AbortController().signal;
let listeners = 0;
const add = signal.addEventListener.bind(signal);
const remove = signal.removeEventListener.bind(signal);
signal.addEventListener = (...a) => { listeners++; add(...a); };
signal.removeEventListener = (...a) => { listeners--; remove(...a); };
await engine.createCompletion('Once upon a time', { ...greedy, signal });
await engine.loadModelFromBytes(broken, { name: 'cut.gguf', signal }).catch(() => {});
await engine.loadModelFromBytes(tiny, { name: 'tiny.gguf', signal });
assert.equal(listeners, 0, `${listeners} abort listeners left behind`);

engine.terminate();
console.log('api-node: overlapping loads and completions answered in order, model state true after failures, aborts are AbortErrors with their reason, listeners removed');
process.exit(0);
