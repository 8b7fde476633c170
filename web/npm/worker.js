// The engine's Web Worker: owns one wasm instance (one of the builds in
// dist/), streams model bytes into it, and runs completions and benchmarks
// off the main thread. Protocol (index.js is the other side):
//   main → worker  {id, op, args}           ops: init, loadUrl, loadFile, loadBytes (loadUrl and
//                                            loadFile take every file of a split model),
//                                            info, tokenize, detokenize, applyChatTemplate,
//                                            complete, bench, unload,
//                                            cacheList, cacheHas, cacheDelete, cacheClear (these
//                                            run at once, beside the queue);
//                                            run one at a time, in arrival order
//                  {op: 'abort', target}     aborts request `target`
//   worker → main  {id, event, data}         progress, token and warning events
//                  {id, ok: true, result, loaded} | {id, ok: false, error, name, fatal, loaded}
//                  (loaded: whether a model is loaded after the request)

let wasm = null; // the wasm-bindgen module of the chosen build
let engine = null;
let loadBackend = 'cpu'; // the `backend` load option: cpu, webgpu or auto (see init)
let backendReason = ''; // why this worker runs where it does (see init)
let broken = null; // set after a trap: the instance can no longer be trusted
const aborts = new Map(); // request id → AbortController

const CHUNK_BYTES = 8 << 20; // slices of a local file copied into wasm at a time

/// Yields to the event loop without setTimeout's 4 ms clamp, so an abort
/// message can arrive between two tokens.
const channel = new MessageChannel();
const pending = [];
channel.port1.onmessage = () => pending.shift()?.();
const yieldToEvents = () => new Promise((resolve) => {
  pending.push(resolve);
  channel.port2.postMessage(null);
});

function post(id, event, data) {
  self.postMessage({ id, event, data });
}

/// An Error with a `code` (see FuselmError in index.js).
function coded(message, code, extra = {}) {
  return Object.assign(new Error(message), { code }, extra);
}

/// Runs a call into wasm; a trap (a panic, or an allocation the engine could
/// not survive) marks this instance broken and becomes an Error saying why.
/// The engine's own errors carry their `code` already.
function guard(fn) {
  if (broken) throw coded(broken, 'ENGINE_CRASHED', { fatal: true });
  try {
    return fn();
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      const panic = wasm.lastPanic?.();
      broken = panic
        ? `fuselm panicked (a bug, please report it): ${panic}`
        : `the wasm engine trapped (${e.message}); it most likely ran out of memory`;
      throw coded(broken, 'ENGINE_CRASHED', { fatal: true });
    }
    throw e instanceof Error ? e : coded(String(e), 'INTERNAL');
  }
}

/// The builds. The four a page runs are imported by literal paths so that
/// bundlers emit them; the scalar one (no simd128, for comparisons on the
/// timing page) is left out of the published package and of bundles, so its
/// path is computed (bundlers leave such an import alone).
const SCALAR_MODULE = './dist/scalar/fuselm.js';
const BUILD_MODULES = {
  'threads-relaxed': () => import('./dist/threads-relaxed/fuselm.js'),
  threads: () => import('./dist/threads/fuselm.js'),
  relaxed: () => import('./dist/relaxed/fuselm.js'),
  simd: () => import('./dist/simd/fuselm.js'),
  webgpu: () => import('./dist/webgpu/fuselm.js'),
  scalar: () =>
    import(/* @vite-ignore */ /* webpackIgnore: true */ new URL(SCALAR_MODULE, import.meta.url).href).catch((e) => {
      throw coded(`the scalar build is not here (the published package leaves it out; scripts/web/build writes it): ${e?.message ?? e}`, 'BAD_OPTION');
    }),
};

/// The webgpu build with its adapter and device, or why there is none.
async function findGpu() {
  if (!self.navigator?.gpu) return { why: 'this browser offers no WebGPU (navigator.gpu is missing)' };
  try {
    const module = await BUILD_MODULES.webgpu();
    await module.default();
    // The adapter's name as the browser gives it (wgpu's can be empty).
    const info = (await self.navigator.gpu.requestAdapter())?.info;
    const label = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ');
    return { module, ...JSON.parse(await module.requestGpu(label || undefined)) };
  } catch (e) {
    return { why: e?.message ?? String(e) };
  }
}

/// `backend`: `cpu` runs `build`; `webgpu` runs the webgpu build on the
/// page's adapter or fails; `auto` takes WebGPU on a hardware adapter and
/// otherwise `build`, saying why.
async function init({ build, threads, backend = 'cpu' }) {
  if (!Object.hasOwn(BUILD_MODULES, build)) {
    throw coded(`unknown build ${JSON.stringify(build)}; expected ${Object.keys(BUILD_MODULES).join(', ')}`, 'BAD_OPTION');
  }
  backendReason = 'the CPU backend was asked for';
  loadBackend = 'cpu';
  if (backend !== 'cpu') {
    const gpu = await findGpu();
    if (gpu.module && (backend === 'webgpu' || !gpu.software)) {
      wasm = gpu.module;
      build = 'webgpu';
      // A model with a tensor format the GPU kernels lack: an error when
      // WebGPU was asked for, the webgpu build's CPU kernels with auto.
      loadBackend = backend;
      backendReason = `WebGPU adapter ${gpu.adapter}${gpu.software ? ' (a software adapter: correctness only, not GPU speed)' : ''}`;
    } else if (backend === 'webgpu') {
      throw coded(`WebGPU is not available: ${gpu.why}`, 'NO_GPU');
    } else {
      backendReason = `CPU: ${gpu.why ?? `the only WebGPU adapter, ${gpu.adapter}, is a software one`}`;
    }
  }
  if (build !== 'webgpu') {
    wasm = await BUILD_MODULES[build]();
    await wasm.default();
  }
  const threaded = build.startsWith('threads');
  if (threaded) {
    if (!self.crossOriginIsolated) {
      throw coded('the threads build needs a cross-origin isolated page (COOP same-origin, COEP require-corp)', 'NOT_ISOLATED');
    }
    await wasm.initThreadPool(threads);
  }
  engine = new wasm.Engine();
  return { build: wasm.buildName(), threads: threaded ? threads : 1, backend: build === 'webgpu' ? 'webgpu' : 'cpu', backendReason };
}

/// Feeds the files of a model into the engine with progress, then loads.
/// `parts`: [{name, size, reader, sink}], one per file (several for a split
/// model, read in parallel; each goes into segments of its own in wasm memory).
/// `stop` ends the other readers when one fails.
async function loadParts(id, { parts, signal, phase, load, stop }) {
  const total = parts.reduce((n, p) => n + p.size, 0);
  guard(() => engine.beginLoad(parts[0].name, parts[0].size));
  let loaded = 0;
  let lastReport = 0;
  let failed = false;
  const pump = async ({ reader, sink }, index) => {
    for (;;) {
      if (signal.aborted) throw new DOMException('loading was aborted', 'AbortError');
      if (failed) return;
      const { done, value } = await reader.read();
      if (done || failed) return;
      loaded = guard(() => engine.appendChunk(value, index));
      if (sink) await sink.write(value);
      const now = performance.now();
      if (now - lastReport > 50) {
        lastReport = now;
        post(id, 'progress', { phase, loaded, total });
      }
    }
  };
  try {
    for (const part of parts.slice(1)) guard(() => engine.addFile(part.name, part.size));
    await Promise.all(
      parts.map((part, index) =>
        pump(part, index).catch((e) => {
          failed = true;
          stop?.();
          throw e;
        }),
      ),
    );
  } catch (e) {
    guard(() => engine.unload());
    throw e;
  }
  post(id, 'progress', { phase, loaded, total });
  post(id, 'progress', { phase: 'load', loaded, total });
  const info = JSON.parse(guard(() => engine.finishLoad(JSON.stringify({ ...load, backend: loadBackend }))));
  // A CPU build chosen at init: the model's info says why, as the engine would.
  if (loadBackend === 'cpu') info.backendDetail = backendReason;
  return info;
}

/// Local files (or blobs) of a model.
function fileParts(files) {
  return files.map((file, i) => ({ name: file.name ?? (files.length > 1 ? `model-${i + 1}.gguf` : 'model.gguf'), size: file.size, reader: fileReader(file) }));
}

function fileReader(blob) {
  // Blob.stream() hands out small chunks; larger slices mean fewer copies' overhead.
  let offset = 0;
  return {
    async read() {
      if (offset >= blob.size) return { done: true };
      const slice = blob.slice(offset, offset + CHUNK_BYTES);
      offset += slice.size;
      return { done: false, value: new Uint8Array(await slice.arrayBuffer()) };
    },
  };
}

// --- the download cache, in the Origin Private File System: per model a
// `<key>.gguf` and, once the download is complete, a `<key>.json` with its URL,
// size and time; the key is a hash of the URL or of an explicit cache key.

async function cacheDir() {
  if (!navigator.storage?.getDirectory) return null;
  try {
    const root = await navigator.storage.getDirectory();
    return await root.getDirectoryHandle('fuselm-models', { create: true });
  } catch {
    return null;
  }
}

/// The file key of a model: its explicit cache key, else its URL, hashed.
async function cacheKey({ url, cacheKey: explicit }) {
  const text = explicit != null ? `key:${explicit}` : String(url);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('').slice(0, 32);
}

async function readMeta(dir, key) {
  try {
    return JSON.parse(await (await (await dir.getFileHandle(`${key}.json`)).getFile()).text());
  } catch {
    return null;
  }
}

/// The cached file for `key`, when a complete copy is there.
async function cachedFile(dir, key) {
  const meta = await readMeta(dir, key);
  if (!meta) return null;
  try {
    const file = await (await dir.getFileHandle(`${key}.gguf`)).getFile();
    return file.size === meta.size ? file : null;
  } catch {
    return null;
  }
}

async function removeEntries(dir, key) {
  let removed = false;
  for (const name of [`${key}.json`, `${key}.gguf`]) {
    try {
      await dir.removeEntry(name);
      removed = true;
    } catch {
      // absent
    }
  }
  return removed;
}

/// Writes a download into the cache as it arrives. A write that fails (the
/// storage quota, most often) abandons the cached copy with a warning and the
/// load goes on uncached; an aborted or failed download leaves nothing behind.
class CacheWriter {
  static async open(dir, key, warn) {
    try {
      const writable = await (await dir.getFileHandle(`${key}.gguf`, { create: true })).createWritable();
      return new CacheWriter(dir, key, writable, warn);
    } catch (e) {
      warn(`the model is not cached: ${e?.message ?? e}`);
      return null;
    }
  }

  constructor(dir, key, writable, warn) {
    Object.assign(this, { dir, key, writable, warn });
  }

  async write(chunk) {
    if (!this.writable) return;
    try {
      await this.writable.write(chunk);
    } catch (e) {
      this.warn(`the model is not cached: ${e?.name === 'QuotaExceededError' ? 'the storage quota is full' : e?.message ?? e}`);
      await this.abandon();
    }
  }

  /// Keeps the copy and marks it complete.
  async commit(meta) {
    if (!this.writable) return;
    try {
      await this.writable.close();
      this.writable = null;
      const handle = await (await this.dir.getFileHandle(`${this.key}.json`, { create: true })).createWritable();
      await handle.write(JSON.stringify(meta));
      await handle.close();
    } catch (e) {
      this.warn(`the model is not cached: ${e?.name === 'QuotaExceededError' ? 'the storage quota is full' : e?.message ?? e}`);
      await this.abandon();
    }
  }

  /// Discards what was written.
  async abandon() {
    const writable = this.writable;
    this.writable = null;
    await writable?.abort().catch(() => {});
    await removeEntries(this.dir, this.key);
  }
}

/// Where the bytes of one file of a model come from: the cache, or a
/// download written into the cache as it arrives.
async function openUrl(id, { url, name, cacheKey: explicit, dir, fetchInit }, signal) {
  const warn = (message) => post(id, 'warning', { message, code: 'CACHE_NOT_WRITTEN' });
  const key = dir && (await cacheKey({ url, cacheKey: explicit }));
  const cached = dir && (await cachedFile(dir, key));
  if (cached) return { name, size: cached.size, reader: fileReader(cached), source: 'cache' };
  let response;
  try {
    response = await fetch(url, { ...fetchInit, signal });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    throw coded(`${url}: the download failed: ${e?.message ?? e}`, 'NETWORK');
  }
  if (!response.ok) throw coded(`${url}: HTTP ${response.status} ${response.statusText}`, 'HTTP_ERROR', { status: response.status });
  const length = Number(response.headers.get('content-length'));
  let size = length;
  let reader;
  if (length > 0 && !response.headers.get('content-encoding')) {
    reader = response.body.getReader();
  } else {
    // Without a usable length the engine cannot plan the file's memory up front.
    const blob = await response.blob();
    size = blob.size;
    reader = fileReader(blob);
  }
  const sink = dir && (await CacheWriter.open(dir, key, warn));
  const meta = { url, cacheKey: explicit ?? null, size };
  return { name, size, reader, sink, meta, source: 'network' };
}

/// Downloads a model (one file, or the files of a split model in parallel)
/// and loads it; each file is cached on its own.
async function loadUrl(id, { parts: urls, cache, cacheKey: explicit, fetchInit, load }, signal) {
  const dir = cache === false ? null : await cacheDir();
  // One controller for every download: a failure in one stops the others.
  const downloads = new AbortController();
  const onAbort = () => downloads.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const parts = [];
  try {
    for (const [i, { url, name }] of urls.entries()) {
      const key = explicit != null && urls.length > 1 ? `${explicit}#${i + 1}-of-${urls.length}` : explicit;
      parts.push(await openUrl(id, { url, name, cacheKey: key, dir, fetchInit }, downloads.signal));
    }
    const source = parts.every((p) => p.source === 'cache') ? 'cache' : 'network';
    const info = await loadParts(id, { parts, signal, phase: source === 'cache' ? 'cache' : 'download', load, stop: () => downloads.abort() });
    for (const p of parts) await p.sink?.commit({ ...p.meta, cachedAt: Date.now() });
    return { ...info, source };
  } catch (e) {
    downloads.abort();
    for (const p of parts) await p.sink?.abandon();
    throw e;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/// The complete cached models: [{url, cacheKey, size, cachedAt}].
async function cacheList() {
  const dir = await cacheDir();
  if (!dir) return [];
  const entries = [];
  for await (const name of dir.keys()) {
    if (!name.endsWith('.json')) continue;
    const key = name.slice(0, -'.json'.length);
    const meta = await readMeta(dir, key);
    if (meta && (await cachedFile(dir, key))) entries.push({ url: meta.url, cacheKey: meta.cacheKey ?? null, size: meta.size, cachedAt: meta.cachedAt ?? null });
  }
  return entries;
}

const cacheOps = {
  cacheList,
  cacheHas: async (id, target) => {
    const dir = await cacheDir();
    return Boolean(dir && (await cachedFile(dir, await cacheKey(target))));
  },
  cacheDelete: async (id, target) => {
    const dir = await cacheDir();
    return Boolean(dir && (await removeEntries(dir, await cacheKey(target))));
  },
  /// Removes every file of the cache, partial ones included; returns how many.
  cacheClear: async () => {
    const dir = await cacheDir();
    if (!dir) return 0;
    const names = [];
    for await (const name of dir.keys()) names.push(name);
    for (const name of names) await dir.removeEntry(name).catch(() => {});
    return names.length;
  },
};

async function complete(id, { prompt, options }, signal) {
  const { onToken, ...rest } = options ?? {};
  guard(() => engine.startCompletion(prompt ?? '', JSON.stringify(rest)));
  let lastYield = performance.now();
  for (;;) {
    if (signal.aborted) {
      guard(() => engine.cancel());
      break;
    }
    let step = guard(() => engine.step());
    // WebGPU: the logits are on their way (a buffer maps only once this
    // worker's event loop turns); step again once they are here.
    while (step instanceof Promise) {
      await step;
      step = guard(() => engine.step());
    }
    if (step === undefined) break;
    post(id, 'token', JSON.parse(step));
    // Yield at least every 30 ms, so an abort message gets through.
    if (performance.now() - lastYield > 30) {
      await yieldToEvents();
      lastYield = performance.now();
    }
  }
  return JSON.parse(guard(() => engine.finishCompletion()));
}

const ops = {
  init: (id, args) => init(args),
  loadUrl,
  loadFile: (id, { files, load }, signal) => loadParts(id, { parts: fileParts(files), signal, phase: 'read', load }),
  loadBytes: (id, { name, bytes, load }, signal) => {
    const blob = new Blob([bytes]);
    return loadParts(id, { parts: [{ name, size: blob.size, reader: fileReader(blob) }], signal, phase: 'read', load });
  },
  info: () => JSON.parse(guard(() => engine.info())),
  tokenize: (id, { text, addSpecial }) => Array.from(guard(() => engine.tokenize(text, addSpecial))),
  detokenize: (id, { ids }) => guard(() => engine.detokenize(ids)),
  applyChatTemplate: (id, { messages }) => guard(() => engine.applyChatTemplate(JSON.stringify(messages ?? null))),
  complete,
  bench: async (id, { nPrompt, nGen, repetitions, threads }, signal) => {
    guard(() => engine.benchStart(new Uint32Array(nPrompt), new Uint32Array(nGen), repetitions, threads));
    for (;;) {
      if (signal.aborted) throw new DOMException('the benchmark was aborted', 'AbortError');
      // The rows (JSON), or on WebGPU a Promise for logits on their way.
      const step = guard(() => engine.benchStep());
      if (!(step instanceof Promise)) return JSON.parse(step);
      await step;
    }
  },
  unload: () => guard(() => engine.unload()),
  ...cacheOps,
};

/// Requests that run at once, beside the queue: they touch the cache, not the engine.
const IMMEDIATE = new Set(Object.keys(cacheOps));

/// Whether a model is loaded now (every final reply says, so the page's
/// `engine.model` stays true after a failed or aborted load).
function isLoaded() {
  try {
    return Boolean(!broken && engine?.isLoaded());
  } catch {
    return false;
  }
}

/// Runs one request and posts its final reply.
async function run({ id, op, args }, controller) {
  try {
    if (controller.signal.aborted) throw new DOMException('aborted before it started', 'AbortError');
    if (!ops[op]) throw coded(`unknown operation ${op}`, 'BAD_ARGUMENT');
    if (op !== 'init' && !IMMEDIATE.has(op) && !engine) throw coded('the engine is not initialised', 'BAD_STATE');
    const result = await ops[op](id, args ?? {}, controller.signal);
    self.postMessage({ id, ok: true, result, loaded: isLoaded() });
  } catch (e) {
    self.postMessage({
      id,
      ok: false,
      error: e?.message ?? String(e),
      name: e?.name,
      code: e?.code ?? (e?.name === 'AbortError' ? undefined : 'INTERNAL'),
      status: e?.status,
      fatal: Boolean(e?.fatal),
      loaded: isLoaded(),
    });
  } finally {
    aborts.delete(id);
  }
}

/// One request at a time: the engine holds one model and one completion, so a
/// second load or completion must not start while another runs (it would
/// unload the model or replace the generator under it). Requests wait in
/// arrival order; an abort reaches a waiting one at once (it then ends with an
/// AbortError without running).
let queue = Promise.resolve();

self.onmessage = ({ data }) => {
  if (data?.op === 'abort') {
    aborts.get(data.target)?.abort();
    return;
  }
  const controller = new AbortController();
  aborts.set(data?.id, controller);
  if (IMMEDIATE.has(data?.op)) run(data, controller);
  else queue = queue.then(() => run(data ?? {}, controller));
};
