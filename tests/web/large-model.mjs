// A model past 2 GiB in headless Chromium: the Llama-2-7B-shape stand-in at
// Q2_K (2.5 GB, `fuselm synth`; one wasm32 allocation is at most 2 GiB - 1),
// loaded
//  - split in files of at most 1 GiB (`fuselm split`, llama-gguf-split's
//    layout) from the first file's URL: the package finds the others and
//    downloads them in parallel;
//  - as the single file, held in segments cut between tensors.
// Each generates greedily with the threads build; the two loads (one held in
// three files, the other in segments of one) must give the same ids and text,
// which a single misplaced byte would change: random weights leave the top
// logits so nearly tied that native scalar, native auto and wasm each pick
// another first token here, so ids are not compared with the native engine's
// (the real models' e2e tests do that); the prompt's tokens are. The wasm
// instance's peak memory must stay within 1.1x the file plus the KV cache.
// Writes the model into models/ when missing (about 6 minutes on two cores);
// the split files are written for the run and removed after it (2.4 GB of
// disk a CI machine needs for later steps). Needs: scripts/web/build,
// target/release/fuselm.
// usage: node tests/web/large-model.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveWeb } from './serve.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fuselm = join(root, 'target', 'release', 'fuselm');
const models = join(root, 'models');
const FILE = 'synth-llama-2-7b-q2_k.gguf';
const SPLIT_DIR = 'split-llama-2-7b-q2_k';
const PROMPT = 'Hi';
const MAX_TOKENS = 3;
const N_CTX = 64;

if (!existsSync(join(models, FILE))) {
  execFileSync(fuselm, ['synth', '--shape', 'llama-2-7b', '--quant', 'q2_k', '-o', join(models, FILE)], { stdio: 'inherit' });
}
const splitDir = join(models, SPLIT_DIR);
rmSync(splitDir, { recursive: true, force: true });
mkdirSync(splitDir, { recursive: true });
execFileSync(fuselm, ['split', join(models, FILE), '--max-size', '1G', '-o', join(splitDir, 'model')], { stdio: 'inherit' });
const parts = readdirSync(splitDir).filter((f) => f.endsWith('.gguf')).sort();
const fileBytes = statSync(join(models, FILE)).size;
assert.ok(fileBytes > 2 ** 31, `${FILE} is ${fileBytes} bytes: not past 2 GiB`);
assert.ok(parts.length >= 3, `${parts.length} split files`);

const native = JSON.parse(execFileSync(
  fuselm,
  ['generate', '-m', join(models, FILE), '-p', PROMPT, '-n', '1', '--temp', '0', '--json'],
  { encoding: 'utf8' },
));

const { server, base } = await serveWeb(root);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});
let failed = false;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${base}/index.html?build=threads`);
  const runs = await page.evaluate(async ({ urls, prompt, maxTokens, nCtx }) => {
    const { Fuselm } = await import('./pkg/index.js');
    const engine = new Fuselm({ build: 'threads', threads: 2 });
    const runs = [];
    for (const url of urls) {
      const started = performance.now();
      const downloads = new Set();
      const info = await engine.loadModelFromUrl(url, { cache: false, onProgress: (p) => downloads.add(p.total) });
      const loadSeconds = (performance.now() - started) / 1e3;
      const promptTokens = await engine.tokenize(prompt);
      const result = await engine.createCompletion(prompt, { maxTokens, temperature: 0, nCtx });
      const after = await engine.info();
      runs.push({ url, promptTokens, file: info.file, fileBytes: info.fileBytes, formats: info.formats, loadSeconds, tokens: result.tokens, text: result.text, timings: result.timings, memory: after.wasmMemoryBytes, totals: [...downloads] });
    }
    engine.terminate();
    return runs;
  }, { urls: [`models/${SPLIT_DIR}/${parts[0]}`, `models/${FILE}`], prompt: PROMPT, maxTokens: MAX_TOKENS, nCtx: N_CTX });

  // f16 keys and values: 2 · n_layer · kv_dim · 2 bytes per position.
  const kvBytes = 2 * 32 * 4096 * 2 * N_CTX;
  for (const r of runs) {
    const what = r.url.includes(SPLIT_DIR) ? `split in ${parts.length} files` : 'one file';
    const ratio = r.memory / (r.fileBytes + kvBytes);
    console.log(
      `${FILE} ${what} (${(r.fileBytes / 2 ** 30).toFixed(2)} GiB): loaded in ${r.loadSeconds.toFixed(1)} s, ` +
        `${r.tokens.length} tokens (prompt ${r.timings.promptTokensPerSecond.toFixed(2)} t/s, ` +
        `decode ${r.timings.decodeTokensPerSecond.toFixed(2)} t/s); peak wasm memory ${(r.memory / 2 ** 30).toFixed(2)} GiB = ` +
        `${ratio.toFixed(3)}x file + KV cache (${(kvBytes / 2 ** 20).toFixed(0)} MiB)`,
    );
    assert.ok(ratio <= 1.1, `${what}: peak wasm memory ${r.memory} is ${ratio.toFixed(3)}x file + KV cache`);
    assert.deepEqual(r.promptTokens, native.prompt_tokens, `${what}: the prompt's tokens differ from the native engine's`);
    assert.equal(r.tokens.length, MAX_TOKENS, `${what}: ${r.tokens.length} tokens`);
  }
  assert.deepEqual(runs[0].tokens, runs[1].tokens, 'the split and the single file give different ids');
  assert.equal(runs[0].text, runs[1].text, 'the split and the single file give different text');
  console.log(`ok: both loads give ids ${JSON.stringify(runs[0].tokens)}; the prompt's tokens are native's`);
  assert.equal(runs[0].fileBytes, parts.reduce((n, f) => n + statSync(join(splitDir, f)).size, 0));
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  server.kill();
  rmSync(splitDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
