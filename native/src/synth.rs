//! `fuselm synth`: write a shape-exact synthetic model (see fuselm_core::synth).

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use fuselm_core::gguf::GgufFile;
use fuselm_core::synth::{synthesize, SynthQuant, SynthShape};

use crate::model_file::ModelFile;

#[derive(clap::Args)]
pub struct SynthArgs {
    /// tiny, tinyllama-1.1b, llama-2-7b or mistral-7b.
    #[arg(long)]
    pub shape: String,
    /// q4_k_m, q5_k_m, q6_k or q8_0 (llama.cpp's recipe for that file type).
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
        Some(f) => Some(GgufFile::parse_named(&f.display_name(), f.bytes())?),
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
    // Write to a temporary name, then rename: a failure leaves nothing half-written.
    let tmp = args.output.with_extension("gguf.partial");
    let written = (|| {
        let file = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut out = BufWriter::new(file);
        writer
            .write_to(&mut out)
            .and_then(|_| out.flush())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        drop(out);
        std::fs::rename(&tmp, &args.output)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), args.output.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp); // nothing half-written stays behind
    }
    written?;
    eprintln!("wrote {}", args.output.display());
    Ok(())
}
