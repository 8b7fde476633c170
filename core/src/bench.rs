//! llama-bench's measurements, shared by `fuselm bench` and the browser's
//! benchmark entry so both report the same fields: pp (prompt processing of N
//! random tokens in one batch) and tg (generating N tokens one at a time),
//! as t/s mean ± sample standard deviation over repetitions after a warm-up.

use serde::Serialize;

use crate::clock;
use crate::error::{Error, Result};
use crate::gguf::GgufFile;
use crate::model::{ContextOptions, Model};
use crate::sampler::Rng;

/// One row of `fuselm bench -o json` (and of the browser's `bench`).
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct BenchRow {
    pub model: String,
    pub model_size: u64,
    pub model_n_params: u64,
    /// Kernel set (`auto`, `simd`, `scalar`, `unfused`) or, in the browser, the build.
    pub kernels: String,
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

/// One timed run in t/s (needs a clock installed with [`clock::set_clock`]):
/// `n_prompt` random tokens in one prefill, or `n_gen` single-token steps, in
/// a fresh context just large enough.
/// One run of a test: (t/s, bytes of its KV cache).
pub fn run_once(model: &Model<'_>, n_prompt: usize, n_gen: usize, rng: &mut Rng) -> Result<(f64, u64)> {
    let n_vocab = model.n_vocab() as u64;
    let n_ctx_train = model.config.n_ctx_train;
    let n_ctx = match n_prompt.checked_add(n_gen) {
        Some(n) if n <= n_ctx_train => n.max(1),
        _ => {
            return Err(Error::BadSetting {
                what: "bench test size",
                why: format!("pp {n_prompt} + tg {n_gen} tokens exceed the model's context of {n_ctx_train}"),
            })
        }
    };
    let mut ctx = model.new_context(&ContextOptions { n_ctx: Some(n_ctx), ..Default::default() })?;
    let tokens: Vec<u32> = (0..n_prompt.max(n_gen)).map(|_| (rng.next_u64() % n_vocab) as u32).collect();
    let start = clock::now();
    if n_prompt > 0 {
        model.forward(&mut ctx, &tokens[..n_prompt])?;
    }
    for &t in &tokens[..n_gen] {
        model.forward(&mut ctx, &[t])?;
    }
    let seconds = clock::now() - start;
    Ok(((n_prompt + n_gen) as f64 / seconds, ctx.cache.bytes()))
}

/// A warm-up run, then `repetitions` timed runs of one test, as a row.
/// `on_repetition(r)` is called before each timed run (for progress).
#[allow(clippy::too_many_arguments)]
pub fn measure(
    file: &GgufFile<'_>,
    model: &Model<'_>,
    kernels: &str,
    n_threads: usize,
    (test, n_prompt, n_gen): &(String, usize, usize),
    repetitions: usize,
    mut on_repetition: impl FnMut(usize),
) -> Result<BenchRow> {
    let mut rng = Rng::new(1234);
    let (_, kv_cache_bytes) = run_once(model, *n_prompt, *n_gen, &mut rng)?; // warm-up, not counted
    let samples = (0..repetitions)
        .map(|r| {
            on_repetition(r);
            Ok(run_once(model, *n_prompt, *n_gen, &mut rng)?.0)
        })
        .collect::<Result<Vec<f64>>>()?;
    let (avg_ts, stddev_ts) = mean_stddev(&samples);
    Ok(BenchRow {
        model: model_name(file, model),
        model_size: file.total_tensor_bytes(),
        model_n_params: file.total_elements(),
        kernels: kernels.to_string(),
        n_threads,
        test: test.clone(),
        n_prompt: *n_prompt,
        n_gen: *n_gen,
        avg_ts,
        stddev_ts,
        samples_ts: samples,
        speedup_vs_unfused: None,
        decode_gbs: (*n_gen > 0).then(|| avg_ts * model.weights.bytes_per_token() as f64 / 1e9),
        probe_gbs: None,
        kv_cache_bytes,
        peak_memory_bytes: None,
    })
}
