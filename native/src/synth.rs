//! `fuselm synth`: write a shape-exact synthetic model (see fuselm_core::synth).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use fuselm_core::synth::{synthesize, SynthQuant, SynthShape};

use crate::gguf_output::write_gguf;
use crate::model_file::ModelFile;

#[derive(clap::Args)]
pub struct SynthArgs {
    /// tiny, tinyllama-1.1b, llama-2-7b or mistral-7b.
    #[arg(long)]
    pub shape: String,
    /// q2_k, q3_k_s, q4_k_m, q5_k_m, q6_k, q8_0 (llama.cpp's recipe for that file type) or f16.
    #[arg(long, default_value = "q4_k_m")]
    pub quant: String,
    /// Copy the tokenizer from this GGUF file (default: a built-in byte vocabulary).
    #[arg(long = "vocab-from")]
    pub vocab_from: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write the model.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

pub fn run(args: &SynthArgs) -> Result<()> {
    if args.output.is_dir() {
        anyhow::bail!("output {} is a directory; give a file name such as model.gguf", args.output.display());
    }
    let shape: SynthShape = args.shape.parse()?;
    let quant: SynthQuant = args.quant.parse()?;
    let vocab_file = args.vocab_from.as_ref().map(|p| ModelFile::open(p, true)).transpose()?;
    let vocab_gguf = match &vocab_file {
        Some(f) => Some(f.parse()?),
        None => None,
    };
    let show_progress = std::io::stderr().is_terminal();
    let writer = synthesize(&shape, quant, vocab_gguf.as_ref().map(|g| &g.metadata), args.seed, |done, total| {
        if show_progress {
            eprint!("\rsynthesizing {} {}: tensor {done}/{total}", shape.name, quant.name());
        }
    })?;
    if show_progress {
        eprintln!();
    }
    write_gguf(&writer, &args.output)?;
    eprintln!("wrote {}", args.output.display());
    Ok(())
}
