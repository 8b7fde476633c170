//! Steadiness: a 1000-token soak (resident memory sampled every 100 tokens,
//! no growth after warm-up beyond a stated bound; the same output as a fresh
//! session and as the same session after a reset; per-window decode times
//! reported), several sessions over one model on several threads giving the
//! outputs they give one at a time, and any thread count from 1 to 4x the
//! cores giving the same greedy output.
//!
//! `FUSELM_SOAK_TOKENS=20000 cargo test --release --test long_runs soak -- --nocapture`
//! runs a longer soak (with context shift once the context fills).

mod common;

use std::ops::ControlFlow;
use std::path::PathBuf;

use fuselm::generation::GenerateOptions;
use fuselm::gguf::GgufFile;
use fuselm::model::{ContextOptions, LoadOptions, Model};
use fuselm::sampler::SamplerConfig;
use fuselm::session::Session;
use fuselm::synth::{synthesize, SynthQuant, SynthShape};

/// Resident memory may grow by at most this much after the first 100 tokens
/// (allocator noise; the KV cache and every buffer are allocated up front).
const RSS_GROWTH_BOUND_KIB: u64 = 1024;

/// SmolLM2 when fetched (CI fetches it), else the synthetic tiny model.
fn model_bytes() -> (String, Vec<u8>) {
    let smol = common::repo_root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if smol.exists() {
        return (smol.display().to_string(), std::fs::read(&smol).unwrap());
    }
    eprintln!("note: SmolLM2 absent; running on the synthetic tiny model");
    let shape: SynthShape = "tiny".parse().unwrap();
    ("tiny".into(), synthesize(&shape, SynthQuant::Q4KM, None, 7, |_, _| {}).unwrap().to_bytes())
}

fn rss_kib() -> Option<u64> {
    let statm = std::fs::read_to_string(PathBuf::from("/proc/self/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4)
}

fn sampling(max_tokens: usize, seed: u64) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        sampler: SamplerConfig { temperature: 0.9, seed, ..SamplerConfig::default() },
        ignore_eos: true,
        context_shift: true,
        ..GenerateOptions::default()
    }
}

#[test]
fn soak_memory_stays_flat_and_output_is_reproducible() {
    fuselm::clock::install_std_clock();
    let n_tokens: usize = std::env::var("FUSELM_SOAK_TOKENS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let (name, bytes) = model_bytes();
    let file = GgufFile::parse(&bytes).unwrap();
    let model = Model::load(&file, LoadOptions::default()).unwrap();
    let ctx = ContextOptions { n_ctx: Some(1024.min(model.config.n_ctx_train)), ..ContextOptions::default() };
    let options = sampling(n_tokens, 42);
    let prompt = "Once upon a time, in a town by the sea,";

    let mut session = Session::new(&model, &ctx).unwrap();
    let mut samples = Vec::new(); // (tokens so far, rss KiB, seconds for the last 100 tokens)
    let mut window_start = std::time::Instant::now();
    let first = session
        .generate(&model, prompt, &options, |event| {
            if (event.index + 1) % 100 == 0 {
                samples.push((event.index + 1, rss_kib().unwrap_or(0), window_start.elapsed().as_secs_f64()));
                window_start = std::time::Instant::now();
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(first.tokens.len(), n_tokens);
    eprintln!("soak on {name}: {n_tokens} tokens, n_ctx {}", session.context.n_ctx());
    eprintln!("{:>8} {:>10} {:>12}", "tokens", "rss MiB", "ms/token");
    for (tokens, rss, seconds) in &samples {
        eprintln!("{tokens:>8} {:>10.1} {:>12.2}", *rss as f64 / 1024.0, seconds * 10.0);
    }
    // The KV cache grows with the positions used, doubling up to n_ctx: its
    // last step comes past n_ctx / 2 positions. From there on nothing may grow.
    let settled = samples.iter().find(|(tokens, ..)| *tokens > session.context.n_ctx() / 2 + 50);
    if let (Some(&(from, warm, _)), Some(&(_, last, _))) = (settled, samples.last()) {
        let growth = last.saturating_sub(warm);
        eprintln!("rss growth after {from} tokens (the cache at its full size): {growth} KiB (bound {RSS_GROWTH_BOUND_KIB} KiB)");
        assert!(growth <= RSS_GROWTH_BOUND_KIB, "resident memory grew by {growth} KiB over the soak");
    }

    // The same seed in a fresh session, and in the first session after a reset,
    // gives the same tokens: positions and cache contents do not leak between runs.
    let fresh =
        Session::new(&model, &ctx).unwrap().generate(&model, prompt, &options, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(fresh.tokens, first.tokens, "a fresh session diverged");
    session.reset();
    let again = session.generate(&model, prompt, &options, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(again.tokens, first.tokens, "the reset session diverged");
}

fn greedy_run(model: &Model<'_>, prompt: &str) -> Vec<u32> {
    let options = GenerateOptions { max_tokens: 24, sampler: SamplerConfig::greedy(), ..GenerateOptions::default() };
    let ctx = ContextOptions { n_ctx: Some(256), ..ContextOptions::default() };
    Session::new(model, &ctx).unwrap().generate(model, prompt, &options, |_| ControlFlow::Continue(())).unwrap().tokens
}

const PROMPTS: [&str; 4] =
    ["The capital of France is", "def fibonacci(n):", "Water boils at", "A haiku about autumn:\n"];

#[test]
fn sessions_on_several_threads_match_one_at_a_time() {
    let (name, bytes) = model_bytes();
    let file = GgufFile::parse(&bytes).unwrap();
    let model = Model::load(&file, LoadOptions::default()).unwrap();
    let sequential: Vec<Vec<u32>> = PROMPTS.iter().map(|p| greedy_run(&model, p)).collect();
    for round in 0..3 {
        let concurrent: Vec<Vec<u32>> = std::thread::scope(|scope| {
            let handles: Vec<_> = PROMPTS.iter().map(|p| scope.spawn(|| greedy_run(&model, p))).collect();
            handles.into_iter().map(|h| h.join().expect("a session thread panicked")).collect()
        });
        assert_eq!(concurrent, sequential, "{name}: round {round}: concurrent sessions differ");
    }
}

#[test]
fn any_thread_count_up_to_four_times_the_cores_gives_the_same_output() {
    let (name, bytes) = model_bytes();
    let file = GgufFile::parse(&bytes).unwrap();
    let model = Model::load(&file, LoadOptions::default()).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let reference = greedy_run(&model, PROMPTS[0]);
    for threads in 1..=4 * cores {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let tokens = pool.install(|| greedy_run(&model, PROMPTS[0]));
        assert_eq!(tokens, reference, "{name}: {threads} threads");
    }
}
