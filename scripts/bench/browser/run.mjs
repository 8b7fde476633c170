// In-browser benchmark: fuselm's builds (timing page) next to native fuselm
// and wllama (llama.cpp in wasm, npm @wllama/wllama) on the same machine,
// same file, same threads, in the same headless Chromium. Writes the table
// into docs/benchmarks.md between the browser-bench markers and the raw rows
// to target/browser-bench/results.json.
// usage: node scripts/bench/browser/run.mjs [--pp 64] [--tg 16] [--reps 2] [--threads 1,2] MODEL.gguf ...
//        node scripts/bench/browser/run.mjs --from-results   (rewrite the docs from the last results.json)
//        (needs scripts/web/build, a release build, tests/web's npm ci; installs wllama into target/)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(join(root, 'tests', 'web', 'package.json'));
const { chromium } = require('playwright-core');

const args = process.argv.slice(2);
const fromResults = args.includes('--from-results');
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const [value] = args.splice(i, 2).slice(1);
  return value;
};
const pp = Number(opt('pp', '64'));
const tg = Number(opt('tg', '16'));
const reps = Number(opt('reps', '2'));
const threads = opt('threads', '1,2').split(',').map(Number);
const work = join(root, 'target', 'browser-bench');
const WLLAMA = '3.13.0';
if (fromResults) {
  const saved = JSON.parse(readFileSync(join(work, 'results.json'), 'utf8'));
  writeDocs(saved);
} else {
  writeDocs(await measure());
}

async function measure() {
  const models = args.map((m) => resolve(m));
  if (models.length === 0) throw new Error('give one or more GGUF files');

  mkdirSync(work, { recursive: true });
  const wllamaDir = join(work, 'node_modules', '@wllama', 'wllama');
  if (!existsSync(join(wllamaDir, 'package.json')) || JSON.parse(readFileSync(join(wllamaDir, 'package.json'))).version !== WLLAMA) {
    writeFileSync(join(work, 'package.json'), JSON.stringify({ private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', `@wllama/wllama@${WLLAMA}`], { cwd: work, stdio: 'inherit' });
}

const modelDirs = [...new Set(models.map(dirname))];
if (modelDirs.length !== 1) throw new Error('put the models in one directory');
const server = spawn('python3', [join(root, 'scripts', 'web', 'serve'), '--port', '0', '--models', modelDirs[0],
  '--mount', `wllama=${join(wllamaDir, 'esm')}`, '--mount', `bench=${join(root, 'scripts', 'bench', 'browser')}`],
{ stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((ok) => server.stdout.on('data', (d) => {
  const m = /127\.0\.0\.1:(\d+)/.exec(String(d));
  if (m) ok(`http://127.0.0.1:${m[1]}`);
}));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});
const results = [];
const userAgent = await (await browser.newPage()).evaluate(() => navigator.userAgent);
try {
  for (const model of models) {
    const file = basename(model);
    const entry = { file, native: [], fuselm: [], wllama: [] };
    results.push(entry);
    console.log(`== ${file}: native`);
    entry.native = JSON.parse(execFileSync(join(root, 'target', 'release', 'fuselm'),
      ['bench', '-m', model, '-p', String(pp), '-n', String(tg), '-r', String(reps), '-t', threads.join(','), '-o', 'json'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
    console.log(`== ${file}: fuselm in the browser`);
    const page = await browser.newPage();
    await page.goto(`${base}/timing.html?model=models/${file}&pp=${pp}&tg=${tg}&reps=${reps}&threads=${threads.join(',')}&autorun=1`);
    await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 3_600_000, polling: 1000 });
    const timing = await page.evaluate(() => ({ rows: window.timingResults, error: window.timingError }));
    if (timing.error) throw new Error(`timing page: ${timing.error}`);
    entry.fuselm = timing.rows;
    await page.screenshot({ path: join(work, `timing-${file}.png`), fullPage: true });
    await page.close();
    const vocab = JSON.parse(execFileSync(join(root, 'target', 'release', 'fuselm'), ['inspect', '--json', model], { encoding: 'utf8', maxBuffer: 1 << 30 }));
    // Random-weight stand-ins (general.name "synthetic ...") emit byte tokens that are not UTF-8.
    const standIn = /synthetic/i.test(String(vocab.metadata.find?.((m) => m.key === 'general.name')?.value ?? file));
    for (const t of threads) {
      console.log(`== ${file}: wllama ${t} thread(s)`);
      const wpage = await browser.newPage();
      await wpage.goto(`${base}/bench/wllama.html?model=/models/${file}&threads=${t}&pp=${pp}&tg=${tg}&reps=${reps}${standIn ? '&ban=3-258' : ''}`);
      await wpage.waitForFunction(() => window.wllamaResults || window.wllamaError, null, { timeout: 3_600_000, polling: 1000 });
      const w = await wpage.evaluate(() => ({ rows: window.wllamaResults, error: window.wllamaError }));
      if (w.error) throw new Error(`wllama: ${w.error}`);
      entry.wllama.push(...w.rows);
      await wpage.close();
    }
  }
} finally {
  await browser.close();
  server.kill();
}
const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU';
const cores = execFileSync('nproc', { encoding: 'utf8' }).trim();
const saved = { userAgent, cpu, cores, pp, tg, reps, threads, models: models.map((m) => basename(m)), results };
writeFileSync(join(work, 'results.json'), JSON.stringify(saved, null, 2));
return saved;
}

/// Writes the table into docs/benchmarks.md and README.md between the markers.
function writeDocs({ userAgent, cpu, cores, pp, tg, reps, threads, models, results }) {
  // The table: one row per (model, test); t/s mean ± stddev.
  const fmt = (r) => (r ? `${r.avg_ts.toFixed(2)} ± ${r.stddev_ts.toFixed(2)}` : '–');
  const cols = [
    ...threads.map((t) => [`native t=${t}`, (e, test) => e.native.find((r) => r.test === test && r.n_threads === t)]),
    ['scalar', (e, test) => e.fuselm.find((r) => r.test === test && r.kernels === 'scalar')],
    ['simd128', (e, test) => e.fuselm.find((r) => r.test === test && r.kernels === 'simd')],
    ['relaxed', (e, test) => e.fuselm.find((r) => r.test === test && r.kernels === 'relaxed')],
    ...threads.map((t) => [`threads t=${t}`, (e, test) => e.fuselm.find((r) => r.test === test && r.kernels === 'threads' && r.n_threads === t)]),
    ...threads.map((t) => [`threads-relaxed t=${t}`, (e, test) => e.fuselm.find((r) => r.test === test && r.kernels === 'threads-relaxed' && r.n_threads === t)]),
    ...threads.map((t) => [`wllama t=${t}`, (e, test) => e.wllama.find((r) => r.test === test && r.n_threads === t)]),
  ];
  // Best fuselm build at t threads (the one-thread builds count for t = 1),
  // over wllama and over native fuselm at the same t.
  const bestAt = (e, test, t) => Math.max(...e.fuselm.filter((r) => r.test === test && r.n_threads === t).map((r) => r.avg_ts));
  const ratio = (a, b) => (a > 0 && b > 0 ? `${(a / b).toFixed(2)}x` : '–');
  const ratioCols = threads.flatMap((t) => [
    [`fuselm / wllama t=${t}`, (e, test) => ratio(bestAt(e, test, t), e.wllama.find((r) => r.test === test && r.n_threads === t)?.avg_ts)],
    [`wasm / native t=${t}`, (e, test) => ratio(bestAt(e, test, t), e.native.find((r) => r.test === test && r.n_threads === t)?.avg_ts)],
  ]);
  // The largest wasm memory any build reached, over the file plus the KV cache.
  ratioCols.push(['peak wasm memory / (file + KV)', (e, test) => {
    const rows = e.fuselm.filter((r) => r.test === test && r.peak_memory_bytes);
    const worst = Math.max(...rows.map((r) => r.peak_memory_bytes / ((r.file_bytes ?? r.model_size) + r.kv_cache_bytes)));
    return rows.length ? `${worst.toFixed(2)}x` : '–';
  }]);
  let table = `| model | test | ${[...cols, ...ratioCols].map((c) => c[0]).join(' | ')} |\n`;
  table += `| --- | --- | ${[...cols, ...ratioCols].map(() => '---:').join(' | ')} |\n`;
  for (const e of results) {
    for (const test of [`pp${pp}`, `tg${tg}`]) {
      table += `| ${e.file} | ${test} | ${cols.map(([, f]) => fmt(f(e, test))).join(' | ')} | ${ratioCols.map(([, f]) => f(e, test)).join(' | ')} |\n`;
    }
  }
const section = `<!-- browser-bench:begin -->
Generated by \`node scripts/bench/browser/run.mjs --pp ${pp} --tg ${tg} --reps ${reps} --threads ${threads.join(',')} ${models.map((m) => `models/${m}`).join(' ')}\`
on ${cpu} (${cores} cores), headless ${userAgent.match(/(HeadlessChrome|Chrome)\/[\d.]+/)?.[0] ?? 'Chromium'}; t/s, mean ± stddev of ${reps} runs after a warm-up.
Native is \`fuselm bench\` on the same file; fuselm's builds run in the timing page (a fresh worker per build and thread count);
wllama ${WLLAMA} (llama.cpp in wasm: memory64, pthreads, simd128) runs with \`n_gpu_layers: 0\` and reports llama.cpp's own timings.

${table}<!-- browser-bench:end -->`;
const re = /<!-- browser-bench:begin -->[\s\S]*<!-- browser-bench:end -->/;
for (const doc of ['docs/benchmarks.md', 'README.md']) {
  const path = join(root, doc);
  const text = readFileSync(path, 'utf8');
  if (re.test(text)) writeFileSync(path, text.replace(re, section));
  else if (doc.startsWith('docs')) writeFileSync(path, `${text.trimEnd()}\n\n## In the browser\n\n${section}\n`);
}
console.log(table);
}
