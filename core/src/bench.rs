//! llama-bench's measurements, shared by `fuselm bench` and the browser's
//! benchmark entry so both report the same fields: pp (prompt processing of N
//! random tokens in one batch) and tg (generating N tokens one at a time),
//! as t/s mean ± sample standard deviation over repetitions after a warm-up.

use serde::Serialize;

use crate::clock;
use crate::error::{Error, Result};
use crate::gguf::GgufFile;
use crate::model::{Context, ContextOptions, Model};
use crate::sampler::Rng;

/// One row of `fuselm bench -o json` (and of the browser's `bench`).
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct BenchRow {
    pub model: String,
    pub model_size: u64,
    pub model_n_params: u64,
    /// Kernel set (`auto`, `simd`, `scalar`, `unfused`) or, in the browser, the build.
    pub kernels: String,
    /// The CPU kernel tier the matrix products were dispatched to (`avx2`,
    /// `avx512vnni`, `neon-dotprod`, `simd128-relaxed`, ...).
    pub isa: String,
    pub n_threads: usize,
    pub test: String,
    pub n_prompt: usize,
    pub n_gen: usize,
    pub avg_ts: f64,
    pub stddev_ts: f64,
    pub samples_ts: Vec<f64>,
    /// t/s of this row over the same test with `unfused` kernels, same run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speedup_vs_unfused: Option<f64>,
    /// Decode (tg) rows: weight bytes streamed per second, t/s times the
    /// model's bytes per token (`ModelWeights::bytes_per_token`), in GB/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_gbs: Option<f64>,
    /// Decode rows, where the host measured it: memory read bandwidth with
    /// the same threads, in the same process (GB/s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_gbs: Option<f64>,
    /// Bytes of the KV cache one run of this test holds (f16, its context).
    pub kv_cache_bytes: u64,
    /// The host's peak memory after the test, where it measures it (the
    /// browser: the wasm instance's linear memory, which only grows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
}

impl BenchRow {
    /// Decode speed as a share of the bandwidth probe (1.0 = memory speed).
    pub fn bandwidth_share(&self) -> Option<f64> {
        Some(self.decode_gbs? / self.probe_gbs?)
    }
}

/// The tests a pp/tg list asks for, as (name, n_prompt, n_gen); zeros skip.
pub fn tests(n_prompt: &[usize], n_gen: &[usize]) -> Vec<(String, usize, usize)> {
    n_prompt
        .iter()
        .filter(|&&p| p > 0)
        .map(|&p| (format!("pp{p}"), p, 0))
        .chain(n_gen.iter().filter(|&&n| n > 0).map(|&n| (format!("tg{n}"), 0, n)))
        .collect()
}

/// The name rows carry: architecture and `general.name`.
pub fn model_name(file: &GgufFile<'_>, model: &Model<'_>) -> String {
    format!("{} {}", model.config.arch.name(), file.metadata.get_str("general.name").unwrap_or("")).trim().to_string()
}

pub fn mean_stddev(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// One run of a test: `n_prompt` random tokens in one prefill, or `n_gen`
/// single-token steps, in a fresh context just large enough. Timed from its
/// first evaluation to the arrival of its last logits (needs a clock
/// installed with [`clock::set_clock`]).
struct Run {
    ctx: Context,
    tokens: Vec<u32>, // [max(n_prompt, n_gen)] random ids
    n_prompt: usize,
    n_gen: usize,
    /// Batches evaluated so far (the prompt counts as one).
    batches: usize,
    start: f64,
}

impl Run {
    fn new(model: &Model<'_>, n_prompt: usize, n_gen: usize, rng: &mut Rng) -> Result<Run> {
        let n_vocab = model.n_vocab() as u64;
        let n_ctx_train = model.config.n_ctx_train;
        let n_ctx = match n_prompt.checked_add(n_gen) {
            Some(0) => {
                return Err(Error::BadSetting {
                    what: "bench test size",
                    why: "pp 0 and tg 0: nothing to measure".into(),
                })
            }
            Some(n) if n <= n_ctx_train => n,
            _ => {
                return Err(Error::BadSetting {
                    what: "bench test size",
                    why: format!("pp {n_prompt} + tg {n_gen} tokens exceed the model's context of {n_ctx_train}"),
                })
            }
        };
        let ctx = model.new_context(&ContextOptions { n_ctx: Some(n_ctx), ..Default::default() })?;
        let tokens: Vec<u32> = (0..n_prompt.max(n_gen)).map(|_| (rng.next_u64() % n_vocab) as u32).collect();
        Ok(Run { ctx, tokens, n_prompt, n_gen, batches: 0, start: 0.0 })
    }

    fn total_batches(&self) -> usize {
        usize::from(self.n_prompt > 0) + self.n_gen
    }

    /// Evaluates the next batch.
    fn step(&mut self, model: &Model<'_>) -> Result<()> {
        if self.batches == 0 {
            self.start = clock::now();
        }
        let gen_index = self.batches - usize::from(self.n_prompt > 0 && self.batches > 0);
        if self.batches == 0 && self.n_prompt > 0 {
            model.forward(&mut self.ctx, &self.tokens[..self.n_prompt])?;
        } else {
            model.forward(&mut self.ctx, &self.tokens[gen_index..gen_index + 1])?;
        }
        self.batches += 1;
        Ok(())
    }

    /// (t/s, bytes of its KV cache), once every batch has been evaluated.
    fn finish(&self) -> (f64, u64) {
        let seconds = clock::now() - self.start;
        ((self.n_prompt + self.n_gen) as f64 / seconds, self.ctx.cache.bytes())
    }
}

/// One test measured a batch at a time: a warm-up run (not counted), then
/// `repetitions` timed runs. A host whose backend returns logits
/// asynchronously (WebGPU) awaits and hands them in
/// ([`Context::receive_logits`], through [`TestRun::context_mut`]) between steps.
pub struct TestRun {
    test: (String, usize, usize),
    repetitions: usize,
    rng: Rng,
    run: Option<Run>,
    /// Runs finished, the warm-up included.
    finished: usize,
    samples: Vec<f64>,
    kv_cache_bytes: u64,
}

impl TestRun {
    pub fn new(test: &(String, usize, usize), repetitions: usize) -> TestRun {
        TestRun {
            test: test.clone(),
            repetitions,
            rng: Rng::new(1234),
            run: None,
            finished: 0,
            samples: Vec::new(),
            kv_cache_bytes: 0,
        }
    }

    /// The timed repetition the next step starts, if it starts one (it
    /// closes a run that has evaluated every batch first).
    pub fn starts_repetition(&self) -> Option<usize> {
        let closing = self.run.as_ref().is_none_or(|r| r.batches == r.total_batches());
        let finished = self.finished + usize::from(self.run.is_some() && closing);
        (closing && finished >= 1 && finished <= self.repetitions).then(|| finished - 1)
    }

    /// Evaluates the next batch (closing a finished run first); `false` once
    /// every repetition has been timed.
    pub fn step(&mut self, model: &Model<'_>) -> Result<bool> {
        if let Some(run) = self.run.as_ref().filter(|r| r.batches == r.total_batches()) {
            let (ts, bytes) = run.finish();
            if self.finished > 0 {
                self.samples.push(ts);
            }
            self.kv_cache_bytes = bytes;
            self.finished += 1;
            self.run = None;
        }
        if self.finished > self.repetitions {
            return Ok(false);
        }
        let run = match &mut self.run {
            Some(run) => run,
            None => self.run.insert(Run::new(model, self.test.1, self.test.2, &mut self.rng)?),
        };
        run.step(model)?;
        Ok(true)
    }

    /// The current run's context (to hand in pending logits).
    pub fn context_mut(&mut self) -> Option<&mut Context> {
        self.run.as_mut().map(|r| &mut r.ctx)
    }

    /// The row, once [`TestRun::step`] has returned `false`.
    pub fn row(self, file: &GgufFile<'_>, model: &Model<'_>, kernels: &str, n_threads: usize) -> BenchRow {
        let (test, n_prompt, n_gen) = self.test;
        let (avg_ts, stddev_ts) = mean_stddev(&self.samples);
        BenchRow {
            model: model_name(file, model),
            model_size: file.total_tensor_bytes(),
            model_n_params: file.total_elements(),
            kernels: kernels.to_string(),
            isa: model.weights.output.kernel.isa.name().to_string(),
            n_threads,
            test,
            n_prompt,
            n_gen,
            avg_ts,
            stddev_ts,
            samples_ts: self.samples,
            speedup_vs_unfused: None,
            decode_gbs: (n_gen > 0).then(|| avg_ts * model.weights.bytes_per_token() as f64 / 1e9),
            probe_gbs: None,
            kv_cache_bytes: self.kv_cache_bytes,
            peak_memory_bytes: None,
        }
    }
}

/// A warm-up run, then `repetitions` timed runs of one test, as a row.
/// `on_repetition(r)` is called before each timed run (for progress).
#[allow(clippy::too_many_arguments)]
pub fn measure(
    file: &GgufFile<'_>,
    model: &Model<'_>,
    kernels: &str,
    n_threads: usize,
    test: &(String, usize, usize),
    repetitions: usize,
    mut on_repetition: impl FnMut(usize),
) -> Result<BenchRow> {
    let mut run = TestRun::new(test, repetitions);
    loop {
        if let Some(r) = run.starts_repetition() {
            on_repetition(r);
        }
        if !run.step(model)? {
            break;
        }
    }
    Ok(run.row(file, model, kernels, n_threads))
}
