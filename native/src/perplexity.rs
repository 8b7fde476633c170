//! `fuselm perplexity`: llama-perplexity's measurement (see fuselm_core::perplexity).

use std::path::PathBuf;

use anyhow::Result;
use fuselm_core::model::{LoadOptions, Model};
use fuselm_core::perplexity::perplexity;

use crate::model_file::ModelFile;

#[derive(clap::Args)]
pub struct PerplexityArgs {
    #[arg(short = 'm', long = "model")]
    pub model: PathBuf,
    /// The text to score.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Tokens per chunk.
    #[arg(short = 'c', long = "ctx-size", default_value_t = 512)]
    pub ctx_size: usize,
    /// Score at most this many chunks.
    #[arg(long = "chunks")]
    pub chunks: Option<usize>,
    #[arg(short = 't', long = "threads")]
    pub threads: Option<usize>,
    /// Print only the final value, as JSON.
    #[arg(long)]
    pub json: bool,
    /// Where the forward pass runs: cpu, gpu (wgpu: Vulkan, Metal, DX12),
    /// or auto (a hardware GPU adapter if there is one, else the CPU).
    #[arg(long, value_enum, default_value_t = crate::backend::Backend::Cpu)]
    pub backend: crate::backend::Backend,
}

pub fn run(args: &PerplexityArgs) -> Result<()> {
    crate::memory::install();
    crate::host::set_threads(args.threads)?;
    // As `generate` does: the text read first, then on the pool, its
    // threads kept polling.
    let text = crate::text_file::read_text(&args.file, "text file")?;
    fuselm_core::warm_pool::run_warm(|| score(args, &text))
}

fn score(args: &PerplexityArgs, text: &str) -> Result<()> {
    let file = ModelFile::open(&args.model, true)?;
    let name = file.display_name();
    let gguf = file.parse()?;
    let mut model = Model::load(&gguf, LoadOptions { kernel_mode: crate::host::kernel_mode_from_env()?, isa: None })
        .map_err(|e| e.in_file(&name))?;
    crate::backend::install(args.backend, &mut model)?;
    crate::memory::release_copied_tensors(&file, &model);
    crate::host::log_selections();
    let tokens = model.tokenizer.encode(text, true);
    let json = args.json;
    let result = perplexity(&model, &tokens, args.ctx_size, args.chunks, |done, total, ppl| {
        if !json {
            eprintln!("[{done}/{total}] {ppl:.4}");
        }
    })?;
    if json {
        println!(
            "{}",
            serde_json::json!({"perplexity": result.value(), "chunks": result.chunks, "ctx_size": args.ctx_size, "tokens_scored": result.tokens_scored})
        );
    } else {
        println!("Final estimate: PPL = {:.4} ({} chunks of {} tokens)", result.value(), result.chunks, args.ctx_size);
    }
    Ok(())
}
