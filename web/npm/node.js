// fuselm in Node.js: the same API as index.js, with the engine's worker on a
// worker_threads thread (node-worker.js) instead of a Web Worker. The simd and
// scalar builds run; the threads build needs Web Workers inside the worker,
// which Node.js does not have.
import { Worker as ThreadWorker } from 'node:worker_threads';
import * as web from './index.js';

export { BUILDS, buildSupport, defaultThreads, FuselmError, modelUrls } from './index.js';

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

/// What Node.js offers the builds: never cross-origin isolation (the threads
/// builds need Web Workers inside the worker); relaxed SIMD where V8 ships it
/// (12 and later, Node.js 22+). V8 11 had it behind a flag, and its baseline
/// compiler (Liftoff) there computes `relaxed_dot_i8x16_i7x16_add` wrongly in
/// some register assignments: the relaxed builds are not offered on it.
export function platformFeatures() {
  const v8Major = Number(process.versions.v8.split('.')[0]);
  return { isolated: false, relaxedSimd: v8Major >= 12 && web.platformFeatures().relaxedSimd };
}

/// `relaxed` where V8 ships relaxed SIMD, else `simd`.
export function chooseBuild() {
  return web.chooseBuild(platformFeatures());
}

export function defaultBuild() {
  return chooseBuild().build;
}

export function availableBuilds() {
  const features = platformFeatures();
  return web.BUILDS.filter((b) => web.buildSupport(b, features).ok);
}

export class Fuselm extends web.Fuselm {
  constructor(options = {}) {
    const build = options.build ?? 'auto';
    super({ ...options, build: build === 'auto' ? defaultBuild() : build, workerFactory });
  }
}

export async function createEngine(options = {}) {
  const engine = new Fuselm(options);
  await engine.ready;
  return engine;
}
