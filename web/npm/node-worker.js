// The engine's worker in Node.js: a worker_threads thread dressed as a module
// Web Worker (`self`, postMessage, onmessage, and fetch for the file: URLs
// the wasm builds are loaded from), then worker.js itself. node.js starts it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

globalThis.self = globalThis;
self.postMessage = (message, transfer) => parentPort.postMessage(message, transfer);
self.addEventListener = () => {};
self.removeEventListener = () => {};
globalThis.navigator ??= {};
const nodeFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => {
  const href = String(url instanceof URL ? url.href : url);
  if (!href.startsWith('file:')) return nodeFetch(url, init);
  const bytes = readFileSync(fileURLToPath(href));
  const type = href.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
  return new Response(bytes, { headers: { 'content-type': type, 'content-length': String(bytes.length) } });
};
await import(workerData.url);
parentPort.on('message', (data) => self.onmessage({ data }));
