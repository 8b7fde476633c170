// The WebGPU backend through the npm package, in headless Chromium with
// WebGPU on its software adapter (SwiftShader; `--enable-unsafe-webgpu`):
//  - `backend: 'webgpu'` runs the webgpu build on the adapter, and greedy
//    completions give exactly the token ids of the native GPU backend on the
//    same driver (`fuselm generate --backend gpu` on SwiftShader's Vulkan ICD,
//    which Debian's chromium ships): the same WGSL kernels, compiled by Tint
//    in the browser and by naga natively (a synthetic tiny model, and the real
//    Gemma 3 270M and SmolLM2-135M when fetched). How many also equal the CPU
//    exact kernels' ids is reported (the GPU sums in another float order, as
//    the CPU's own tiers do: tests/gpu_models.rs measures that). A second
//    completion reuses the cached prefix on the GPU and still matches;
//  - an aborted completion (its logits on their way) leaves the engine usable;
//  - bench rows come from the GPU (`kernels: webgpu`), timed to the logits' arrival;
//  - `backend: 'auto'` stays on the CPU builds on a software adapter and says why;
//  - the demo page generates with its backend set to WebGPU, and the timing
//    page measures the webgpu build beside simd and says which adapter ran it;
//  - a model with a format the GPU kernels lack (F16 matrices) is a
//    GPU_ERROR naming the tensor, and the engine loads the next model.
// Needs: scripts/web/build (webgpu build), target/release/fuselm.
// usage: node tests/web/webgpu.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveWeb } from './serve.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fuselm = join(root, 'target', 'release', 'fuselm');
const models = join(root, 'models');
mkdirSync(models, { recursive: true });

const TINY = 'synth-tiny-q4_k_m.gguf';
const TINY_F16 = 'synth-tiny-f16.gguf'; // F16 matrices have no GPU kernel
for (const [file, quant] of [[TINY, 'q4_k_m'], [TINY_F16, 'f16']]) {
  if (!existsSync(join(models, file))) {
    execFileSync(fuselm, ['synth', '--shape', 'tiny', '--quant', quant, '-o', join(models, file)], { stdio: 'inherit' });
  }
}
const cases = [{ file: TINY, prompt: 'Hello, browser', maxTokens: 24 }];
for (const [file, prompt] of [
  ['gemma-3-270m-q4_k_m.gguf', 'The three primary colours are'],
  ['SmolLM2-135M-Instruct.Q4_1.gguf', 'The capital of France is'],
]) {
  if (existsSync(join(models, file))) cases.push({ file, prompt, maxTokens: 16 });
  else console.log(`note: models/${file} absent; its WebGPU check is skipped`);
}

const SWIFTSHADER_ICD = process.env.SWIFTSHADER_ICD ?? '/usr/lib/chromium/vk_swiftshader_icd.json';
assert.ok(existsSync(SWIFTSHADER_ICD), `no SwiftShader Vulkan ICD at ${SWIFTSHADER_ICD} (Debian's chromium ships it)`);

/// The native engine's greedy ids: on the GPU backend over SwiftShader, or
/// with the CPU exact kernels.
function nativeIds({ file, prompt, maxTokens }, backend = 'gpu') {
  const env = backend === 'gpu' ? { VK_ICD_FILENAMES: SWIFTSHADER_ICD } : { FUSELM_KERNELS: 'exact' };
  const json = execFileSync(
    fuselm,
    ['generate', '-m', join(models, file), '-p', prompt, '-n', String(maxTokens), '--temp', '0', '--json', '--backend', backend],
    { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return JSON.parse(json).tokens;
}

const { server, base } = await serveWeb(root);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
let failed = false;
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(`${base}/index.html`);
  const adapter = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    return a && { vendor: a.info.vendor, architecture: a.info.architecture, fallback: a.info.isFallbackAdapter };
  });
  assert.ok(adapter, 'this Chromium offers no WebGPU adapter (is --enable-unsafe-webgpu honoured?)');
  console.log('adapter:', adapter);

  for (const c of cases) {
    const expected = nativeIds(c);
    const exact = nativeIds(c, 'cpu');
    const got = await page.evaluate(async ({ file, prompt, maxTokens }) => {
      const { Fuselm } = await import('./pkg/index.js');
      const engine = new Fuselm({ backend: 'webgpu' });
      try {
        const ready = await engine.ready;
        const info = await engine.loadModelFromUrl(`models/${file}`, { cache: false });
        const first = await engine.createCompletion(prompt, { maxTokens, temperature: 0 });
        // The same prompt again: the session keeps all but the last token on
        // the GPU (a few tokens: SwiftShader is slow on the real models).
        const again = await engine.createCompletion(prompt, { maxTokens: 6, temperature: 0 });
        return { ready, backend: info.backend, detail: info.backendDetail, first, again };
      } finally {
        engine.terminate();
      }
    }, c);
    assert.equal(got.ready.build, 'webgpu');
    assert.equal(got.ready.backend, 'webgpu');
    assert.match(got.ready.backendReason, /software adapter: correctness only/);
    assert.equal(got.backend, 'webgpu', `${c.file}: ${got.detail}`);
    assert.deepEqual(got.first.tokens, expected, `${c.file}: WebGPU greedy ids differ from the native GPU backend's on SwiftShader`);
    assert.deepEqual(got.again.tokens, expected.slice(0, 6), `${c.file}: the completion that reused the GPU cache differs`);
    assert.ok(got.again.timings.cachedTokens > 0, `${c.file}: the second completion reused nothing`);
    const same = expected.findIndex((id, i) => id !== exact[i]);
    const vsExact = same < 0 ? 'all equal to the CPU exact ids' : `equal to the CPU exact ids for the first ${same}`;
    console.log(`ok: ${c.file} on WebGPU: ${expected.length} greedy ids equal to native GPU on SwiftShader (${vsExact}); ` +
      `prefix reuse ${got.again.timings.cachedTokens} tokens; ${got.first.timings.decodeTokensPerSecond.toFixed(1)} t/s (software adapter)`);
  }

  const rest = await page.evaluate(async ({ tiny, f16 }) => {
    const { Fuselm } = await import('./pkg/index.js');
    const out = {};
    const engine = new Fuselm({ backend: 'webgpu' });
    await engine.ready;
    // A format without a GPU kernel: an error naming the tensor; the engine goes on.
    out.unsupported = await engine.loadModelFromUrl(`models/${f16}`, { cache: false }).then(() => 'loaded', (e) => [e.code, e.message]);
    await engine.loadModelFromUrl(`models/${tiny}`, { cache: false });
    // Abort while logits are on their way, then complete again.
    const stopper = new AbortController();
    let seen = 0;
    out.aborted = await engine
      .createCompletion('abort me', { maxTokens: 200, ignoreEos: true, temperature: 0, signal: stopper.signal, onToken: () => ++seen === 3 && stopper.abort() })
      .then(() => null, (e) => [e.name, e.result?.stopReason, e.result?.tokens.length]);
    out.after = (await engine.createCompletion('Hello, browser', { maxTokens: 8, temperature: 0 })).tokens;
    out.bench = await engine.bench({ nPrompt: [16], nGen: [4], repetitions: 2 });
    engine.terminate();
    const auto = new Fuselm({ backend: 'auto', build: 'simd' });
    out.auto = await auto.ready;
    out.autoModel = (await auto.loadModelFromUrl(`models/${tiny}`, { cache: false })).backend;
    auto.terminate();
    out.badBackend = (() => {
      try {
        new Fuselm({ backend: 'gpu' });
        return 'accepted';
      } catch (e) {
        return e.code;
      }
    })();
    return out;
  }, { tiny: TINY, f16: TINY_F16 });
  assert.equal(rest.unsupported[0], 'GPU_ERROR');
  assert.match(rest.unsupported[1], /F16 has no GPU kernel/);
  assert.deepEqual(rest.aborted.slice(0, 2), ['AbortError', 'cancelled']);
  assert.ok(rest.aborted[2] < 20, `the abort took effect late: ${rest.aborted[2]} tokens`);
  assert.deepEqual(rest.after, nativeIds({ file: TINY, prompt: 'Hello, browser', maxTokens: 8 }), 'the completion after an abort differs');
  assert.deepEqual(rest.bench.map((r) => [r.kernels, r.test, r.samples_ts.length]), [['webgpu', 'pp16', 2], ['webgpu', 'tg4', 2]]);
  for (const r of rest.bench) assert.ok(r.avg_ts > 0 && Number.isFinite(r.avg_ts), `bad t/s in ${JSON.stringify(r)}`);
  assert.equal(rest.auto.backend, 'cpu');
  assert.equal(rest.auto.build, 'simd');
  assert.match(rest.auto.backendReason, /is a software one/);
  assert.equal(rest.autoModel, 'cpu');
  assert.equal(rest.badBackend, 'BAD_OPTION');
  console.log('ok: F16 refused with', rest.unsupported[1].split('\n')[0]);
  console.log(`ok: abort after ${rest.aborted[2]} tokens, next completion equal to native; bench ` +
    rest.bench.map((r) => `${r.test} ${r.avg_ts.toFixed(1)} t/s`).join(', '));
  console.log(`ok: auto on a software adapter: ${rest.auto.build}, ${rest.auto.backendReason}`);
  // The pages: the demo with backend=webgpu, the timing page with the webgpu build.
  await page.goto(`${base}/index.html?model=models/${TINY}&build=simd&backend=webgpu`);
  await page.click('#load-url');
  await page.waitForFunction(() => document.body.dataset.model === 'loaded' || document.getElementById('error').textContent, null, { timeout: 300_000 });
  assert.equal(await page.textContent('#error'), '');
  const status = await page.textContent('#load-status');
  assert.match(status, /build webgpu, 1 thread\(s\); gpu .*software adapter/, status);
  await page.fill('#prompt', 'Hello, browser');
  await page.fill('#max-tokens', '8');
  await page.fill('#temperature', '0');
  await page.click('#generate');
  await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 300_000 });
  assert.equal(await page.textContent('#error'), '');
  const demo = await page.evaluate(() => window.lastCompletion.tokens);
  assert.deepEqual(demo, nativeIds({ file: TINY, prompt: 'Hello, browser', maxTokens: 8 }), 'the demo page on WebGPU');
  await page.goto(`${base}/timing.html?model=models/${TINY}&pp=16&tg=4&reps=1&threads=1&builds=webgpu,simd&autorun=1`);
  await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 300_000 });
  const timing = await page.evaluate(() => ({ rows: window.timingResults, error: window.timingError, notes: window.timingNotes }));
  assert.equal(timing.error, undefined, `timing page failed: ${timing.error}`);
  assert.deepEqual(timing.rows.map((r) => `${r.kernels}/${r.test}`).sort(), ['simd/pp16', 'simd/tg4', 'webgpu/pp16', 'webgpu/tg4']);
  assert.match(timing.notes.webgpu, /software adapter: correctness only/);
  console.log(`ok: demo page on WebGPU; timing page notes: ${JSON.stringify(timing.notes)}`);
  const unexpected = consoleErrors.filter((m) => !/Failed to load resource/.test(m));
  assert.deepEqual(unexpected, [], 'console errors on the page');
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  server.kill();
}
process.exit(failed ? 1 : 0);
