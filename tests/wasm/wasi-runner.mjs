// Cargo runner for wasm32-wasip1 test binaries: runs them under Node's WASI
// with the host file system visible (tests read golden files by absolute path).
// .cargo/config.toml points cargo at it; node needs --experimental-wasi-unstable-preview1
// on older versions only.
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [wasmPath, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: 'preview1',
  args: [wasmPath, ...args],
  env: process.env,
  preopens: { '/': '/' },
  returnOnExit: true,
});
const module = await WebAssembly.compile(readFileSync(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
