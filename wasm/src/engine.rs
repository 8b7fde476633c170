//! The engine behind the worker: one model at a time, streamed in by chunks,
//! and one completion at a time, stepped token by token.

use fuselm_core::bench::{self, TestRun};
use fuselm_core::generation::{Generation, StopReason};
use fuselm_core::generator::Generator;
use fuselm_core::gguf::split::merge_splits;
use fuselm_core::gguf::stream::{SegmentedFile, StreamedFile, DEFAULT_MAX_SEGMENT};
use fuselm_core::gguf::GgufFile;
use fuselm_core::model::{LoadOptions, Model};
use fuselm_core::session::Session;
// One request at a time in this engine: its passes never overlap on the pool.
use fuselm_core::warm_pool::run_warm;
use fuselm_core::Error;
use self_cell::self_cell;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::args;
use crate::backend::{self, BackendChoice, BackendInfo};
use crate::host::{build_name, coded_error, core_error, internal_error, memory_bytes};
use crate::info;
use crate::options::{self, CompletionOptionsJs, LoadOptionsJs};

/// The file and what borrows from it.
pub(crate) struct Parsed<'a> {
    pub file: GgufFile<'a>,
    pub model: Model<'a>,
    /// Where its forward pass runs.
    pub backend: BackendInfo,
}

// The model borrows its weights from the files' bytes (each file held in
// segments of at most 256 MiB: one wasm32 allocation is at most 2 GiB - 1),
// which live in the same struct; self_cell keeps the two together without
// unsafe code.
self_cell!(
    pub(crate) struct LoadedModel {
        owner: Vec<SegmentedFile>,
        #[not_covariant]
        dependent: Parsed,
    }
);

/// A completion in progress (it runs in the engine's session).
struct Completion {
    generator: Generator,
    /// Bytes of text already handed to JS.
    streamed: usize,
    /// The current step has evaluated its token (its logits may be on their
    /// way from the GPU); the next `step` samples.
    fed: bool,
}

/// A benchmark in progress: its tests, one at a time, and the rows so far.
struct BenchRun {
    tests: std::vec::IntoIter<(String, usize, usize)>,
    current: Option<TestRun>,
    repetitions: usize,
    n_threads: usize,
    rows: Vec<bench::BenchRow>,
}

#[wasm_bindgen]
#[derive(Default)]
pub struct Engine {
    /// The files being streamed in (one, or the files of a split model).
    incoming: Vec<StreamedFile>,
    model: Option<LoadedModel>,
    name: String,
    /// The context and the tokens in it, kept between completions: a prompt
    /// that starts like the previous one (a chat with one more turn) reuses
    /// the cached prefix and evaluates only the rest. Dropped on load, unload
    /// and any error in a step.
    session: Option<Session>,
    completion: Option<Completion>,
    bench: Option<BenchRun>,
}

#[derive(Serialize)]
struct StepEvent<'a> {
    index: usize,
    id: u32,
    text: &'a str,
}

/// `finishCompletion()`. This struct and its timings declare their fields in
/// alphabetical order of the JSON keys: the order they have always been written in.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CompletionResult<'a> {
    stop_reason: &'static str,
    /// The text not yet streamed.
    tail: &'a str,
    text: &'a str,
    timings: CompletionTimings,
    tokens: &'a [u32],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CompletionTimings {
    cached_tokens: usize,
    decode_ms: f64,
    decode_tokens_per_second: f64,
    first_token_ms: f64,
    generated_tokens: usize,
    prompt_ms: f64,
    prompt_tokens: usize,
    prompt_tokens_per_second: f64,
    sample_ms: f64,
}

impl<'a> CompletionResult<'a> {
    /// `streamed`: the bytes of text already handed to JS.
    fn new(g: &'a Generation, streamed: usize) -> Self {
        let t = &g.timings;
        CompletionResult {
            stop_reason: stop_reason_name(g.stop_reason),
            tail: g.text.get(streamed..).unwrap_or(""),
            text: &g.text,
            timings: CompletionTimings {
                cached_tokens: t.cached_tokens,
                decode_ms: t.decode_seconds * 1e3,
                decode_tokens_per_second: t.decode_tokens_per_second(),
                first_token_ms: t.first_token_seconds * 1e3,
                generated_tokens: t.generated_tokens,
                prompt_ms: t.prompt_seconds * 1e3,
                prompt_tokens: t.prompt_tokens,
                prompt_tokens_per_second: t.prompt_tokens_per_second(),
                sample_ms: t.sample_seconds * 1e3,
            },
            tokens: &g.tokens,
        }
    }
}

fn stop_reason_name(r: StopReason) -> &'static str {
    match r {
        StopReason::MaxTokens => "maxTokens",
        StopReason::EndOfGeneration => "endOfGeneration",
        StopReason::StopString => "stopString",
        StopReason::Cancelled => "cancelled",
    }
}

#[wasm_bindgen]
impl Engine {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Starts loading a file of `size` bytes: frees any loaded model. Bytes
    /// go into segments cut between tensors, reserved once the header has
    /// arrived (an error, not a trap, when they do not fit).
    #[wasm_bindgen(js_name = beginLoad)]
    pub fn begin_load(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        size: f64,
    ) -> Result<(), JsValue> {
        let name = args::text(&name, "beginLoad: the file name")?;
        self.unload();
        let file = incoming_file(&name, size, 0)?;
        self.incoming.push(file);
        Ok(())
    }

    /// Adds the next file of a split model to the load begun by `beginLoad`
    /// (which took the first); returns its index for `appendChunk`.
    #[wasm_bindgen(js_name = addFile)]
    pub fn add_file(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        size: f64,
    ) -> Result<u32, JsValue> {
        let name = args::text(&name, "addFile: the file name")?;
        if self.incoming.is_empty() {
            return Err(coded_error("addFile: no load in progress (call beginLoad first)", "BAD_STATE"));
        }
        let before: u64 = self.incoming.iter().map(|f| f.file_len()).sum();
        let file = incoming_file(&name, size, before)?;
        self.incoming.push(file);
        Ok(self.incoming.len() as u32 - 1)
    }

    /// Appends the next chunk of file `file` (default 0, the first); returns
    /// the bytes received so far over all files.
    #[wasm_bindgen(js_name = appendChunk)]
    pub fn append_chunk(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] chunk: JsValue,
        file: Option<u32>,
    ) -> Result<f64, JsValue> {
        let chunk = args::bytes(&chunk, "appendChunk: the chunk")?;
        if self.incoming.is_empty() {
            return Err(coded_error("appendChunk: no load in progress (call beginLoad first)", "BAD_STATE"));
        }
        let index = file.unwrap_or(0) as usize;
        let Some(target) = self.incoming.get_mut(index) else {
            let n = self.incoming.len();
            return Err(coded_error(format!("appendChunk: no file {index} in this load (it has {n})"), "BAD_ARGUMENT"));
        };
        let received = target.receive(chunk.length() as usize, |from, dst| {
            chunk.subarray(from as u32, (from + dst.len()) as u32).copy_to(dst)
        });
        if let Err(e) = received {
            self.incoming.clear();
            return Err(load_error(e));
        }
        Ok(self.incoming.iter().map(|f| f.received()).sum::<u64>() as f64)
    }

    /// Parses the streamed file (or files) and binds the weights to kernels;
    /// returns the model's info as JSON. On error the bytes are freed and the
    /// engine is ready for the next load.
    #[wasm_bindgen(js_name = finishLoad)]
    pub fn finish_load(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] options_json: JsValue,
    ) -> Result<String, JsValue> {
        let options_json = args::text(&options_json, "finishLoad: the load options")?;
        let incoming = std::mem::take(&mut self.incoming);
        let Some(name) = incoming.first().map(|f| f.name().to_string()) else {
            return Err(coded_error("finishLoad: no load in progress (call beginLoad first)", "BAD_STATE"));
        };
        let files =
            incoming.into_iter().map(StreamedFile::finish).collect::<Result<Vec<_>, _>>().map_err(load_error)?;
        let load: LoadOptionsJs = options::parse("load options", &options_json).map_err(bad_option)?;
        let kernel_mode = load.kernel_mode().map_err(bad_option)?;
        let choice: BackendChoice = load.backend.as_deref().unwrap_or("cpu").parse().map_err(bad_option)?;
        let loaded = LoadedModel::try_new(files, |files| -> Result<Parsed<'_>, Error> {
            let parsed = files.iter().map(|f| Ok((f.name.clone(), f.parse()?))).collect::<Result<Vec<_>, Error>>()?;
            let file = merge_splits(parsed)?;
            let mut model = Model::load(&file, LoadOptions { kernel_mode, isa: None }).map_err(|e| e.in_file(&name))?;
            let backend = backend::install(choice, &mut model)?;
            Ok(Parsed { file, model, backend })
        })
        .map_err(core_error)?;
        self.model = Some(loaded);
        self.name = name;
        self.info()
    }

    /// Frees the model, any completion, the session and any partial load.
    pub fn unload(&mut self) {
        self.bench = None;
        self.completion = None;
        self.session = None;
        self.model = None;
        self.incoming.clear();
    }

    #[wasm_bindgen(js_name = isLoaded)]
    pub fn is_loaded(&self) -> bool {
        self.model.is_some()
    }

    /// The loaded model's info as JSON (see `info.rs`).
    pub fn info(&self) -> Result<String, JsValue> {
        let model = self.loaded()?;
        model
            .with_dependent(|_, parsed| {
                info::model_info(&self.name, parsed.file.file_len, &parsed.file, &parsed.model, &parsed.backend)
            })
            .map_err(internal_error)
    }

    /// Token ids of `text` with special-token texts parsed; with
    /// `add_special` (the default) BOS is added where the model wants one.
    pub fn tokenize(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
        add_special: Option<bool>,
    ) -> Result<Vec<u32>, JsValue> {
        let text = args::text(&text, "tokenize: the text")?;
        let model = self.loaded()?;
        Ok(model.with_dependent(|_, parsed| parsed.model.tokenize_prompt(&text, add_special.unwrap_or(true))))
    }

    /// The text of token ids (invalid UTF-8 becomes U+FFFD; ids the
    /// vocabulary lacks and control tokens add nothing).
    pub fn detokenize(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint32Array | number[]")] ids: JsValue,
    ) -> Result<String, JsValue> {
        let ids = args::counts(&ids, "detokenize: the token ids", MAX_DETOKENIZE_IDS)?;
        let model = self.loaded()?;
        Ok(model.with_dependent(|_, parsed| parsed.model.tokenizer.decode(&ids)))
    }

    /// The model's chat template applied to `messages_json` (`[{role,
    /// content}]`), ending where the assistant's reply begins.
    #[wasm_bindgen(js_name = applyChatTemplate)]
    pub fn apply_chat_template(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] messages_json: JsValue,
    ) -> Result<String, JsValue> {
        let json = args::text(&messages_json, "applyChatTemplate: the messages")?;
        let messages = options::parse_messages(&json).map_err(|e| coded_error(e, "BAD_ARGUMENT"))?;
        let model = self.loaded()?;
        model.with_dependent(|_, parsed| parsed.model.chat_prompt(&messages)).map_err(core_error)
    }

    /// Starts a completion: tokenizes the prompt (or applies the chat template
    /// to `options.messages`), keeps the part of the session's cache the
    /// prompt starts with (a new session when the context asked for differs)
    /// and runs the prefill on the rest. Returns the prompt tokens evaluated.
    /// Tokens then come from [`Engine::step`].
    #[wasm_bindgen(js_name = startCompletion)]
    pub fn start_completion(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] prompt: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] options_json: JsValue,
    ) -> Result<usize, JsValue> {
        let prompt = args::text(&prompt, "startCompletion: the prompt")?;
        let options_json = args::text(&options_json, "startCompletion: the completion options")?;
        self.completion = None;
        self.bench = None;
        let options: CompletionOptionsJs = options::parse("completion options", &options_json).map_err(bad_option)?;
        let model = self.model.as_ref().ok_or_else(no_model)?;
        let slot = &mut self.session;
        let completion = model.with_dependent(|_, parsed| -> Result<Completion, JsValue> {
            let m = &parsed.model;
            let text = match options.chat_messages() {
                Some(messages) => m.chat_prompt(&messages).map_err(core_error)?,
                None => prompt,
            };
            // The whole prompt from the start: the session keeps what it shares.
            let tokens = m.tokenize_prompt(&text, true);
            let ctx_options = options.context_options(tokens.len(), m.config.n_ctx_train).map_err(bad_option)?;
            let reusable = slot.as_ref().is_some_and(|s| {
                Some(s.context.n_ctx()) == ctx_options.n_ctx && s.context.cache.kv_type == ctx_options.kv_type
            });
            if !reusable {
                *slot = None;
                *slot = Some(Session::new(m, &ctx_options).map_err(core_error)?);
            }
            let session = slot.as_mut().ok_or_else(|| internal_error("no session"))?;
            let generate = options.generate_options();
            match run_warm(|| Generator::start_reusing(m, session, &tokens, &generate)) {
                Ok(generator) => Ok(Completion { generator, streamed: 0, fed: false }),
                Err(e) => {
                    *slot = None;
                    Err(core_error(e))
                }
            }
        });
        let completion = completion?;
        let n_prompt = completion.generator.timings().prompt_tokens;
        self.completion = Some(completion);
        Ok(n_prompt)
    }

    /// The next token as JSON `{index, id, text}`, `undefined` when the
    /// completion has ended, or, on WebGPU, a Promise: the logits are on
    /// their way; await it and call `step` again.
    #[wasm_bindgen(unchecked_return_type = "string | undefined | Promise<void>")]
    pub fn step(&mut self) -> Result<JsValue, JsValue> {
        let model = self.model.as_ref().ok_or_else(no_model)?;
        let completion =
            self.completion.as_mut().ok_or_else(|| coded_error("step: no completion in progress", "BAD_STATE"))?;
        let slot = &mut self.session;
        if slot.as_mut().is_some_and(|s| backend::read_in_flight(&mut s.context)) {
            // Nothing changes: the Promise the last call returned still stands.
            return Err(coded_error("step: the logits are still on their way (await the last Promise)", "BAD_STATE"));
        }
        let stepped = model.with_dependent(|_, parsed| -> Result<JsValue, JsValue> {
            let session = slot
                .as_mut()
                .ok_or_else(|| coded_error("step: an earlier step failed; start a new completion", "BAD_STATE"))?;
            let generator = &mut completion.generator;
            if !completion.fed {
                if !run_warm(|| generator.feed(&parsed.model, session)).map_err(core_error)? {
                    return Ok(JsValue::UNDEFINED);
                }
                completion.fed = true;
                if let Some(promise) = backend::read_logits(&mut session.context)? {
                    return Ok(promise.into());
                }
            }
            if session.context.logits_pending() {
                backend::take_logits(&mut session.context)?;
                generator.logits_arrived();
            }
            completion.fed = false;
            match generator.sample(&parsed.model, session).map_err(core_error)? {
                Some(event) => {
                    completion.streamed += event.text.len();
                    serde_json::to_string(&StepEvent { index: event.index, id: event.id, text: event.text })
                        .map(|json| JsValue::from_str(&json))
                        .map_err(internal_error)
                }
                None => Ok(JsValue::UNDEFINED),
            }
        });
        if stepped.is_err() {
            // The cache may hold part of a failed evaluation: start over next time.
            *slot = None;
        }
        stepped
    }

    /// Ends the completion at the caller's request.
    pub fn cancel(&mut self) {
        if let Some(c) = self.completion.as_mut() {
            c.generator.cancel();
        }
    }

    /// Ends the completion and returns its result as JSON: token ids, full
    /// text, the text not yet streamed (`tail`), stop reason and timings.
    #[wasm_bindgen(js_name = finishCompletion)]
    pub fn finish_completion(&mut self) -> Result<String, JsValue> {
        let completion = self
            .completion
            .take()
            .ok_or_else(|| coded_error("finishCompletion: no completion in progress", "BAD_STATE"))?;
        let streamed = completion.streamed;
        let generation = completion.generator.finish();
        serde_json::to_string(&CompletionResult::new(&generation, streamed)).map_err(internal_error)
    }

    /// Starts llama-bench's pp/tg measurements on the loaded model; they
    /// run in [`Engine::bench_step`].
    #[wasm_bindgen(js_name = benchStart)]
    pub fn bench_start(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint32Array | number[]")] n_prompt: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint32Array | number[]")] n_gen: JsValue,
        repetitions: usize,
        n_threads: usize,
    ) -> Result<(), JsValue> {
        let n_prompt = lengths(args::counts(&n_prompt, "bench: the prompt lengths", MAX_BENCH_TESTS)?);
        let n_gen = lengths(args::counts(&n_gen, "bench: the generation lengths", MAX_BENCH_TESTS)?);
        if repetitions == 0 {
            return Err(coded_error("bench: repetitions must be at least 1", "BAD_ARGUMENT"));
        }
        self.loaded()?;
        self.completion = None;
        self.bench = Some(BenchRun {
            tests: bench::tests(&n_prompt, &n_gen).into_iter(),
            current: None,
            repetitions,
            n_threads,
            rows: Vec::new(),
        });
        Ok(())
    }

    /// Runs the benchmark begun by `benchStart` until it is done, returning
    /// the rows as JSON (the fields of `fuselm bench -o json`, `kernels`
    /// naming this build), or, on WebGPU, until logits are on their way: a
    /// Promise to await before calling `benchStep` again.
    #[wasm_bindgen(js_name = benchStep, unchecked_return_type = "string | Promise<void>")]
    pub fn bench_step(&mut self) -> Result<JsValue, JsValue> {
        let model = self.model.as_ref().ok_or_else(no_model)?;
        let run = self.bench.as_mut().ok_or_else(|| coded_error("benchStep: no benchmark in progress", "BAD_STATE"))?;
        if run.current.as_mut().and_then(TestRun::context_mut).is_some_and(backend::read_in_flight) {
            return Err(coded_error(
                "benchStep: the logits are still on their way (await the last Promise)",
                "BAD_STATE",
            ));
        }
        let stepped = model.with_dependent(|_, parsed| -> Result<Option<js_sys::Promise>, JsValue> {
            let build = build_name();
            loop {
                if let Some(ctx) = run.current.as_mut().and_then(TestRun::context_mut) {
                    backend::take_logits(ctx)?;
                }
                // Batch after batch in one warm pass, until logits are left
                // on their way (WebGPU) or every test is done.
                let more = run_warm(|| -> Result<bool, Error> {
                    while run.advance(&parsed.file, &parsed.model, &build)? {
                        if run.current.as_mut().and_then(TestRun::context_mut).is_some_and(|c| c.logits_pending()) {
                            return Ok(true);
                        }
                    }
                    Ok(false)
                });
                if !more.map_err(core_error)? {
                    return Ok(None);
                }
                if let Some(ctx) = run.current.as_mut().and_then(TestRun::context_mut) {
                    if let Some(promise) = backend::read_logits(ctx)? {
                        return Ok(Some(promise));
                    }
                }
            }
        });
        match stepped {
            Ok(Some(promise)) => Ok(promise.into()),
            Ok(None) => {
                // The instance's memory after every test, as the host's peak.
                let peak = Some(memory_bytes()).filter(|&b| b > 0);
                let rows: Vec<_> = self.bench.take().map(|r| r.rows).unwrap_or_default();
                let rows: Vec<_> = rows.into_iter().map(|r| bench::BenchRow { peak_memory_bytes: peak, ..r }).collect();
                serde_json::to_string(&rows).map(|json| JsValue::from_str(&json)).map_err(internal_error)
            }
            Err(e) => {
                self.bench = None;
                Err(e)
            }
        }
    }
}

impl BenchRun {
    /// Evaluates the next batch of the benchmark, moving to the next test
    /// (and keeping the finished one's row) as they end; `false` when all have.
    fn advance(&mut self, file: &GgufFile<'_>, model: &Model<'_>, build: &str) -> Result<bool, Error> {
        loop {
            let Some(test) = self.current.as_mut() else {
                match self.tests.next() {
                    Some(test) => self.current = Some(TestRun::new(&test, self.repetitions)),
                    None => return Ok(false),
                }
                continue;
            };
            if test.step(model)? {
                return Ok(true);
            }
            if let Some(done) = self.current.take() {
                self.rows.push(done.row(file, model, build, self.n_threads));
            }
        }
    }
}

impl Engine {
    fn loaded(&self) -> Result<&LoadedModel, JsValue> {
        self.model.as_ref().ok_or_else(no_model)
    }
}

/// The most tests one bench call may list (a handful in practice).
const MAX_BENCH_TESTS: u32 = 1024;

/// The most ids one detokenize call may take: far more than any context.
const MAX_DETOKENIZE_IDS: u32 = 1 << 24;

fn lengths(counts: Vec<u32>) -> Vec<usize> {
    counts.into_iter().map(|n| n as usize).collect()
}

/// A file of `size` bytes to receive, when it can fit in wasm32 memory
/// beside the `before` bytes of the load's other files.
fn incoming_file(name: &str, size: f64, before: u64) -> Result<StreamedFile, JsValue> {
    const ADDRESS_SPACE: f64 = 4294967296.0;
    if !(size.is_finite() && size >= 0.0 && size + before as f64 <= ADDRESS_SPACE) {
        let what = if before > 0 { format!(" (after {before} bytes of other files)") } else { String::new() };
        return Err(coded_error(
            format!("{name}: a {size}-byte file{what} does not fit in wasm32's 4 GiB address space"),
            "MODEL_TOO_LARGE",
        ));
    }
    Ok(StreamedFile::new(name, size as u64, DEFAULT_MAX_SEGMENT))
}

/// A load's error for JavaScript: memory that cannot be had is
/// `MODEL_TOO_LARGE`, the rest keeps the core's code.
fn load_error(e: Error) -> JsValue {
    match e.root() {
        Error::OutOfMemory { .. } => coded_error(&e, "MODEL_TOO_LARGE"),
        _ => core_error(e),
    }
}

fn no_model() -> JsValue {
    coded_error("no model is loaded", "NO_MODEL")
}

fn bad_option(e: impl std::fmt::Display) -> JsValue {
    coded_error(e, "BAD_OPTION")
}
