//! `fuselm generate`: stream a completion to stdout, with llama.cpp's flag
//! names where they exist; `--measure-time` prints load, prompt-eval and eval
//! timings to stderr.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use fuselm_core::chat::ChatMessage;
use fuselm_core::generation::GenerateOptions;
use fuselm_core::kernels::stats;
use fuselm_core::model::{ContextOptions, KvType, LoadOptions, Model};
use fuselm_core::sampler::SamplerConfig;
use fuselm_core::session::Session;

use crate::model_file::ModelFile;

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// The GGUF model file.
    #[arg(short = 'm', long = "model")]
    pub model: PathBuf,
    /// The prompt.
    #[arg(short = 'p', long = "prompt", conflicts_with = "file")]
    pub prompt: Option<String>,
    /// Read the prompt from a file (UTF-8, at most 64 MiB; a pipe such as /dev/stdin works).
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Tokens to generate; -1: until the context is full (endless with
    /// --context-shift) or the model ends the text.
    #[arg(short = 'n', long = "n-predict", default_value_t = fuselm_core::generation::DEFAULT_MAX_TOKENS as i64,
          allow_negative_numbers = true)]
    pub n_predict: i64,
    /// Threads for the matrix products (default: all cores).
    #[arg(short = 't', long = "threads")]
    pub threads: Option<usize>,
    /// Context size in tokens (default: the model's, at most 4096).
    #[arg(short = 'c', long = "ctx-size")]
    pub ctx_size: Option<usize>,
    #[arg(short = 's', long = "seed", default_value_t = 0)]
    pub seed: u64,
    /// 0 or below = greedy.
    #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
    pub temp: f32,
    #[arg(long = "top-k", default_value_t = 40)]
    pub top_k: usize,
    #[arg(long = "top-p", default_value_t = 0.95)]
    pub top_p: f32,
    #[arg(long = "min-p", default_value_t = 0.05)]
    pub min_p: f32,
    #[arg(long = "repeat-penalty", default_value_t = 1.0)]
    pub repeat_penalty: f32,
    #[arg(long = "repeat-last-n", default_value_t = 64)]
    pub repeat_last_n: usize,
    /// Apply the model's chat template to the prompt (as one user message).
    #[arg(long)]
    pub chat: bool,
    /// Keep generating past end-of-generation tokens.
    #[arg(long = "ignore-eos")]
    pub ignore_eos: bool,
    /// Stop when the text contains this (repeatable).
    #[arg(long = "stop")]
    pub stop: Vec<String>,
    /// When the context fills, drop the oldest half and continue.
    #[arg(long = "context-shift")]
    pub context_shift: bool,
    /// KV cache element type: f16 or f32.
    #[arg(long = "cache-type", default_value = "f16")]
    pub cache_type: String,
    /// Read the file into memory instead of mapping it.
    #[arg(long = "no-mmap")]
    pub no_mmap: bool,
    /// Where the forward pass runs: cpu, gpu (wgpu: Vulkan, Metal, DX12),
    /// or auto (a hardware GPU adapter if there is one, else the CPU).
    #[arg(long, value_enum, default_value_t = crate::backend::Backend::Cpu)]
    pub backend: crate::backend::Backend,
    /// Print timings to stderr at the end.
    #[arg(long = "measure-time")]
    pub measure_time: bool,
    /// After the run, print calls and time per (role, format, kernel).
    #[arg(long = "debug-dispatch")]
    pub debug_dispatch: bool,
    /// Print the five most expensive operations (each matmul role, attention,
    /// norms, RoPE, activation quantization, sampling) at the end.
    #[arg(long)]
    pub profile: bool,
    /// Print resident memory to stderr every 100 tokens and at the end.
    #[arg(long = "report-memory")]
    pub report_memory: bool,
    /// Print one JSON object (prompt token ids, generated ids, text, stop reason,
    /// timings) instead of streaming the text.
    #[arg(long = "json")]
    pub json: bool,
    /// Exit non-zero if any matrix product ran unfused or as an F32 fallback.
    #[arg(long = "require-fused")]
    pub require_fused: bool,
}

pub fn run(args: &GenerateArgs) -> Result<()> {
    fuselm_core::clock::install_std_clock();
    crate::memory::install();
    crate::host::set_threads(args.threads)?;
    // Read first: a prompt from a pipe (-f /dev/stdin) may take its time,
    // and the polling threads below would spin all along.
    let prompt = match (&args.prompt, &args.file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => crate::text_file::read_text(f, "prompt file")?,
        (None, None) => bail!("give a prompt with -p TEXT or -f FILE"),
    };
    // On a thread of the pool, the others polling between products: the
    // products' forks then wake no sleeping thread (one request at a time).
    fuselm_core::warm_pool::run_warm(|| generate(args, prompt))
}

fn generate(args: &GenerateArgs, prompt: String) -> Result<()> {
    let load_start = Instant::now();
    let file = ModelFile::open(&args.model, !args.no_mmap)?;
    let name = file.display_name();
    let gguf = file.parse()?;
    let options = LoadOptions { kernel_mode: crate::host::kernel_mode_from_env()?, isa: None };
    let mut model = Model::load(&gguf, options).map_err(|e| e.in_file(&name))?;
    crate::memory::release_copied_tensors(&file, &model);
    crate::host::log_selections();
    let ctx_options = ContextOptions {
        n_ctx: args.ctx_size,
        kv_type: args.cache_type.parse::<KvType>()?,
        ..ContextOptions::default()
    };
    let adapter = crate::backend::install(args.backend, &mut model)?;
    let mut session = Session::new(&model, &ctx_options)?;
    let load_seconds = load_start.elapsed().as_secs_f64();

    let text = if args.chat { session.chat_prompt(&model, &[ChatMessage::new("user", &prompt)])? } else { prompt };
    let mut options = GenerateOptions {
        max_tokens: 0, // from -n, once the prompt's length is known
        sampler: SamplerConfig {
            temperature: args.temp,
            top_k: args.top_k,
            top_p: args.top_p,
            min_p: args.min_p,
            repeat_penalty: args.repeat_penalty,
            repeat_last_n: args.repeat_last_n,
            seed: args.seed,
        },
        stop: args.stop.clone(),
        ignore_eos: args.ignore_eos,
        context_shift: args.context_shift,
        keep: 0,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_error = None;
    session.context.profile.enabled = args.profile;
    stats::reset();
    let report_memory = args.report_memory;
    let mut window_start = Instant::now();
    let prompt_tokens = session.tokenize_prompt(&model, &text);
    options.max_tokens = match args.n_predict {
        n if n >= 0 => n as usize,
        -1 if args.context_shift => usize::MAX,
        // The last token is never fed back: n_ctx - prompt + 1 tokens fill the context.
        -1 => (session.context.n_ctx() + 1).saturating_sub(session.context.n_past() + prompt_tokens.len()),
        n => bail!("-n must be a token count, or -1 (until the context is full), not {n}"),
    };
    let stream = !args.json;
    let generation = session.generate_from_tokens(&model, &prompt_tokens, &options, |event| {
        if report_memory && (event.index + 1) % 100 == 0 {
            let elapsed = window_start.elapsed().as_secs_f64();
            window_start = Instant::now();
            eprintln!(
                "[memory] token {}: rss {:.1} MiB, last 100 tokens {:.2} t/s",
                event.index + 1,
                crate::host::resident_mib(),
                100.0 / elapsed
            );
        }
        if !stream {
            return ControlFlow::Continue(());
        }
        if let Err(e) = out.write_all(event.text.as_bytes()).and_then(|_| out.flush()) {
            write_error = Some(e);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    if let Some(e) = write_error {
        // A closed pipe (| head) is a normal way to stop.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("cannot write to stdout");
        }
    }
    if args.json {
        let t = &generation.timings;
        let doc = serde_json::json!({
            "prompt_tokens": prompt_tokens,
            "tokens": generation.tokens,
            "text": generation.text,
            "stop_reason": format!("{:?}", generation.stop_reason),
            "timings": {
                "load_ms": load_seconds * 1e3,
                "prompt_ms": t.prompt_seconds * 1e3,
                "prompt_tokens_per_second": t.prompt_tokens_per_second(),
                "decode_ms": t.decode_seconds * 1e3,
                "decode_tokens_per_second": t.decode_tokens_per_second(),
                "first_token_ms": t.first_token_seconds * 1e3,
            },
        });
        writeln!(out, "{doc}").context("cannot write to stdout")?;
    } else {
        let _ = writeln!(out);
    }
    if args.report_memory {
        eprintln!("[memory] end: rss {:.1} MiB after {} tokens", crate::host::resident_mib(), generation.tokens.len());
    }
    if args.measure_time {
        eprintln!();
        eprintln!("{}", generation.timings.report(load_seconds));
        eprintln!("stop reason      = {:?}", generation.stop_reason);
        eprintln!("backend          = {}", adapter.as_deref().map_or("cpu".to_string(), |a| format!("gpu {a}")));
    }
    if args.profile {
        print_profile(&session, generation.timings.sample_seconds);
    }
    crate::dispatch::finish(args.debug_dispatch, args.require_fused)
}

/// The five most expensive operations of the run, matmuls by role.
fn print_profile(session: &Session, sample_seconds: f64) {
    use fuselm_core::model::profile::OPS;
    let mut entries: Vec<(String, f64)> = Vec::new();
    for (key, s) in stats::snapshot() {
        let name = format!("matmul {}", key.role);
        match entries.iter_mut().find(|(n, _)| *n == name) {
            Some(e) => e.1 += s.seconds,
            None => entries.push((name, s.seconds)),
        }
    }
    let profile = &session.context.profile;
    entries.extend(OPS.iter().map(|&op| (op.name().to_string(), profile.seconds(op))));
    entries.push(("sampling".to_string(), sample_seconds));
    let total: f64 = entries.iter().map(|e| e.1).sum();
    entries.sort_by(|a, b| b.1.total_cmp(&a.1));
    eprintln!("\n{:<40} {:>10} {:>7}", "operation (top 5)", "ms", "share");
    for (name, seconds) in entries.iter().take(5) {
        eprintln!("{name:<40} {:>10.1} {:>6.1}%", seconds * 1e3, 100.0 * seconds / total.max(1e-12));
    }
    eprintln!("{:<40} {:>10.1}", "all timed operations", total * 1e3);
}
