// A web app that uses the package as an app does: `npm install` of the packed
// tarball into a scratch project, `import { createEngine } from 'fuselm'`,
// built with Vite (from npm), served from Vite's output alone, and run in
// headless Chromium: the bundle must carry the worker, the builds and their
// .wasm files, and generate the native engine's greedy ids.
// usage: node tests/web/bundler.mjs      (after scripts/web/build and a release build)
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const app = join(root, 'target', 'bundler-app');
rmSync(app, { recursive: true, force: true });
mkdirSync(app, { recursive: true });

const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', app, join(root, 'web', 'pkg')], { encoding: 'utf8' }));
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'bundler-app', private: true, type: 'module' }));
execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', join(app, packed[0].filename)], { cwd: app, stdio: 'inherit' });

writeFileSync(join(app, 'index.html'), '<!doctype html><meta charset="utf-8"><title>bundled</title><script type="module" src="./main.js"></script>');
writeFileSync(join(app, 'main.js'), `
import { createEngine } from 'fuselm';
window.run = async (url, prompt) => {
  const engine = await createEngine({ build: 'simd' });
  await engine.loadModelFromUrl(url, { cache: false });
  const result = await engine.createCompletion(prompt, { maxTokens: 16, temperature: 0 });
  engine.terminate();
  return result.tokens;
};
window.ready = true;
`);
await build({
  root: app,
  logLevel: 'warn',
  build: { outDir: join(app, 'dist'), emptyOutDir: true },
  // A module worker that imports its builds lazily: Vite must emit it as ES.
  worker: { format: 'es' },
});
const emitted = readdirSync(join(app, 'dist', 'assets'));
assert.ok(emitted.some((f) => f.endsWith('.wasm')), `no .wasm in the bundle: ${emitted.join(', ')}`);
console.log(`bundler: vite built ${emitted.length} assets (${emitted.filter((f) => f.endsWith('.wasm')).length} .wasm)`);

// The model, served beside the bundle (the app fetches it by URL).
const fuselmBin = join(root, 'target', 'release', 'fuselm');
const tiny = join(root, 'models', 'synth-tiny-q4_k_m.gguf');
if (!existsSync(tiny)) execFileSync(fuselmBin, ['synth', '--shape', 'tiny', '--quant', 'q4_k_m', '-o', tiny], { stdio: 'inherit' });
cpSync(tiny, join(app, 'dist', 'tiny.gguf'));
const prompt = 'Once upon a time';
const native = JSON.parse(execFileSync(fuselmBin, ['generate', '-m', tiny, '-p', prompt, '-n', '16', '--temp', '0', '--json'],
  { encoding: 'utf8', env: { ...process.env, FUSELM_KERNELS: 'exact' } }));

const server = spawn('python3', ['-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', join(app, 'dist')], { stdio: ['ignore', 'pipe', 'pipe'] });
const port = await new Promise((resolve, reject) => {
  const onData = (d) => {
    const m = /port (\d+)/.exec(String(d));
    if (m) resolve(Number(m[1]));
  };
  server.stdout.on('data', onData);
  server.stderr.on('data', onData);
  server.on('exit', (code) => reject(new Error(`the static server exited with ${code}`)));
});
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${port}/index.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 60_000 });
  const tokens = await page.evaluate(([p]) => window.run('tiny.gguf', p), [prompt]);
  assert.deepEqual(tokens, native.tokens, 'the bundled app generates different ids than the native engine');
  assert.deepEqual(errors, []);
  console.log(`bundler: the Vite-built app ran in Chromium; ${tokens.length} ids equal to native`);
} finally {
  await browser.close();
  server.kill();
}
