// The package's API (web/pkg/index.js, through its Node.js entry node.js) against
// its real worker on a worker_threads thread (node-worker.js): calls that
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

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = join(root, 'web', 'pkg');

const tinyPath = join(root, 'models', 'synth-tiny-q4_k_m.gguf');
if (!existsSync(tinyPath)) {
  execFileSync(join(root, 'target', 'release', 'fuselm'), ['synth', '--shape', 'tiny', '--quant', 'q4_k_m', '-o', tinyPath], { stdio: 'inherit' });
}
const tiny = new Uint8Array(readFileSync(tinyPath));
const broken = new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, 1]);
const greedy = { maxTokens: 12, temperature: 0 };

const { createEngine } = await import(pathToFileURL(join(pkg, 'node.js')).href);
const engine = await createEngine({ build: 'simd' });
assert.equal(engine.build, 'simd');
assert.equal(engine.model, null, 'no model before a load');

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
await assert.rejects(failing, (e) => e.name === 'FuselmError' && e.code === 'BAD_FILE' && /cut\.gguf: .*truncated/.test(e.message));
assert.equal(engine.model, null, 'a failed load leaves no model');
await assert.rejects(engine.createCompletion('x', greedy), (e) => e.code === 'NO_MODEL' && /no model is loaded/.test(e.message));
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

// Seeds: without one, each call draws its own (two samples differ); with
// one, the same text comes back; the result says which seed was used.
const sampled = { maxTokens: 12, temperature: 1, ignoreEos: true };
const [a, b] = [await engine.createCompletion('Once', sampled), await engine.createCompletion('Once', sampled)];
assert.notDeepEqual(a.tokens, b.tokens, 'two unseeded samples were equal');
const again = await engine.createCompletion('Once', { ...sampled, seed: a.seed });
assert.deepEqual(again.tokens, a.tokens);

// tokenize / detokenize / applyChatTemplate.
const ids = await engine.tokenize('Hello world');
const bare = await engine.tokenize('Hello world', { addSpecial: false });
assert.equal(ids.length, bare.length + 1, 'addSpecial adds BOS');
// The tiny model's vocabulary spells spaces as bytes of U+2581; the engine
// itself (called directly) says what detokenize must return.
const simd = await import(pathToFileURL(join(pkg, 'dist', 'simd', 'fuselm.js')).href);
await simd.default({ module_or_path: readFileSync(join(pkg, 'dist', 'simd', 'fuselm_bg.wasm')) });
const direct = new simd.Engine();
direct.beginLoad('tiny.gguf', tiny.length);
direct.appendChunk(tiny);
direct.finishLoad('{}');
assert.deepEqual(bare, Array.from(direct.tokenize('Hello world', false)));
assert.equal(await engine.detokenize(bare), direct.detokenize(bare));
const chatMessages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }];
const templated = await engine.applyChatTemplate(chatMessages);
assert.equal(templated, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
await assert.rejects(engine.detokenize([1.5]), /detokenize: the token ids: every item must be a whole number/);
await assert.rejects(engine.applyChatTemplate([{ role: 'user' }]), /chat messages: missing field `content`/);

// OpenAI's chat API: the same ids as createChatCompletion, in OpenAI's shape.
const chatReference = await engine.createChatCompletion(chatMessages, greedy);
const response = await engine.chat.completions.create({ messages: chatMessages, max_tokens: 12, temperature: 0, model: 'tiny' });
assert.equal(response.object, 'chat.completion');
assert.match(response.id, /^chatcmpl-[0-9a-f]{24}$/);
assert.equal(response.model, 'tiny');
assert.deepEqual(response.choices.map((c) => [c.index, c.message.role, c.message.content, c.finish_reason]), [[0, 'assistant', chatReference.text, 'length']]);
const chatPromptTokens = chatReference.timings.promptTokens + chatReference.timings.cachedTokens;
assert.deepEqual(
  [response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens],
  [chatPromptTokens, 12, chatPromptTokens + 12],
);
const stream = await engine.chat.completions.create({ messages: chatMessages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } });
const chunks = [];
for await (const chunk of stream) chunks.push(chunk);
assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id));
assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
const streamedText = chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content ?? '')).join('');
assert.equal(streamedText, chatReference.text);
assert.equal(chunks.at(-2).choices[0].finish_reason, 'length');
assert.deepEqual(chunks.at(-1).choices, []);
assert.equal(chunks.at(-1).usage.completion_tokens, 12);
// Leaving the loop early stops the generation (the engine is free at once).
const endless = await engine.chat.completions.create({ messages: chatMessages, max_tokens: 100000, temperature: 0, ignore_eos: true, stream: true });
let taken = 0;
for await (const chunk of endless) if (++taken === 4) break;
const afterBreak = await engine.createChatCompletion(chatMessages, greedy);
assert.deepEqual(afterBreak.tokens, chatReference.tokens);
// An abort through `signal` ends the iteration with the AbortError.
const streamAborter = new AbortController();
const aborted = await (async () => {
  // ignore_eos: an end-of-generation token before the abort lands would end the stream normally.
  const s = await engine.chat.completions.create({ messages: chatMessages, max_tokens: 100000, temperature: 0, ignore_eos: true, stream: true, signal: streamAborter.signal });
  let count = 0;
  for await (const chunk of s) if (++count === 3) streamAborter.abort('stop it');
})().then(() => null, (e) => e);
assert.equal(aborted?.name, 'AbortError');
assert.equal(aborted.cause, 'stop it');
for (const [params, message] of [
  [{ messages: chatMessages, n: 2 }, /n must be 1/],
  [{ messages: chatMessages, tools: [] }, /unsupported parameter tools/],
  [{ messages: 'hi' }, /messages must be an array/],
  [{ messages: chatMessages, presence_penalty: 0.5 }, /presence_penalty are not supported/],
]) {
  await assert.rejects(engine.chat.completions.create(params), message);
}

// Multi-turn chat: the second turn evaluates only its new tokens (the engine
// kept the cache), and answers as a fresh engine does.
await engine.loadModelFromBytes(tiny, { name: 'tiny.gguf' }); // a fresh session
const turn1 = [{ role: 'user', content: 'Tell me a story.' }];
const reply1 = await engine.createChatCompletion(turn1, { ...greedy, ignoreEos: true });
assert.equal(reply1.timings.cachedTokens, 0, 'a new model starts with an empty cache');
const turn2 = [...turn1, { role: 'assistant', content: reply1.text }, { role: 'user', content: 'And then?' }];
const reply2 = await engine.createChatCompletion(turn2, { ...greedy, ignoreEos: true });
const whole2 = (await engine.tokenize(await engine.applyChatTemplate(turn2))).length;
assert.equal(reply2.timings.promptTokens + reply2.timings.cachedTokens, whole2);
assert.ok(reply2.timings.cachedTokens >= whole2 / 2, `only ${reply2.timings.cachedTokens} of ${whole2} prompt tokens were reused`);
const openAiTurn2 = await engine.chat.completions.create({ messages: turn2, max_tokens: 12, temperature: 0 });
assert.equal(openAiTurn2.usage.prompt_tokens, whole2);
assert.equal(openAiTurn2.usage.prompt_tokens_details.cached_tokens, whole2 - 1, 'the same prompt again reuses all but its last token');
await engine.loadModelFromBytes(tiny, { name: 'tiny.gguf' }); // a fresh session
const fresh2 = await engine.createChatCompletion(turn2, { ...greedy, ignoreEos: true });
assert.equal(fresh2.timings.cachedTokens, 0);
assert.deepEqual(reply2.tokens, fresh2.tokens, 'the reused cache changed the answer');
console.log(`api-node: turn two evaluated ${reply2.timings.promptTokens} of ${whole2} prompt tokens`);

// A real vocabulary, when fetched (scripts/test fetches SmolLM2): text
// survives tokenize + detokenize, and its own chat template applies.
const smolPath = join(root, 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
if (existsSync(smolPath)) {
  await engine.loadModelFromBytes(new Uint8Array(readFileSync(smolPath)), { name: 'smol.gguf' });
  const text = 'Hello world, 12 + 3 = 15!';
  assert.equal(await engine.detokenize(await engine.tokenize(text, { addSpecial: false })), text);
  assert.match(await engine.applyChatTemplate([{ role: 'user', content: 'Hi' }]), /<\|im_start\|>user\nHi<\|im_end\|>\n<\|im_start\|>assistant\n$/);
  // A real chat's second turn: measured against the same turn in a fresh session.
  const chat1 = [{ role: 'user', content: 'Write three sentences about the sea, its colours and its sounds.' }];
  const answer1 = await engine.createChatCompletion(chat1, { maxTokens: 64, temperature: 0 });
  const chat2 = [...chat1, { role: 'assistant', content: answer1.text }, { role: 'user', content: 'Now one about the sky.' }];
  const warm = await engine.createChatCompletion(chat2, { maxTokens: 16, temperature: 0 });
  await engine.loadModelFromBytes(new Uint8Array(readFileSync(smolPath)), { name: 'smol.gguf' });
  const cold = await engine.createChatCompletion(chat2, { maxTokens: 16, temperature: 0 });
  assert.deepEqual(warm.tokens, cold.tokens, 'the reused cache changed the answer');
  assert.equal(warm.timings.promptTokens + warm.timings.cachedTokens, cold.timings.promptTokens);
  assert.ok(warm.timings.promptTokens * 2 < cold.timings.promptTokens, `turn two evaluated ${warm.timings.promptTokens} of ${cold.timings.promptTokens} tokens`);
  console.log(`api-node: SmolLM2 turn two: ${warm.timings.promptTokens} of ${cold.timings.promptTokens} prompt tokens evaluated, ` +
    `prompt ${warm.timings.promptMs.toFixed(0)} ms vs ${cold.timings.promptMs.toFixed(0)} ms in a fresh session ` +
    `(${(cold.timings.promptMs / warm.timings.promptMs).toFixed(1)}x), same ${warm.tokens.length} ids`);
} else {
  console.log('note: models/SmolLM2-135M-Instruct.Q4_1.gguf absent; the real-vocabulary round trip is skipped');
}

// Every error has a code (docs/troubleshooting.md).
const codeOf = (promise) => promise.then(() => 'resolved', (e) => e.code ?? `no code: ${e}`);
assert.deepEqual(
  [
    await codeOf(engine.createCompletion('x', { maxTokenz: 3 })),
    await codeOf(engine.createCompletion('x', { cacheType: 'q9' })),
    await codeOf(engine.createCompletion('word '.repeat(100), { nCtx: 16 })),
    await codeOf(engine.detokenize(['x'])),
    await codeOf(engine.chat.completions.create({ messages: [], n: 3 })),
    await codeOf(engine.loadModelFromUrl('http://127.0.0.1:9/none.gguf', { cache: false })),
    await codeOf(Promise.resolve().then(() => createEngine({ build: 'gpu' }))),
    await codeOf(Promise.resolve().then(() => createEngine({ backend: 'gpu' }))),
    // Node.js has no WebGPU: asked for, it is an error; with auto, the CPU build runs and says why.
    await codeOf(createEngine({ build: 'simd', backend: 'webgpu' })),
  ],
  ['BAD_OPTION', 'BAD_OPTION', 'CONTEXT_FULL', 'BAD_ARGUMENT', 'BAD_ARGUMENT', 'NETWORK', 'BAD_OPTION', 'BAD_OPTION', 'NO_GPU'],
);
{
  const auto = await createEngine({ build: 'simd', backend: 'auto' });
  const ready = await auto.ready;
  assert.deepEqual([ready.build, ready.backend], ['simd', 'cpu']);
  assert.match(ready.backendReason, /no WebGPU/);
  const info = await auto.loadModelFromBytes(tiny, { name: 'tiny.gguf' });
  assert.deepEqual([info.backend, info.backendDetail], ['cpu', ready.backendReason]);
  auto.terminate();
}
await engine.loadModelFromBytes(tiny, { name: 'tiny.gguf' });
const pending = engine.createCompletion('Once', { maxTokens: 10000, ignoreEos: true });
engine.terminate();
assert.equal(await codeOf(pending), 'TERMINATED');

// --typed FILE: the compiled tests/web/types/usage.ts, run on the tiny model:
// every typed use must work at run time too.
const typed = process.argv.indexOf('--typed');
if (typed > 0) {
  const { exercise } = await import(pathToFileURL(process.argv[typed + 1]).href);
  const seen = await exercise(tiny);
  const expected = [
    /^builds 6 true$/, /^threads 4 2 true false$/, /^ready simd cpu string$/, /^loaded typed\.gguf 2 typed\.gguf$/, /^info 512$/, /^split 3 https:\/\/models\.example\/m-00003-of-00003\.gguf\?sig=1 true$/, /^files model\.gguf true$/, /^tokens \d+ string true$/,
    /^completion \d+ (maxTokens|stopString) number true$/, /^chat 2$/, /^abort AbortError typed cancelled$/,
    /^openai chat\.completion (length|stop) \d true$/, /^stream [3-6]$/, /^bench pp4,tg2$/, /^error true false null$/, /^cache true false false number$/,
  ];
  assert.equal(seen.length, expected.length, seen.join('\n'));
  seen.forEach((line, i) => assert.match(line, expected[i]));
  console.log(`api-node: the typed usage file ran (${seen.length} checks)`);
}
console.log('api-node: overlapping loads and completions answered in order, model state true after failures, aborts are AbortErrors with their reason, listeners removed; random seeds; tokenize/detokenize/applyChatTemplate; OpenAI-shaped chat, streamed and not');
process.exit(0);
