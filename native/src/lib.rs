//! The `fuselm` command-line tool as a library: the argument parser and the
//! commands, so that `main.rs` stays a thin shell and the CLI fuzz target
//! (`fuzz/fuzz_targets/cli_args.rs`) can run whole command lines in-process.

mod backend;
mod bandwidth;
mod bench;
mod dispatch;
mod generate;
mod gguf_output;
mod host;
mod inspect;
mod memory;
mod model_file;
mod perplexity;
mod split;
mod synth;
mod text_file;

use std::ffi::OsString;

pub use host::explain_sigbus;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "fuselm", version, about = "Fused quantized LLM inference over GGUF files")]
pub struct Cli {
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
    /// Split a model into several files (llama-gguf-split's layout).
    Split(split::SplitArgs),
    /// Write a shape-exact synthetic model with random weights.
    Synth(synth::SynthArgs),
}

impl Cli {
    /// Parses a command line (`args[0]` is the program name); a usage error,
    /// `--help` and `--version` come back as clap's error to print.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        Cli::try_parse_from(args)
    }

    /// Whether this command writes files (`synth`, `split`); the rest only read.
    pub fn writes_files(&self) -> bool {
        matches!(self.command, Command::Synth(_) | Command::Split(_))
    }

    /// Runs the command.
    pub fn run(&self) -> anyhow::Result<()> {
        match &self.command {
            Command::Bench(args) => bench::run(args),
            Command::Generate(args) => generate::run(args),
            Command::Inspect(args) => inspect::run(args),
            Command::Perplexity(args) => perplexity::run(args),
            Command::Split(args) => split::run(args),
            Command::Synth(args) => synth::run(args),
        }
    }
}
