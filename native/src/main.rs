//! `fuselm`: the native command-line tool.

mod bench;
mod dispatch_report;
mod dispatch_table;
mod generate;
mod host;
mod inspect;
mod model_file;
mod perplexity;
mod synth;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "fuselm", version, about = "Fused quantized LLM inference over GGUF files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure prompt processing and generation speed (llama-bench's tests).
    Bench(bench::BenchArgs),
    /// Generate text from a prompt, streamed to stdout.
    Generate(generate::GenerateArgs),
    /// Print a GGUF file's header, metadata and tensors.
    Inspect(InspectArgs),
    /// Perplexity of a text file, as llama-perplexity measures it.
    Perplexity(perplexity::PerplexityArgs),
    /// Write a shape-exact synthetic model with random weights.
    Synth(synth::SynthArgs),
}

#[derive(clap::Args)]
pub struct InspectArgs {
    /// The GGUF model file.
    pub model: PathBuf,
    /// Machine-readable JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Show long strings and arrays in full instead of summarised.
    #[arg(long)]
    pub full: bool,
    /// Read the file into memory instead of mapping it.
    #[arg(long)]
    pub no_mmap: bool,
    /// Show, per layer, each weight's format and the kernel chosen for it.
    #[arg(long)]
    pub dispatch: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Perplexity(args) => perplexity::run(&args),
        Command::Synth(args) => synth::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // User mistakes get one clean line, not a backtrace.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
