// The timing page: one model download, then `bench` for every selected build
// and thread count (a fresh worker each, as threads are fixed per instance),
// a llama-bench-style table, a bar chart, JSON export, and the wasm/native
// ratio when `fuselm bench -o json` rows for the same file are given.
// Query parameters (model, pp, tg, reps, threads, builds, autorun) let the
// end-to-end test run it unattended; `window.timingResults` holds the rows.
import { Fuselm, BUILDS, buildSupport, chooseBuild } from './pkg/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const cores = navigator.hardwareConcurrency || 1;
$('threads').value = Array.from({ length: cores }, (_, i) => i + 1).join(',');
for (const [param, id] of [['model', 'model-url'], ['pp', 'pp'], ['tg', 'tg'], ['reps', 'reps'], ['threads', 'threads']]) {
  if (params.has(param)) $(id).value = params.get(param);
}
// webgpu only when asked for: on a software adapter its figures are not a GPU's.
const wanted = params.get('builds')?.split(',') ?? BUILDS.filter((b) => b !== 'webgpu');
for (const build of BUILDS) {
  const { ok, why } = buildSupport(build);
  $('builds').insertAdjacentHTML('beforeend',
    `<label><input type="checkbox" id="build-${build}" ${ok && wanted.includes(build) ? 'checked' : ''} ${ok ? '' : 'disabled'}>` +
    ` ${build}${ok ? '' : ` (${why})`}</label>`);
}
// Which build a page with `build: 'auto'` gets here, and why.
const auto = chooseBuild();
$('auto-build').textContent = `auto picks ${auto.build} (${auto.reason})`;
window.autoBuild = auto;

const list = (text) => text.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
let rows = [];

function nativeRows() {
  const text = $('native-json').value.trim();
  if (!text) return [];
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`the native figures are not JSON: ${e.message}`);
  }
}

/// The best native figure for a test at this thread count (or the closest below).
function nativeFor(native, row) {
  const same = native.filter((n) => n.test === row.test && n.n_threads <= row.n_threads);
  same.sort((a, b) => b.n_threads - a.n_threads);
  return same[0];
}

/// The wasm instance's peak memory, and its ratio to the file plus the KV cache
/// (what a loaded model must hold at least).
function memoryCell(r) {
  if (!r.peak_memory_bytes) return '';
  const floor = (r.file_bytes ?? r.model_size) + r.kv_cache_bytes;
  return `${(r.peak_memory_bytes / 2 ** 20).toFixed(0)} MiB (${(r.peak_memory_bytes / floor).toFixed(2)}x file + KV)`;
}

function render() {
  const native = nativeRows();
  const body = $('table').tBodies[0];
  body.innerHTML = '';
  for (const r of rows) {
    const n = nativeFor(native, r);
    const tr = body.insertRow();
    tr.dataset.build = r.kernels;
    for (const cell of [
      r.model, `${(r.model_size / 2 ** 20).toFixed(2)} MiB`, `${(r.model_n_params / 1e6).toFixed(2)} M`, r.kernels,
      r.n_threads, r.test, `${r.avg_ts.toFixed(2)} ± ${r.stddev_ts.toFixed(2)}`,
      n ? `${n.avg_ts.toFixed(2)} (t=${n.n_threads})` : '', n ? `${(r.avg_ts / n.avg_ts).toFixed(2)}x` : '',
      memoryCell(r),
    ]) tr.insertCell().textContent = cell;
  }
  drawChart(native);
}

function drawChart(native) {
  const svg = $('chart');
  const bars = rows.map((r) => ({ label: `${r.test} ${r.kernels} t=${r.n_threads}`, value: r.avg_ts, native: false }));
  const tests = [...new Set(rows.map((r) => r.test))];
  for (const test of tests) {
    for (const n of native.filter((x) => x.test === test)) {
      bars.push({ label: `${test} native t=${n.n_threads}`, value: n.avg_ts, native: true });
    }
  }
  bars.sort((a, b) => a.label.localeCompare(b.label));
  const rowHeight = 20;
  const labelWidth = 230;
  const width = Number(svg.getAttribute('width'));
  const maxByTest = {};
  for (const b of bars) {
    const test = b.label.split(' ')[0];
    maxByTest[test] = Math.max(maxByTest[test] ?? 0, b.value);
  }
  svg.setAttribute('height', bars.length * rowHeight + 10);
  svg.innerHTML = bars.map((b, i) => {
    const w = ((width - labelWidth - 90) * b.value) / maxByTest[b.label.split(' ')[0]];
    const y = i * rowHeight + 4;
    return `<text x="0" y="${y + 13}">${b.label}</text>` +
      `<rect class="bar${b.native ? ' native' : ''}" x="${labelWidth}" y="${y}" width="${w}" height="${rowHeight - 5}"></rect>` +
      `<text x="${labelWidth + w + 6}" y="${y + 13}">${b.value.toFixed(2)} t/s</text>`;
  }).join('');
}

async function modelBlob() {
  const file = $('model-file').files[0];
  if (file) return file;
  const url = $('model-url').value;
  $('status').textContent = `downloading ${url}`;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const blob = await response.blob();
  return new File([blob], decodeURIComponent(url.split('/').pop()));
}

/// One line per build under the table: where it ran and why.
function note(build, text) {
  notes[build] = text;
  $('notes').textContent = Object.entries(notes).map(([b, t]) => `${b}: ${t}`).join('\n');
  window.timingNotes = notes;
}
let notes = {};

async function run() {
  $('error').textContent = '';
  notes = {};
  $('run').disabled = true;
  document.body.dataset.state = 'running';
  rows = [];
  render();
  try {
    const nPrompt = list($('pp').value);
    const nGen = list($('tg').value);
    const repetitions = Number($('reps').value);
    const threadCounts = list($('threads').value);
    const builds = BUILDS.filter((b) => $(`build-${b}`).checked);
    const file = await modelBlob();
    for (const build of builds) {
      for (const threads of build.startsWith('threads') ? threadCounts : [1]) {
        $('status').textContent = `${build}, ${threads} thread(s): loading`;
        const engine = new Fuselm({ build, threads });
        try {
          // Where it runs and why (the WebGPU adapter, or why there is none).
          const ready = await engine.ready.catch((e) => {
            if (e.code !== 'NO_GPU') throw e;
            note(build, `skipped: ${e.message}`);
            return null;
          });
          if (!ready) continue;
          const info = await engine.loadModelFromFile(file);
          note(build, ready.backend === 'webgpu' ? `${info.backendDetail}` : `${ready.backendReason}`);
          $('status').textContent = `${build}, ${threads} thread(s): running`;
          const measured = await engine.bench({ nPrompt, nGen, repetitions });
          rows.push(...measured.map((r) => ({ ...r, file_bytes: file.size })));
          render();
        } finally {
          engine.terminate();
        }
      }
    }
    $('status').textContent = `done: ${rows.length} rows`;
    $('export').disabled = false;
    window.timingResults = rows;
  } catch (e) {
    $('error').textContent = `${e.name}: ${e.message}`;
    window.timingError = e.message;
  } finally {
    $('run').disabled = false;
    document.body.dataset.state = 'done';
  }
}

function exportJson() {
  const doc = { userAgent: navigator.userAgent, hardwareConcurrency: cores, rows, native: nativeRows() };
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
  a.download = 'fuselm-timing.json';
  a.click();
}

$('run').onclick = run;
$('export').onclick = exportJson;
$('native-json').oninput = () => { try { render(); } catch (e) { $('error').textContent = e.message; } };
$('native-file').onchange = async () => {
  $('native-json').value = await $('native-file').files[0].text();
  render();
};
if (params.get('autorun')) run();
