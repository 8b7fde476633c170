// The npm package as a user gets it: `npm pack` of web/pkg, installed from the
// tarball into a scratch project, imported there; its simd build then runs
// in Node.js (no worker: the wasm-bindgen module directly) and must generate
// the native engine's exact greedy ids, and throw clear errors on bad input.
// usage: node tests/web/npm-package.mjs      (after scripts/web/build and a release build)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scratch = join(root, 'target', 'npm-scratch');
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });

const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', scratch, join(root, 'web', 'pkg')], { encoding: 'utf8' }));
const tarball = join(scratch, packed[0].filename);
const files = packed[0].files.map((f) => f.path);
for (const build of ['simd', 'relaxed', 'threads', 'threads-relaxed', 'webgpu']) {
  assert.ok(files.includes(`dist/${build}/fuselm_bg.wasm`), `the tarball lacks the ${build} build`);
}
assert.ok(!files.some((f) => f.startsWith('dist/scalar/')), 'the tarball carries the scalar build (comparisons only)');
assert.ok(files.includes('worker.js') && files.includes('index.d.ts'));
console.log(`npm pack: ${packed[0].filename}, ${files.length} files, ${(packed[0].size / 2 ** 20).toFixed(1)} MiB`);

writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: scratch, stdio: 'inherit' });

writeFileSync(join(scratch, 'use.mjs'), `
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import * as fuselm from 'fuselm';
import init, * as simd from 'fuselm/dist/simd/fuselm.js';
const require = createRequire(import.meta.url);
export { fuselm, simd };
export async function start() {
  await init({ module_or_path: readFileSync(require.resolve('fuselm/dist/simd/fuselm_bg.wasm')) });
}
`);
const { fuselm, simd, start } = await import(join(scratch, 'use.mjs'));
for (const name of ['createEngine', 'Fuselm', 'FuselmError', 'defaultBuild', 'availableBuilds', 'BUILDS']) {
  assert.ok(name in fuselm, `the package does not export ${name}`);
}
assert.equal(fuselm.defaultBuild(), 'simd', 'outside an isolated page the default build is simd');
await start();
assert.equal(simd.buildName(), 'simd');

// inspectGguf: a summary without loading; malformed bytes throw (never a trap).
for (const [bytes, message] of [
  [[0x47, 0x47, 0x4d, 0x4c, 3, 0, 0, 0], /broken\.gguf: not a GGUF file/],
  [[0x47, 0x47, 0x55, 0x46, 3, 0, 0], /broken\.gguf: file is truncated/],
  [[0x47, 0x47, 0x55, 0x46, 9, 0, 0, 0], /version 9 is not supported/],
]) {
  assert.throws(() => simd.inspectGguf('broken.gguf', new Uint8Array(bytes)), message);
}

// Errors are JS exceptions with clear messages, and the engine stays usable.
const engine = new simd.Engine();
assert.throws(() => engine.startCompletion('x', '{}'), /no model is loaded/);
// A bad header is an error as soon as its bytes arrive.
engine.beginLoad('broken.gguf', 8);
assert.throws(() => engine.appendChunk(new Uint8Array([0x47, 0x47, 0x4d, 0x4c, 3, 0, 0, 0])), /broken\.gguf: not a GGUF file/);
assert.throws(() => engine.finishLoad(''), /no load in progress/);
assert.throws(() => engine.beginLoad('huge.gguf', 2 ** 33), /huge\.gguf: a 8589934592-byte file does not fit in wasm32's 4 GiB/);
// A file is held in segments cut between tensors, planned once its header
// has arrived: a file of three 1.15 GB tensors (3.45 GB) fits, one tensor
// past an allocation's limit on wasm32 (isize::MAX = 2 GiB - 1) is an
// out-of-memory error naming the bytes, and the engine stays usable.
const header = (tensorBytes) => {
  const parts = [new TextEncoder().encode('GGUF'), u32(3), u64(tensorBytes.length), u64(0)];
  let offset = 0;
  for (const [i, n] of tensorBytes.entries()) {
    parts.push(u64(1), new TextEncoder().encode(String(i)), u32(1), u64(n / 4), u32(0), u64(offset));
    offset += n;
  }
  const bytes = new Uint8Array(Math.ceil(parts.reduce((n, p) => n + p.length, 0) / 32) * 32);
  let at = 0;
  for (const p of parts) (bytes.set(p, at), (at += p.length));
  return { bytes, size: bytes.length + offset };
};
function u32(n) { return new Uint8Array(new Uint32Array([n]).buffer); }
function u64(n) { return new Uint8Array(new BigUint64Array([BigInt(n)]).buffer); }
const threeLarge = header([1.15e9, 1.15e9, 1.15e9]);
engine.beginLoad('three-large.gguf', threeLarge.size);
engine.appendChunk(threeLarge.bytes);
engine.unload();
const oneHuge = header([2 ** 31]);
engine.beginLoad('big.gguf', oneHuge.size);
assert.throws(() => engine.appendChunk(oneHuge.bytes), (e) =>
  e.code === 'MODEL_TOO_LARGE' && /big\.gguf: could not allocate 2147483648 bytes for file bytes \[64, 2147483712\)/.test(e.message));
assert.throws(() => engine.appendChunk(new Uint8Array(1)), /no load in progress/);
// A download that does not match its announced length.
engine.beginLoad('long.gguf', 4);
assert.throws(() => engine.appendChunk(new Uint8Array(5)), /long\.gguf: more bytes arrived than the announced size of 4/);
engine.beginLoad('short.gguf', 8);
engine.appendChunk(new Uint8Array(3));
assert.throws(() => engine.finishLoad(''), /short\.gguf: file is truncated: received 3 of 8 bytes/);
// Arguments of the wrong type are errors too (wasm-bindgen's glue for strings
// and byte arrays trapped on a number or an object: the engine was lost).
assert.throws(() => engine.beginLoad(0, 8), /beginLoad: the file name must be a string, not number/);
assert.throws(() => engine.beginLoad({}, 8), /the file name must be a string, not object/);
engine.beginLoad('typed.gguf', 8);
assert.throws(() => engine.appendChunk([1, 2]), /appendChunk: the chunk must be a Uint8Array, not object/);
assert.throws(() => engine.finishLoad(null), /finishLoad: the load options must be a string, not null/);
assert.throws(() => engine.tokenize(7), /tokenize: the text must be a string, not number/);
assert.throws(() => engine.benchStart(3, [1], 1, 1), /bench: the prompt lengths must be a Uint32Array or an array of whole numbers, not number/);
assert.throws(() => engine.benchStart(new Uint32Array(2048), [1], 1, 1), /at most 1024 items/);
assert.throws(() => simd.inspectGguf('x.gguf', 'GGUF'), /inspectGguf: the file bytes must be a Uint8Array, not string/);

// A real model, when fetched (scripts/test fetches it), else the synthetic tiny
// one, written here as tests/web/e2e.mjs does when it is missing.
const fuselmBin = join(root, 'target', 'release', 'fuselm');
const smol = join(root, 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const tiny = join(root, 'models', 'synth-tiny-q4_k_m.gguf');
const model = existsSync(smol) ? smol : tiny;
if (model === tiny && !existsSync(tiny)) {
  mkdirSync(dirname(tiny), { recursive: true });
  execFileSync(fuselmBin, ['synth', '--shape', 'tiny', '--quant', 'q4_k_m', '-o', tiny], { stdio: 'inherit' });
}
const bytes = readFileSync(model);
engine.beginLoad('model.gguf', bytes.length);
for (let at = 0; at < bytes.length; at += 4 << 20) engine.appendChunk(bytes.subarray(at, at + (4 << 20)));
const info = JSON.parse(engine.finishLoad('{}'));
const summary = JSON.parse(simd.inspectGguf('model.gguf', bytes));
assert.equal(summary.tensors.length, Object.values(info.formats).reduce((n, f) => n + f.tensors, 0));
assert.ok(info.kernels.every((k) => !/unfused/.test(k.kernel)), `unfused kernels chosen: ${JSON.stringify(info.kernels)}`);
assert.throws(() => engine.startCompletion('x', '{"maxTokenz": 3}'), /completion options: unknown field `maxTokenz`/);
const prompt = 'The capital of France is';
engine.startCompletion(prompt, JSON.stringify({ maxTokens: 16, temperature: 0 }));
let streamed = '';
for (let step; (step = engine.step()) !== undefined;) streamed += JSON.parse(step).text;
const result = JSON.parse(engine.finishCompletion());
const native = JSON.parse(execFileSync(fuselmBin,
  ['generate', '-m', model, '-p', prompt, '-n', '16', '--temp', '0', '--json'],
  { encoding: 'utf8', env: { ...process.env, FUSELM_KERNELS: 'exact' } }));
assert.deepEqual(result.tokens, native.tokens, 'the packaged wasm generates different ids than the native engine');
assert.equal(streamed + result.tail, native.text);
assert.deepEqual(Array.from(engine.tokenize(prompt)), native.prompt_tokens);
console.log(`npm package: imported from the tarball; ${info.name}: ${result.tokens.length} ids equal to native`);

// The same model split in files (as llama-gguf-split writes them), fed in
// interleaved chunks: the same ids. A load missing a file is a clear error.
const splitDir = join(scratch, 'split');
mkdirSync(splitDir, { recursive: true });
execFileSync(fuselmBin, ['split', model, '--max-size', String(Math.ceil(bytes.length / 3)), '-o', join(splitDir, 'model')]);
const splitFiles = readdirSync(splitDir).sort().map((f) => readFileSync(join(splitDir, f)));
assert.ok(splitFiles.length >= 3, `${splitFiles.length} files`);
const feedSplit = (files) => {
  engine.beginLoad('model-00001.gguf', files[0].length);
  for (const [i, f] of files.entries()) if (i > 0) assert.equal(engine.addFile(`model-0000${i + 1}.gguf`, f.length), i);
  const step = 1 << 20;
  for (let at = 0; files.some((f) => at < f.length); at += step) {
    for (const [i, f] of files.entries()) if (at < f.length) engine.appendChunk(f.subarray(at, at + step), i);
  }
  return JSON.parse(engine.finishLoad('{}'));
};
const splitInfo = feedSplit(splitFiles);
assert.equal(splitInfo.fileBytes, splitFiles.reduce((n, f) => n + f.length, 0));
engine.startCompletion(prompt, JSON.stringify({ maxTokens: 16, temperature: 0 }));
while (engine.step() !== undefined);
assert.deepEqual(JSON.parse(engine.finishCompletion()).tokens, native.tokens, 'a split model generates different ids');
assert.throws(() => feedSplit(splitFiles.slice(0, 2)), new RegExp(`model-00001\\.gguf: split model: .split\\.count. says the model has ${splitFiles.length} files; the load has 2`));
assert.throws(() => engine.appendChunk(new Uint8Array(1), 5), /no load in progress/);
console.log(`npm package: the model split in ${splitFiles.length} files generates the same ids`);

// The same through the package's main API in Node.js ('fuselm' resolves to
// node.js there: the worker on a worker_threads thread), and the version
// written from Cargo.toml.
const viaApi = await fuselm.createEngine();
assert.equal(viaApi.build, 'simd');
await viaApi.loadModelFromBytes(bytes, { name: 'model.gguf' });
const apiResult = await viaApi.createCompletion(prompt, { maxTokens: 16, temperature: 0 });
assert.deepEqual(apiResult.tokens, native.tokens, 'the package API in Node.js generates different ids');
viaApi.terminate();
const installed = JSON.parse(readFileSync(join(scratch, 'node_modules', 'fuselm', 'package.json'), 'utf8'));
const cargoVersion = /\[workspace\.package\][^[]*?\nversion = "([^"]+)"/.exec(readFileSync(join(root, 'Cargo.toml'), 'utf8'))[1];
assert.equal(installed.version, cargoVersion, 'the package version differs from Cargo.toml');
assert.ok(files.includes('node.js') && files.includes('node-worker.js'), 'the tarball lacks the Node.js entry');
console.log(`npm package: createEngine in Node.js (worker_threads) gives the same ids; version ${installed.version}`);
