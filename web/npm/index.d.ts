// Types of the `fuselm` package (index.js).

export type Build = 'threads-relaxed' | 'threads' | 'relaxed' | 'simd' | 'webgpu' | 'scalar';
/** Where the forward pass runs. */
export type Backend = 'cpu' | 'webgpu' | 'auto';
export const BACKENDS: Backend[];

/** Every build, best first. */
export const BUILDS: Build[];
/** What this platform offers the builds. */
export interface PlatformFeatures {
  /** Cross-origin isolated (SharedArrayBuffer), which the threads builds need. */
  isolated: boolean;
  /** navigator.gpu exists, which the webgpu build needs. */
  webgpu?: boolean;
  /** The engine validates relaxed SIMD, which the relaxed builds need. */
  relaxedSimd: boolean;
}
export function platformFeatures(): PlatformFeatures;
/** Whether `build` can run with `features` (default: this page's), and if not, why. */
export function buildSupport(build: Build, features?: PlatformFeatures): { ok: boolean; why: string };
/** The build `auto` picks, and a sentence saying why. */
export function chooseBuild(features?: PlatformFeatures): { build: Build; reason: string };
export function defaultBuild(): Build;
/** Threads the threads builds use unless told: half the logical processors from 4 on, all below. */
export function defaultThreads(logical?: number): number;
export function availableBuilds(): Build[];
/** Absolute URLs of a model's files: every file of a split model when `url` names its first (`-00001-of-00003.gguf`). */
export function modelUrls(url: string | URL | (string | URL)[]): string[];

/** What kind of failure an error is; docs/troubleshooting.md explains each and what to do. */
export type FuselmErrorCode =
  | 'BAD_FILE' // the file is not a GGUF model or is malformed or inconsistent
  | 'UNSUPPORTED_MODEL' // a valid file with an architecture or tensor type fuselm does not run
  | 'MODEL_TOO_LARGE' // the file cannot fit in wasm32's memory
  | 'OUT_OF_MEMORY' // the KV cache or buffers could not be allocated
  | 'NETWORK' // the download failed (offline, refused, CORS)
  | 'HTTP_ERROR' // the server answered with an error status (`status`)
  | 'NOT_ISOLATED' // the threads build on a page without cross-origin isolation
  | 'NO_GPU' // backend 'webgpu' without a WebGPU adapter and device
  | 'GPU_ERROR' // the GPU failed or a model does not fit its limits (backend 'webgpu')
  | 'BAD_OPTION' // an option value (build, threads, sampling, context, kernels)
  | 'BAD_ARGUMENT' // an argument of the wrong type or size, or an unsupported parameter
  | 'BAD_STATE' // calls out of order
  | 'NO_MODEL' // no model is loaded
  | 'CONTEXT_FULL' // the prompt and reply do not fit in the context
  | 'CHAT_TEMPLATE' // the model's chat template failed
  | 'NON_FINITE_LOGITS' // the model produced NaN or infinity (broken weights)
  | 'ENGINE_CRASHED' // the engine trapped and was restarted (`fatal`)
  | 'TERMINATED' // terminate() was called
  | 'INTERNAL'; // a bug: please report it

export class FuselmError extends Error {
  code: FuselmErrorCode;
  /** The HTTP status of an `HTTP_ERROR`. */
  status?: number;
  /** The engine trapped and was restarted; load the model again. */
  fatal: boolean;
}

/**
 * How an aborted call rejects: a `DOMException` named `AbortError` (as fetch
 * rejects), whose `cause` is the signal's reason. An aborted completion also
 * carries what it generated so far (`result.stopReason` is `cancelled`).
 */
export interface AbortErrorWithResult extends DOMException {
  name: 'AbortError';
  cause: unknown;
  result?: Completion;
}

export interface EngineOptions {
  /** `auto` (default): the best build this page runs ([`chooseBuild`]): threads
   * on a cross-origin isolated page, relaxed SIMD where it validates. */
  build?: 'auto' | Build;
  /** `cpu` (default): `build` on the CPU. `webgpu`: the forward pass in
   * WGSL kernels on the page's WebGPU adapter (the webgpu build), failing
   * without one or when a model needs a format the GPU kernels lack. `auto`:
   * WebGPU on a hardware adapter, else `build`; a model the GPU cannot take
   * then runs on the webgpu build's CPU kernels (one thread). `ready` and
   * the model's info say which and why. */
  backend?: Backend;
  /** Threads for the threads builds; default [`defaultThreads`]. */
  threads?: number;
  /** Where worker.js is served from, if not next to index.js. */
  workerUrl?: string | URL;
}

export interface Progress {
  /** `download`, `cache` (reading the cached copy), `read` (a local file or bytes), `load` (parsing). */
  phase: 'download' | 'cache' | 'read' | 'load';
  loaded: number;
  total: number;
}

export interface LoadOptions {
  onProgress?: (progress: Progress) => void;
  /** Something went wrong that did not stop the load (the cache could not take the file); default: console.warn. */
  onWarning?: (warning: { message: string; code: 'CACHE_NOT_WRITTEN' }) => void;
  signal?: AbortSignal;
  /** Kernel set: `auto` (default), `scalar` or `unfused`. */
  kernels?: 'auto' | 'scalar' | 'unfused';
}

export interface UrlLoadOptions {
  /** Keep a copy in the Origin Private File System (default true). */
  cache?: boolean;
  /** Names the cached copy instead of the URL (signed URLs that change between visits). */
  cacheKey?: string;
  /** Passed to fetch: headers, credentials, mode, ... (not signal: use `signal`). */
  fetchInit?: Omit<RequestInit, 'signal' | 'body'>;
}

export interface CachedModel {
  url: string;
  cacheKey: string | null;
  size: number;
  /** Milliseconds since the epoch. */
  cachedAt: number | null;
}

export interface ModelInfo {
  file: string;
  fileBytes: number;
  name: string;
  architecture: string;
  build: Build;
  /** Where this model's forward pass runs. */
  backend: 'cpu' | 'webgpu';
  /** The adapter and the bytes uploaded, or why the model stayed on the CPU. */
  backendDetail: string;
  nParams: number;
  tensorBytes: number;
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nHeadKv: number;
  nCtxTrain: number;
  nVocab: number;
  hasChatTemplate: boolean;
  formats: { type: string; tensors: number; bytes: number }[];
  kernels: { kernel: string; matrices: number }[];
  metadata: Record<string, unknown>;
  /** The wasm instance's memory when the info was taken: its peak so far (it never shrinks). */
  wasmMemoryBytes: number;
  /** loadModelFromUrl only: where the bytes came from. */
  source?: 'network' | 'cache';
}

export interface TokenEvent {
  index: number;
  /** null for the final event that releases held-back text. */
  id: number | null;
  text: string;
}

export interface CompletionOptions {
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  repeatLastN?: number;
  seed?: number;
  stop?: string[];
  ignoreEos?: boolean;
  /** KV cache positions; default prompt + maxTokens (at most the model's context). */
  nCtx?: number;
  cacheType?: 'f16' | 'f32';
  contextShift?: boolean;
  onToken?: (event: TokenEvent) => void;
  signal?: AbortSignal;
}

export interface Timings {
  /** Prompt tokens evaluated by this call. */
  promptTokens: number;
  /** Prompt tokens already in the engine's cache from the previous call (a shared prefix), not evaluated again. */
  cachedTokens: number;
  promptMs: number;
  promptTokensPerSecond: number;
  generatedTokens: number;
  decodeMs: number;
  decodeTokensPerSecond: number;
  firstTokenMs: number;
  sampleMs: number;
}

export interface Completion {
  tokens: number[];
  text: string;
  tail: string;
  stopReason: 'maxTokens' | 'endOfGeneration' | 'stopString' | 'cancelled';
  timings: Timings;
  /** The sampling seed used: the one given, else a random one drawn for this call. */
  seed: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

/** `chat.completions.create`'s parameters: OpenAI's names, plus fuselm's samplers in the same case. */
export interface ChatCompletionParams {
  messages: ChatMessage[];
  /** Echoed in the response; the engine runs the loaded model whatever it says. */
  model?: string;
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string | string[] | null;
  seed?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  /** Only 1. */
  n?: 1;
  user?: string;
  /** Only false. */
  logprobs?: false;
  /** Only 0. */
  frequency_penalty?: 0;
  /** Only 0. */
  presence_penalty?: 0;
  top_k?: number;
  min_p?: number;
  repeat_penalty?: number;
  repeat_last_n?: number;
  /** Keep generating past end-of-generation tokens (llama.cpp's server has it too). */
  ignore_eos?: boolean;
  /** Aborts the call (or ends a stream) with an AbortError. */
  signal?: AbortSignal;
}

export interface ChatCompletionUsage {
  /** The whole prompt, cached part included. */
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string };
    finish_reason: 'stop' | 'length';
    logprobs: null;
  }[];
  usage: ChatCompletionUsage;
  /** fuselm's timings for this call. */
  timings: Timings;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: null;
  /** Empty in the final usage chunk (`stream_options.include_usage`). */
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string };
    finish_reason: 'stop' | 'length' | null;
    logprobs: null;
  }[];
  usage?: ChatCompletionUsage;
}

/** One row of `fuselm bench -o json`; `kernels` names the build. */
export interface BenchRow {
  model: string;
  model_size: number;
  model_n_params: number;
  kernels: string;
  /** The CPU kernel tier the matrix products ran on (`simd128-relaxed`, `simd128`, `scalar`, ...). */
  isa: string;
  n_threads: number;
  test: string;
  n_prompt: number;
  n_gen: number;
  avg_ts: number;
  stddev_ts: number;
  samples_ts: number[];
  /** Decode rows: weight bytes streamed per second (t/s x bytes per token), GB/s. */
  decode_gbs?: number;
  /** Bytes of the KV cache one run of the test holds. */
  kv_cache_bytes: number;
  /** The wasm instance's linear memory after the test (it only grows: the peak). */
  peak_memory_bytes?: number;
}

export function createEngine(options?: EngineOptions): Promise<Fuselm>;

/**
 * One engine in a Web Worker. Calls may overlap: the worker runs them one at a
 * time in the order they were made, and an abort reaches a waiting call at
 * once (it rejects without running).
 */
export class Fuselm {
  constructor(options?: EngineOptions);
  readonly ready: Promise<{ build: Build; threads: number; backend: 'cpu' | 'webgpu'; backendReason: string }>;
  build?: Build;
  threads?: number;
  backend?: 'cpu' | 'webgpu';
  /** Why this engine runs where it does (the adapter, or why not WebGPU). */
  backendReason?: string;
  /** The loaded model; null before a load, after a failed one and after unload or a restart. */
  model: ModelInfo | null;
  /** A split model (`name-00001-of-00003.gguf`) loads from its first file's URL, or from every file's. */
  loadModelFromUrl(url: string | URL | (string | URL)[], options?: LoadOptions & UrlLoadOptions): Promise<ModelInfo>;
  /** The download cache in the Origin Private File System. */
  readonly cache: {
    /** The complete cached models. */
    list(): Promise<CachedModel[]>;
    has(url: string | URL, options?: { cacheKey?: string }): Promise<boolean>;
    /** Whether something was removed. */
    delete(url: string | URL, options?: { cacheKey?: string }): Promise<boolean>;
    /** Removes every cached file (partial ones too); how many. */
    clear(): Promise<number>;
  };
  /** A split model: every file, in order. */
  loadModelFromFile(file: File | Blob | (File | Blob)[], options?: LoadOptions): Promise<ModelInfo>;
  loadModelFromBytes(bytes: ArrayBuffer | Uint8Array, options?: LoadOptions & { name?: string }): Promise<ModelInfo>;
  info(): Promise<ModelInfo>;
  /** Token ids; `addSpecial` (default true) adds BOS where the model wants one. */
  tokenize(text: string, options?: { addSpecial?: boolean }): Promise<number[]>;
  detokenize(ids: ArrayLike<number>): Promise<string>;
  /** The prompt a chat completion of `messages` would process. */
  applyChatTemplate(messages: ChatMessage[]): Promise<string>;
  /** OpenAI's chat completions API; with `stream: true`, an async iterable of chunks. */
  readonly chat: {
    completions: {
      create(params: ChatCompletionParams & { stream?: false }): Promise<ChatCompletion>;
      create(params: ChatCompletionParams & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
    };
  };
  /** Rejects with an {@link AbortErrorWithResult} when `options.signal` aborts it. */
  createCompletion(prompt: string, options?: CompletionOptions): Promise<Completion>;
  createChatCompletion(messages: ChatMessage[], options?: CompletionOptions): Promise<Completion>;
  bench(options?: { nPrompt?: number[]; nGen?: number[]; repetitions?: number }): Promise<BenchRow[]>;
  unload(): Promise<void>;
  terminate(): void;
}
