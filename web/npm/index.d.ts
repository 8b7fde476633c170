// Types of the `fuselm` package (index.js).

export type Build = 'threads' | 'simd' | 'scalar';

export const BUILDS: Build[];
export function defaultBuild(): Build;
export function availableBuilds(): Build[];

export class FuselmError extends Error {
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
  /** `auto` (default): `threads` on a cross-origin isolated page, else `simd`. */
  build?: 'auto' | Build;
  /** Threads for the `threads` build; default `navigator.hardwareConcurrency`. */
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
  signal?: AbortSignal;
  /** Kernel set: `auto` (default), `scalar` or `unfused`. */
  kernels?: 'auto' | 'scalar' | 'unfused';
}

export interface ModelInfo {
  file: string;
  fileBytes: number;
  name: string;
  architecture: string;
  build: Build;
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
  promptTokens: number;
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
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

/** One row of `fuselm bench -o json`; `kernels` names the build. */
export interface BenchRow {
  model: string;
  model_size: number;
  model_n_params: number;
  kernels: string;
  n_threads: number;
  test: string;
  n_prompt: number;
  n_gen: number;
  avg_ts: number;
  stddev_ts: number;
  samples_ts: number[];
  /** Decode rows: weight bytes streamed per second (t/s x bytes per token), GB/s. */
  decode_gbs?: number;
}

export function createEngine(options?: EngineOptions): Promise<Fuselm>;

/**
 * One engine in a Web Worker. Calls may overlap: the worker runs them one at a
 * time in the order they were made, and an abort reaches a waiting call at
 * once (it rejects without running).
 */
export class Fuselm {
  constructor(options?: EngineOptions);
  readonly ready: Promise<{ build: Build; threads: number }>;
  build?: Build;
  threads?: number;
  /** The loaded model; null before a load, after a failed one and after unload or a restart. */
  model: ModelInfo | null;
  loadModelFromUrl(url: string | URL, options?: LoadOptions & { cache?: boolean }): Promise<ModelInfo>;
  loadModelFromFile(file: File | Blob, options?: LoadOptions): Promise<ModelInfo>;
  loadModelFromBytes(bytes: ArrayBuffer | Uint8Array, options?: LoadOptions & { name?: string }): Promise<ModelInfo>;
  info(): Promise<ModelInfo>;
  tokenize(text: string): Promise<number[]>;
  /** Rejects with an {@link AbortErrorWithResult} when `options.signal` aborts it. */
  createCompletion(prompt: string, options?: CompletionOptions): Promise<Completion>;
  createChatCompletion(messages: ChatMessage[], options?: CompletionOptions): Promise<Completion>;
  bench(options?: { nPrompt?: number[]; nGen?: number[]; repetitions?: number }): Promise<BenchRow[]>;
  unload(): Promise<void>;
  terminate(): void;
}
