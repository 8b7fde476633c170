// fuselm in Node.js: the same API as index.js, with the engine's worker on a
// worker_threads thread (node-worker.js) instead of a Web Worker. The simd and
// scalar builds run; the threads build needs Web Workers inside the worker,
// which Node.js does not have.
import { Worker as ThreadWorker } from 'node:worker_threads';
import * as web from './index.js';

export { BUILDS, FuselmError } from './index.js';

/// A Web Worker's interface over a worker_threads thread.
class ThreadAsWebWorker {
  constructor(url) {
    this.thread = new ThreadWorker(new URL('./node-worker.js', import.meta.url), { workerData: { url: String(url) } });
    // The thread keeps the process alive only while requests are unanswered,
    // so a program that is done with its engine can exit without terminate().
    this.pending = 0;
    this.thread.unref();
    this.thread.on('message', (data) => {
      if (data && 'ok' in data && --this.pending === 0) this.thread.unref();
      this.onmessage?.({ data });
    });
    this.thread.on('error', (error) => this.onerror?.(error));
  }
  postMessage(message, transfer) {
    if (message?.op !== 'abort' && this.pending++ === 0) this.thread.ref();
    this.thread.postMessage(message, transfer);
  }
  terminate() {
    this.thread.terminate();
  }
}

const workerFactory = (url) => new ThreadAsWebWorker(url);

/// `simd` (Node.js has no cross-origin isolation to offer the threads build).
export function defaultBuild() {
  return 'simd';
}

export function availableBuilds() {
  return web.BUILDS.filter((b) => b !== 'threads');
}

export class Fuselm extends web.Fuselm {
  constructor(options = {}) {
    super({ ...options, workerFactory });
  }
}

export async function createEngine(options = {}) {
  const engine = new Fuselm(options);
  await engine.ready;
  return engine;
}
