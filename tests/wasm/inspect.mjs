// Smoke test of the wasm build under Node.js: a real model parses, and malformed
// bytes throw a JS Error naming the file and the problem (never a trap).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const wasm = require('../../target/wasm-node/fuselm_wasm.js');

const model = new URL('../../models/SmolLM2-135M-Instruct.Q4_1.gguf', import.meta.url);
if (existsSync(model)) {
  const summary = JSON.parse(wasm.inspectGguf('SmolLM2', readFileSync(model)));
  assert.equal(summary.tensors.length, 272);
  assert.equal(summary.architecture, 'llama');
  console.log(`wasm: SmolLM2 parsed, ${summary.tensors.length} tensors`);
} else {
  console.log('note: models/SmolLM2-135M-Instruct.Q4_1.gguf absent; real-model check skipped');
}

const cases = [
  [new Uint8Array([0x47, 0x47, 0x4d, 0x4c, 3, 0, 0, 0]), /broken\.gguf: not a GGUF file/],
  [new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0]), /broken\.gguf: file is truncated/],
  [new Uint8Array([0x47, 0x47, 0x55, 0x46, 9, 0, 0, 0]), /version 9 is not supported/],
];
for (const [bytes, message] of cases) {
  assert.throws(() => wasm.inspectGguf('broken.gguf', bytes), (e) => e instanceof Error && message.test(e.message));
}
// The module stays usable after an error.
assert.throws(() => wasm.inspectGguf('broken.gguf', new Uint8Array(0)), Error);
console.log('wasm: malformed files throw JS errors with clear messages');
