//! `fuselm`: the native command-line tool.

mod bandwidth;
mod bench;
mod dispatch;
mod generate;
mod host;
mod inspect;
mod model_file;
mod perplexity;
mod synth;
mod text_file;

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
    Inspect(inspect::InspectArgs),
    /// Perplexity of a text file, as llama-perplexity measures it.
    Perplexity(perplexity::PerplexityArgs),
    /// Write a shape-exact synthetic model with random weights.
    Synth(synth::SynthArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    host::explain_sigbus();
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
