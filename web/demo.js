// The demo page: load a model (URL or local file), stream a completion with
// live t/s. Query parameters (model, build, backend, threads) preset the form; the
// end-to-end test drives the page through them and the element ids.
import { Fuselm, defaultBuild, defaultThreads } from './pkg/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
for (const [param, id] of [['model', 'model-url'], ['build', 'build'], ['backend', 'backend'], ['threads', 'threads']]) {
  if (params.has(param)) $(id).value = params.get(param);
}
$('threads').value ||= defaultThreads();

let engine = null;
let running = null; // AbortController of the completion in progress

function showError(e) {
  $('error').textContent = e ? `${e.name}: ${e.message}` : '';
}

function engineFor(build, threads, backend) {
  const r = engine?.requested;
  if (r && r.build === (build === 'auto' ? defaultBuild() : build) && r.threads === threads && r.backend === backend) {
    return engine;
  }
  engine?.terminate();
  engine = new Fuselm({ build, threads, backend });
  return engine;
}

async function load(source) {
  showError(null);
  $('generate').disabled = true;
  const build = $('build').value;
  const backend = $('backend').value;
  const threads = Number($('threads').value) || defaultThreads();
  const progress = $('progress');
  progress.hidden = false;
  const started = performance.now();
  try {
    const e = engineFor(build, threads, backend);
    const ready = await e.ready;
    const onProgress = ({ phase, loaded, total }) => {
      progress.value = total ? loaded / total : 0;
      $('load-status').textContent = `${phase} ${(loaded / 2 ** 20).toFixed(0)} / ${(total / 2 ** 20).toFixed(0)} MiB`;
    };
    const info = typeof source === 'string'
      ? await e.loadModelFromUrl(source, { onProgress })
      : await e.loadModelFromFile(source, { onProgress });
    const seconds = (performance.now() - started) / 1e3;
    $('load-status').textContent =
      `${info.name} (${info.architecture}, ${(info.nParams / 1e6).toFixed(0)}M params) loaded in ${seconds.toFixed(1)} s` +
      ` from ${info.source ?? 'file'}; build ${ready.build}, ${ready.threads} thread(s); ` +
      (info.backend === 'webgpu' ? info.backendDetail : `CPU${backend === 'cpu' ? '' : ` (${info.backendDetail})`}`);
    $('model-info').textContent = JSON.stringify({ ...info, metadata: undefined }, null, 1);
    $('generate').disabled = false;
    document.body.dataset.model = 'loaded';
  } catch (err) {
    showError(err);
    $('load-status').textContent = '';
  } finally {
    progress.hidden = true;
  }
}

async function generate() {
  showError(null);
  $('output').textContent = '';
  $('generate').disabled = true;
  $('stop').disabled = false;
  document.body.dataset.state = 'generating';
  running = new AbortController();
  const started = performance.now();
  let firstToken = null;
  let count = 0;
  const options = {
    maxTokens: Number($('max-tokens').value),
    temperature: Number($('temperature').value),
    seed: Number($('seed').value),
    signal: running.signal,
    onToken: ({ text }) => {
      count += 1;
      firstToken ??= performance.now();
      $('output').textContent += text;
      const decodeSeconds = (performance.now() - firstToken) / 1e3;
      if (count > 1) $('stats').textContent = `${count} tokens, ${((count - 1) / decodeSeconds).toFixed(2)} t/s`;
    },
  };
  const showStats = (result) => {
    const t = result.timings;
    $('stats').textContent =
      `prompt ${t.promptTokens} tokens, ${t.promptTokensPerSecond.toFixed(2)} t/s · ` +
      `generated ${t.generatedTokens} tokens, ${t.decodeTokensPerSecond.toFixed(2)} t/s · ` +
      `first token ${t.firstTokenMs.toFixed(0)} ms · stop: ${result.stopReason} · ` +
      `wall ${((performance.now() - started) / 1e3).toFixed(2)} s`;
    window.lastCompletion = result;
  };
  try {
    const prompt = $('prompt').value;
    const result = $('chat').checked
      ? await engine.createChatCompletion([{ role: 'user', content: prompt }], options)
      : await engine.createCompletion(prompt, options);
    showStats(result);
  } catch (err) {
    // Stop: the completion so far comes with the AbortError.
    if (err.name === 'AbortError' && err.result) showStats(err.result);
    else showError(err);
  } finally {
    running = null;
    $('generate').disabled = false;
    $('stop').disabled = true;
    document.body.dataset.state = 'done';
  }
}

$('load-url').onclick = () => load($('model-url').value);
// Several files: the parts of a split model, in name order (-00001-of-, ...).
$('model-file').onchange = () => {
  const files = [...$('model-file').files].sort((a, b) => (a.name < b.name ? -1 : 1));
  if (files.length) load(files.length === 1 ? files[0] : files);
};
$('generate').onclick = generate;
$('stop').onclick = () => running?.abort();
