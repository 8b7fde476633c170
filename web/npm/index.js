// fuselm in the browser: the main-thread API. Every call is answered by a Web
// Worker (worker.js) that owns the wasm engine, so the page never blocks.

/// Builds, best first: `threads-relaxed` and `threads` need a cross-origin
/// isolated page; `relaxed` and `threads-relaxed` need relaxed SIMD (Chrome
/// 114+, Firefox 120+); `simd` runs everywhere; `webgpu` (simd128 with the
/// WebGPU backend, one thread) is chosen by the `backend` option, not by
/// `auto`; `scalar` (no simd128, for comparisons) is in the repository's
/// build, not the published package.
export const BUILDS = ['threads-relaxed', 'threads', 'relaxed', 'simd', 'webgpu', 'scalar'];

/// Where the forward pass runs: `cpu` (default), `webgpu`, or `auto`
/// (WebGPU on a hardware adapter, else the CPU build `build` picks).
export const BACKENDS = ['cpu', 'webgpu', 'auto'];

/// A 82-byte module whose one function uses `i32x4.relaxed_dot_i8x16_i7x16_add_s`:
/// it validates exactly where the relaxed builds' kernels can run.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
  253, 12, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  253, 12, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  253, 12, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  253, 147, 2, 11,
]);

/// What this page offers the builds: `isolated` (cross-origin isolation, for
/// threads) and `relaxedSimd` (the engine validates a relaxed-SIMD module).
export function platformFeatures() {
  let relaxedSimd = false;
  try {
    relaxedSimd = WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    // no WebAssembly.validate: the simd build is the fallback
  }
  return { isolated: Boolean(globalThis.crossOriginIsolated), relaxedSimd, webgpu: Boolean(globalThis.navigator?.gpu) };
}

/// Whether `build` can run with `features`, and if not, why.
export function buildSupport(build, features = platformFeatures()) {
  if (!BUILDS.includes(build)) return { ok: false, why: `is not one of ${BUILDS.join(', ')}` };
  if (build.startsWith('threads') && !features.isolated) {
    return { ok: false, why: 'needs cross-origin isolation (COOP same-origin, COEP require-corp)' };
  }
  if (build.endsWith('relaxed') && !features.relaxedSimd) {
    return { ok: false, why: 'needs relaxed SIMD, which this browser does not validate' };
  }
  if (build === 'webgpu' && !features.webgpu) {
    return { ok: false, why: 'needs WebGPU (navigator.gpu), which this browser does not offer' };
  }
  return { ok: true, why: '' };
}

/// The build `auto` picks, and why: the first of `BUILDS` this page can run
/// (threads when cross-origin isolated, relaxed SIMD when validated).
export function chooseBuild(features = platformFeatures()) {
  const build = BUILDS.find((b) => b !== 'scalar' && b !== 'webgpu' && buildSupport(b, features).ok) ?? 'simd';
  const parts = [
    features.isolated ? 'cross-origin isolated: threads' : 'not cross-origin isolated: one thread',
    features.relaxedSimd ? 'relaxed SIMD validates' : 'no relaxed SIMD: simd128 kernels',
  ];
  return { build, reason: parts.join('; ') };
}

/// Threads the threads builds use unless told: half the logical processors
/// from 4 on (two hyperthreads share one core's SIMD units, and the page's own
/// thread needs room; wllama does the same), all of them below that.
export function defaultThreads(logical = globalThis.navigator?.hardwareConcurrency ?? 1) {
  const n = Number.isInteger(logical) && logical > 0 ? logical : 1;
  return n >= 4 ? Math.floor(n / 2) : n;
}

/// The build `auto` picks here.
export function defaultBuild() {
  return chooseBuild().build;
}

/// The builds this page can run.
export function availableBuilds() {
  const features = platformFeatures();
  return BUILDS.filter((b) => buildSupport(b, features).ok);
}

/// The rejection of an aborted call: a DOMException named `AbortError` (as
/// fetch rejects), whose `cause` is the signal's reason; an aborted
/// completion also carries its partial `result` (stopReason `cancelled`).
function abortError(signal, message, extra = {}) {
  return Object.assign(new DOMException(message, 'AbortError'), { cause: signal?.reason }, extra);
}

function absoluteUrl(url) {
  return new URL(url, globalThis.location?.href).href;
}

/// The last part of a URL's path, decoded: the file's name.
function urlName(url) {
  return decodeURIComponent(new URL(url).pathname.split('/').pop() || url);
}

/// The files of a model at `url` (or `url`s): the URL as given, or, when it
/// names the first file of a split model (`name-00001-of-00003.gguf`, as
/// llama-gguf-split writes them), every file of it.
export function modelUrls(url) {
  if (Array.isArray(url)) return url.map(absoluteUrl);
  const first = new URL(absoluteUrl(url));
  const split = /-00001-of-(\d{5})\.gguf$/.exec(first.pathname);
  if (!split) return [first.href];
  const count = Number(split[1]);
  return Array.from({ length: count }, (_, i) => {
    const part = new URL(first.href);
    part.pathname = first.pathname.slice(0, split.index) + `-${String(i + 1).padStart(5, '0')}-of-${split[1]}.gguf`;
    return part.href;
  });
}

/// Asks once that the origin's storage not be evicted under pressure (the
/// browser may decline silently); only a window can ask.
let persistenceRequested = false;
function requestPersistence() {
  if (persistenceRequested) return;
  persistenceRequested = true;
  globalThis.navigator?.storage?.persist?.().catch(() => {});
}

/// A random 32-bit seed: calls sample differently unless a seed is given.
function randomSeed() {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/// Every error of the engine: `code` says what kind of failure it is (the
/// table in docs/troubleshooting.md), `message` what exactly.
export class FuselmError extends Error {
  constructor(message, { fatal = false, code = 'INTERNAL', status } = {}) {
    super(message);
    this.name = 'FuselmError';
    this.code = code;
    /// The HTTP status of an `HTTP_ERROR`.
    if (status !== undefined) this.status = status;
    /// The engine trapped and was restarted; the model must be loaded again.
    this.fatal = fatal;
  }
}

/// Starts an engine in a worker. Options: `build` (`auto`, `threads`, `simd`,
/// `scalar`), `threads` (default [`defaultThreads`]), `workerUrl`.
export async function createEngine(options = {}) {
  const engine = new Fuselm(options);
  await engine.ready;
  return engine;
}

export class Fuselm {
  constructor({ build = 'auto', backend = 'cpu', threads, workerUrl, workerFactory } = {}) {
    if (!BACKENDS.includes(backend)) {
      throw new FuselmError(`unknown backend ${JSON.stringify(backend)}; expected ${BACKENDS.join(', ')}`, { code: 'BAD_OPTION' });
    }
    if (build === 'webgpu') backend = 'webgpu';
    // With a GPU backend `build` is the CPU build to fall back on.
    const chosen = build === 'auto' || build === 'webgpu' ? defaultBuild() : build;
    if (!BUILDS.includes(chosen)) {
      throw new FuselmError(`unknown build ${JSON.stringify(build)}; expected auto, ${BUILDS.join(', ')}`, { code: 'BAD_OPTION' });
    }
    const support = buildSupport(chosen);
    if (!support.ok && chosen !== 'scalar') {
      throw new FuselmError(`the ${chosen} build ${support.why}`, { code: chosen.startsWith('threads') && !globalThis.crossOriginIsolated ? 'NOT_ISOLATED' : 'BAD_OPTION' });
    }
    const nThreads = threads ?? defaultThreads();
    if (!(Number.isInteger(nThreads) && nThreads >= 1)) {
      throw new FuselmError(`threads must be a positive integer, not ${threads}`, { code: 'BAD_OPTION' });
    }
    this.workerUrl = workerUrl;
    this.workerFactory = workerFactory; // node.js: a worker_threads thread
    this.requested = { build: chosen, threads: chosen.startsWith('threads') ? nThreads : 1, backend };
    this.nextId = 1;
    this.calls = new Map();
    /// The loaded model's info; null until a load succeeds.
    this.model = null;
    /// OpenAI's chat API shape: `engine.chat.completions.create({...})`.
    this.chat = { completions: { create: (params) => openAiChat(this, params) } };
    /// The download cache (OPFS): `list()`, `has(url)`, `delete(url)`, `clear()`;
    /// `has` and `delete` take `{ cacheKey }` for a model cached under one.
    const target = (url, { cacheKey } = {}) => ({ url: absoluteUrl(url), cacheKey });
    this.cache = {
      list: () => this.#call('cacheList'),
      has: (url, options) => this.#call('cacheHas', target(url, options)),
      delete: (url, options) => this.#call('cacheDelete', target(url, options)),
      clear: () => this.#call('cacheClear'),
    };
    this.#start();
  }

  #spawn() {
    if (this.workerFactory) return this.workerFactory(this.workerUrl ?? new URL('./worker.js', import.meta.url));
    if (this.workerUrl) return new Worker(this.workerUrl, { type: 'module' });
    // Written out in full so that bundlers (Vite, webpack) find and emit the worker.
    return new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  }

  #start() {
    this.worker = this.#spawn();
    this.worker.onmessage = ({ data }) => this.#receive(data);
    this.worker.onerror = (e) =>
      this.#failAll(new FuselmError(`the engine's worker failed: ${e.message ?? 'unknown error'}`, { fatal: true, code: 'ENGINE_CRASHED' }));
    /// Resolves to `{build, threads, backend, backendReason}`: what this
    /// engine actually runs, and why on that backend.
    this.ready = this.#call('init', this.requested).then((r) => {
      this.build = r.build;
      this.threads = r.threads;
      this.backend = r.backend;
      this.backendReason = r.backendReason;
      return r;
    });
  }

  #receive(message) {
    const call = this.calls.get(message.id);
    if (!call) return;
    if (message.event) {
      call.onEvent?.(message.event, message.data);
      return;
    }
    this.calls.delete(message.id);
    if (message.loaded === false) this.model = null;
    if (message.ok && message.result?.stopReason === 'cancelled' && call.signal?.aborted) {
      call.reject(abortError(call.signal, 'the completion was aborted', { result: message.result }));
    } else if (message.ok) {
      call.resolve(message.result);
    } else if (message.name === 'AbortError') {
      call.reject(abortError(call.signal, message.error));
    } else {
      const error = new FuselmError(message.error, { fatal: message.fatal, code: message.code, status: message.status });
      if (message.fatal) this.#restart();
      call.reject(error);
    }
  }

  #failAll(error) {
    for (const call of this.calls.values()) call.reject(error);
    this.calls.clear();
  }

  /// After a trap the worker is replaced by a fresh one (without a model).
  #restart() {
    this.worker.terminate();
    this.model = null;
    this.#failAll(new FuselmError('the engine was restarted after an error; load the model again', { fatal: true, code: 'ENGINE_CRASHED' }));
    this.#start();
  }

  /// Sends one request. The worker runs requests one at a time in the order
  /// they were sent; an abort reaches a waiting request at once.
  #call(op, args, { onEvent, signal, transfer } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.terminated) {
        reject(new FuselmError('the engine was terminated', { code: 'TERMINATED' }));
        return;
      }
      if (signal?.aborted) {
        reject(abortError(signal, `${op} was aborted before it started`));
        return;
      }
      const onAbort = () => this.worker.postMessage({ op: 'abort', target: id });
      signal?.addEventListener('abort', onAbort, { once: true });
      // The listener goes when the call ends, however it ends.
      const settle = (fn) => (value) => {
        signal?.removeEventListener('abort', onAbort);
        fn(value);
      };
      this.calls.set(id, { resolve: settle(resolve), reject: settle(reject), onEvent, signal });
      this.worker.postMessage({ id, op, args }, transfer ?? []);
    });
  }

  async #load(op, args, { onProgress, onWarning, signal, kernels } = {}) {
    await this.ready;
    const warn = onWarning ?? ((w) => console.warn(`fuselm: ${w.message}`));
    const onEvent = (event, data) => (event === 'progress' ? onProgress?.(data) : event === 'warning' && warn(data));
    // A failed load's reply says whether a model is still loaded (#receive).
    const info = await this.#call(op, { ...args, load: kernels ? { kernels } : {} }, { onEvent, signal });
    this.model = info;
    return info;
  }

  /// Downloads a GGUF file with progress and loads it. The file is cached in
  /// the Origin Private File System, so a second load reads it from there
  /// (`info.source` says which); `cache: false` skips the cache. `cacheKey`
  /// names the cached copy instead of the URL (for signed URLs that change);
  /// `fetchInit` goes to fetch (headers, credentials). When the cache cannot
  /// take the file (quota), the load goes on uncached and `onWarning` (default:
  /// console.warn) says so.
  ///
  /// A model split in several files (`name-00001-of-00003.gguf`, as
  /// llama-gguf-split writes them) loads from the URL of its first file, or
  /// from an array of every file's URL: the files download in parallel, each
  /// into memory of its own, so models past 2 GiB fit in wasm32's 4 GiB.
  loadModelFromUrl(url, { onProgress, onWarning, signal, cache = true, cacheKey, fetchInit, kernels } = {}) {
    const parts = modelUrls(url).map((href) => ({ url: href, name: urlName(href) }));
    if (cache) requestPersistence();
    const init = fetchInit && { ...fetchInit, headers: fetchInit.headers && Object.fromEntries(new Headers(fetchInit.headers)), signal: undefined };
    return this.#load('loadUrl', { parts, cache, cacheKey, fetchInit: init }, { onProgress, onWarning, signal, kernels });
  }

  /// Loads a local `File` (from an <input type=file> or drag and drop), or
  /// every file of a split model in order.
  loadModelFromFile(file, { onProgress, signal, kernels } = {}) {
    return this.#load('loadFile', { files: Array.isArray(file) ? file : [file] }, { onProgress, signal, kernels });
  }

  /// Loads a model from bytes (an ArrayBuffer or typed array; the buffer is copied).
  loadModelFromBytes(bytes, { name = 'model.gguf', onProgress, signal, kernels } = {}) {
    return this.#load('loadBytes', { name, bytes }, { onProgress, signal, kernels });
  }

  /// The loaded model's info (hyperparameters, metadata, formats, kernels).
  async info() {
    await this.ready;
    return this.#call('info');
  }

  /// Token ids of `text` (special-token texts parsed); `addSpecial` (default
  /// true) adds BOS where the model wants one.
  async tokenize(text, { addSpecial = true } = {}) {
    await this.ready;
    return this.#call('tokenize', { text, addSpecial });
  }

  /// The text of token ids.
  async detokenize(ids) {
    await this.ready;
    return this.#call('detokenize', { ids: Array.from(ids ?? []) });
  }

  /// The model's chat template applied to `messages` ([{role, content}]),
  /// ending where the assistant's reply begins: the prompt a chat completion
  /// would process.
  async applyChatTemplate(messages) {
    await this.ready;
    return this.#call('applyChatTemplate', { messages });
  }

  /// Generates a continuation of `prompt`. The engine keeps its KV cache
  /// between calls: a prompt that starts like the previous one (the same
  /// conversation with a new turn) evaluates only what is new
  /// (`timings.cachedTokens` counts the rest). Options: maxTokens, temperature,
  /// topK, topP, minP, repeatPenalty, repeatLastN, seed, stop (strings),
  /// ignoreEos, nCtx, cacheType, contextShift; `onToken({index, id, text})`
  /// for each token; `signal` to abort (the promise then rejects with an
  /// `AbortError` DOMException whose `result` is the completion so far).
  /// Without a `seed` each call draws a random one; `result.seed` says which.
  async createCompletion(prompt, options = {}) {
    await this.ready;
    const { onToken, signal, ...given } = options;
    const rest = { ...given, seed: given.seed ?? randomSeed() };
    const onEvent = (event, data) => event === 'token' && onToken?.(data);
    const releaseTail = (result) => result?.tail && onToken?.({ index: result.tokens.length, id: null, text: result.tail });
    let result;
    try {
      result = await this.#call('complete', { prompt, options: rest }, { onEvent, signal });
    } catch (e) {
      releaseTail(e?.result);
      throw e;
    }
    releaseTail(result);
    return { ...result, seed: rest.seed };
  }

  /// Like createCompletion, with the model's chat template applied to
  /// `messages` ([{role, content}]).
  createChatCompletion(messages, options = {}) {
    return this.createCompletion('', { ...options, messages });
  }

  /// llama-bench's pp/tg measurements; rows carry the fields of `fuselm bench -o json`.
  async bench({ nPrompt = [512], nGen = [128], repetitions = 5 } = {}) {
    await this.ready;
    return this.#call('bench', { nPrompt, nGen, repetitions, threads: this.threads });
  }

  async unload() {
    await this.ready;
    this.model = null;
    return this.#call('unload');
  }

  /// Stops the worker; the engine cannot be used afterwards.
  terminate() {
    this.terminated = true;
    this.worker.terminate();
    this.model = null;
    this.#failAll(new FuselmError('the engine was terminated', { code: 'TERMINATED' }));
  }
}

// --- OpenAI's chat completions API on top of createChatCompletion.

/// Parameters taken as OpenAI defines them, and extensions fuselm adds.
const OPENAI_PARAMETERS = new Set([
  'messages', 'model', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'stop', 'seed',
  'stream', 'stream_options', 'n', 'user', 'logprobs', 'frequency_penalty', 'presence_penalty',
  // fuselm's own, in the same snake_case:
  'top_k', 'min_p', 'repeat_penalty', 'repeat_last_n', 'ignore_eos', 'signal',
]);

function openAiChat(engine, params) {
  const fail = (message) => Promise.reject(new FuselmError(`chat.completions.create: ${message}`, { code: 'BAD_ARGUMENT' }));
  if (typeof params !== 'object' || params === null) return fail('expected a parameters object');
  const unknown = Object.keys(params).filter((k) => !OPENAI_PARAMETERS.has(k));
  if (unknown.length) return fail(`unsupported parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  const { messages, stop, stream, n, logprobs, frequency_penalty: frequency, presence_penalty: presence } = params;
  if (!Array.isArray(messages)) return fail('messages must be an array of {role, content}');
  if (n !== undefined && n !== 1) return fail(`n must be 1 (one choice per call), not ${n}`);
  if (logprobs) return fail('logprobs are not supported');
  if (frequency || presence) return fail('frequency_penalty and presence_penalty are not supported (repeat_penalty is)');
  const options = {
    maxTokens: params.max_completion_tokens ?? params.max_tokens,
    temperature: params.temperature,
    topP: params.top_p,
    topK: params.top_k,
    minP: params.min_p,
    repeatPenalty: params.repeat_penalty,
    repeatLastN: params.repeat_last_n,
    ignoreEos: params.ignore_eos,
    stop: typeof stop === 'string' ? [stop] : stop ?? undefined,
    seed: params.seed,
  };
  for (const key of Object.keys(options)) if (options[key] === undefined || options[key] === null) delete options[key];
  const base = {
    id: `chatcmpl-${Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('')}`,
    created: Math.floor(Date.now() / 1000),
    model: params.model ?? engine.model?.name ?? 'fuselm',
    system_fingerprint: null,
  };
  if (stream) return Promise.resolve(streamChat(engine, messages, options, params.signal, base, params.stream_options));
  return engine.createChatCompletion(messages, { ...options, signal: params.signal }).then((r) => ({
    ...base,
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: r.text }, finish_reason: finishReason(r), logprobs: null }],
    usage: usage(r),
    timings: r.timings,
  }));
}

function finishReason(result) {
  return result.stopReason === 'maxTokens' ? 'length' : 'stop';
}

function usage(result) {
  const { promptTokens, cachedTokens = 0 } = result.timings;
  const prompt = promptTokens + cachedTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: result.tokens.length,
    total_tokens: prompt + result.tokens.length,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

/// The chunks of a streamed chat completion, OpenAI's shape: first the role,
/// then the text as it is generated, then the finish reason (and usage, with
/// `stream_options.include_usage`). Leaving the loop early aborts the
/// completion; an abort through `signal` ends the iteration with the AbortError.
async function* streamChat(engine, messages, options, signal, base, streamOptions) {
  const chunk = (delta, finish) => ({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] });
  const pending = [];
  let wake = null;
  let settled = false;
  let result = null;
  let failure = null;
  const stopper = new AbortController();
  const forward = () => stopper.abort(signal.reason);
  if (signal?.aborted) forward();
  signal?.addEventListener('abort', forward, { once: true });
  const push = (item) => {
    pending.push(item);
    wake?.();
  };
  const done = engine
    .createChatCompletion(messages, { ...options, signal: stopper.signal, onToken: ({ text }) => text && push(chunk({ content: text }, null)) })
    .then((r) => (result = r), (e) => (failure = e))
    .finally(() => {
      settled = true;
      wake?.();
    });
  try {
    yield chunk({ role: 'assistant', content: '' }, null);
    for (;;) {
      while (pending.length) yield pending.shift();
      if (settled) break;
      await new Promise((resolve) => (wake = resolve));
      wake = null;
    }
    if (failure) throw failure;
    yield chunk({}, finishReason(result));
    if (streamOptions?.include_usage) yield { ...base, object: 'chat.completion.chunk', choices: [], usage: usage(result) };
  } finally {
    signal?.removeEventListener('abort', forward);
    if (!settled) {
      stopper.abort(new DOMException('the stream was closed before it ended', 'AbortError'));
      await done;
    }
  }
}
