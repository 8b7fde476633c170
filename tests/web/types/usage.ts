// Every part of the package's API used as its types say (web/npm/index.d.ts, as the build copies it to web/pkg),
// (through the Node.js entry, which has the same types), plus uses the types must refuse (@ts-expect-error: an `any` creeping into the
// types makes those lines fail to compile). scripts/test compiles this with
// tsc and tests/web/api-node.mjs --typed runs the result against the real
// worker, so the types and the code cannot drift apart on these paths.
import {
  BUILDS,
  availableBuilds,
  buildSupport,
  chooseBuild,
  createEngine,
  defaultBuild,
  defaultThreads,
  Fuselm,
  FuselmError,
  modelUrls,
  type AbortErrorWithResult,
  type Build,
  type ChatCompletion,
  type ChatCompletionChunk,
  type Completion,
  type ModelInfo,
} from '../../../web/pkg/node.js';

export async function exercise(model: Uint8Array): Promise<string[]> {
  const seen: string[] = [];
  const builds: Build[] = availableBuilds();
  seen.push(`builds ${BUILDS.length} ${builds.includes(defaultBuild())}`);
  const choice: { build: Build; reason: string } = chooseBuild();
  seen.push(`threads ${defaultThreads(8)} ${defaultThreads(2)} ${choice.build === defaultBuild()} ${buildSupport('threads').ok}`);
  const engine: Fuselm = await createEngine({ build: 'simd', threads: 1, backend: 'cpu' });
  const ready = await engine.ready;
  const where: 'cpu' | 'webgpu' = ready.backend;
  seen.push(`ready ${ready.build} ${where} ${typeof ready.backendReason}`);
  // @ts-expect-error: not a backend
  void (() => createEngine({ backend: 'gpu' }));

  const info: ModelInfo = await engine.loadModelFromBytes(model, { name: 'typed.gguf', onProgress: ({ phase, loaded, total }) => void [phase, loaded, total] });
  seen.push(`loaded ${info.file} ${info.nLayer} ${engine.model?.file}`);
  seen.push(`info ${(await engine.info()).nVocab}`);
  const urls: string[] = modelUrls(new URL('https://models.example/m-00001-of-00003.gguf?sig=1'));
  seen.push(`split ${urls.length} ${urls[2]} ${info.wasmMemoryBytes > info.fileBytes}`);
  const fromFiles: ModelInfo = await engine.loadModelFromFile([new Blob([model.slice()])]);
  seen.push(`files ${fromFiles.file} ${fromFiles.fileBytes === info.fileBytes}`);

  const ids: number[] = await engine.tokenize('Hello', { addSpecial: false });
  const text: string = await engine.detokenize(new Uint32Array(ids));
  const prompt: string = await engine.applyChatTemplate([{ role: 'user', content: 'Hi' }]);
  seen.push(`tokens ${ids.length} ${typeof text} ${prompt.length > 0}`);

  const completion: Completion = await engine.createCompletion('Once', {
    maxTokens: 4, temperature: 0, topK: 40, topP: 0.9, minP: 0.05, repeatPenalty: 1.1, repeatLastN: 64,
    stop: ['\n'], ignoreEos: true, nCtx: 64, cacheType: 'f16', contextShift: false,
    onToken: ({ index, id, text: piece }) => void [index, id, piece],
  });
  seen.push(`completion ${completion.tokens.length} ${completion.stopReason} ${typeof completion.seed} ${completion.timings.decodeTokensPerSecond > 0}`);
  const chatCompletion: Completion = await engine.createChatCompletion([{ role: 'user', content: 'Hi' }], { maxTokens: 2, temperature: 0 });
  seen.push(`chat ${chatCompletion.tokens.length}`);

  const controller = new AbortController();
  try {
    await engine.createCompletion('Once', { maxTokens: 1000, ignoreEos: true, signal: controller.signal, onToken: () => controller.abort('typed') });
  } catch (e) {
    const abort = e as AbortErrorWithResult;
    seen.push(`abort ${abort.name} ${String(abort.cause)} ${abort.result?.stopReason}`);
  }

  const response: ChatCompletion = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0, stop: 'x' });
  seen.push(`openai ${response.object} ${response.choices[0].finish_reason} ${response.usage.completion_tokens} ${response.usage.prompt_tokens_details.cached_tokens >= 0}`);
  const stream: AsyncIterable<ChatCompletionChunk> = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let chunks = 0;
  for await (const chunk of stream) chunks += chunk.choices.length + (chunk.usage ? 1 : 0);
  seen.push(`stream ${chunks}`);

  const rows = await engine.bench({ nPrompt: [4], nGen: [2], repetitions: 1 });
  seen.push(`bench ${rows.map((r) => r.test).join(',')}`);
  try {
    await engine.loadModelFromBytes(new Uint8Array([0x47, 0x47, 0x55, 0x46]), { name: 'cut.gguf' });
  } catch (e) {
    seen.push(`error ${e instanceof FuselmError} ${(e as FuselmError).fatal} ${engine.model}`);
  }
  const cached = await engine.cache.list();
  seen.push(`cache ${Array.isArray(cached)} ${await engine.cache.has('file:///nowhere.gguf', { cacheKey: 'x' })} ${await engine.cache.delete('file:///nowhere.gguf')} ${typeof (await engine.cache.clear())}`);
  await engine.unload();
  engine.terminate();

  // Uses the types refuse.
  // @ts-expect-error: maxTokens is a number
  void (() => engine.createCompletion('x', { maxTokens: '3' }));
  // @ts-expect-error: an unknown build
  void (() => createEngine({ build: 'gpu' }));
  // @ts-expect-error: messages are {role, content}
  void (() => engine.chat.completions.create({ messages: ['hi'] }));
  // @ts-expect-error: a stream is not a ChatCompletion
  void (async (): Promise<ChatCompletion> => engine.chat.completions.create({ messages: [], stream: true }));
  // @ts-expect-error: fetchInit takes no signal
  void (() => engine.loadModelFromUrl('x', { fetchInit: { signal: controller.signal } }));
  // @ts-expect-error: tokenize takes text
  void (() => engine.tokenize(42));
  return seen;
}
