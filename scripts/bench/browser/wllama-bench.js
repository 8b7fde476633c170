// wllama (llama.cpp compiled to wasm) measured the way fuselm's `bench` does:
// pp = a prompt of about N tokens evaluated at once, tg = N generated tokens,
// each as llama.cpp's own timings report them, after one warm-up run.
// Query: model, threads, pp, tg, reps, ban (token id ranges to bias to -inf,
// "3-258": random-weight stand-ins emit invalid UTF-8, which wllama cannot return).
import { Wllama } from '/wllama/index.js';

const q = new URLSearchParams(location.search);
const nPrompt = Number(q.get('pp'));
const nGen = Number(q.get('tg'));
const reps = Number(q.get('reps') ?? 3);
const threads = Number(q.get('threads') ?? 1);
const logitBias = {};
for (const range of (q.get('ban') ?? '').split(',').filter(Boolean)) {
  const [from, to] = range.split('-').map(Number);
  for (let id = from; id <= (to ?? from); id++) logitBias[id] = -1e9;
}

function stats(xs) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { avg_ts: mean, stddev_ts: sd, samples_ts: xs };
}

async function main() {
  const wllama = new Wllama({ default: '/wllama/wasm/wllama.wasm' }, { suppressNativeLog: true });
  await wllama.loadModelFromUrl(new URL(q.get('model'), location.href).href, {
    n_threads: threads, n_ctx: 1024, n_batch: 512, n_gpu_layers: 0, useCache: false,
  });
  const rows = [];
  const run = async (i, prompt, maxTokens) => {
    const r = await wllama.createCompletion({
      prompt: `${i} ${prompt}`, max_tokens: maxTokens, temperature: 0, cache_prompt: false,
      ignore_eos: true, logit_bias: logitBias,
    });
    return r.timings;
  };
  if (nPrompt > 0) {
    // A prompt of about nPrompt tokens: words, sized by llama.cpp's own count
    // (wllama has no tokenize call); the row records the count evaluated.
    const words = 'the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches'.split(' ');
    const textOf = (n) => Array.from({ length: n }, (_, i) => words[i % words.length]).join(' ');
    let nWords = nPrompt;
    for (let i = 0; i < 3; i++) {
      const got = (await run(-1, textOf(nWords), 1)).prompt_n;
      if (got === nPrompt) break;
      nWords = Math.max(1, Math.round((nWords * nPrompt) / got));
    }
    const text = textOf(nWords);
    const xs = [];
    let promptN = 0;
    for (let i = 0; i < reps; i++) {
      const t = await run(i, text, 1);
      promptN = t.prompt_n;
      xs.push(t.prompt_per_second);
    }
    rows.push({ test: `pp${nPrompt}`, n_threads: threads, prompt_n: promptN, ...stats(xs) });
  }
  if (nGen > 0) {
    await run(-1, 'Once upon a time', nGen);
    const xs = [];
    for (let i = 0; i < reps; i++) xs.push((await run(i, 'Once upon a time', nGen)).predicted_per_second);
    rows.push({ test: `tg${nGen}`, n_threads: threads, ...stats(xs) });
  }
  await wllama.exit();
  return rows;
}

main().then((rows) => { window.wllamaResults = rows; }, (e) => { window.wllamaError = `${e.name}: ${e.message}`; });
