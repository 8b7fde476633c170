//! The smallest complete use of the library: load a GGUF file, generate
//! greedily from a prompt, stream the text, optionally print timings.
//!
//! cargo run --release --example simple-generation -- --model M --prompt "Once upon a time" --tokens 100 --measure-time

use std::io::Write;
use std::ops::ControlFlow;
use std::time::Instant;

use fuselm::generation::GenerateOptions;
use fuselm::gguf::GgufFile;
use fuselm::model::{ContextOptions, LoadOptions, Model};
use fuselm::sampler::SamplerConfig;
use fuselm::session::Session;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut model_path, mut prompt, mut tokens, mut measure) = (None, String::from("Once upon a time"), 100, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model" | "-m" => model_path = args.next(),
            "--prompt" | "-p" => prompt = args.next().ok_or("--prompt needs a value")?,
            "--tokens" | "-n" => tokens = args.next().ok_or("--tokens needs a value")?.parse()?,
            "--measure-time" => measure = true,
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: --model M [--prompt P] [--tokens N] [--measure-time]"
                )
                .into())
            }
        }
    }
    let model_path = model_path.ok_or("--model M is required")?;
    fuselm::clock::install_std_clock();

    let load = Instant::now();
    let bytes = std::fs::read(&model_path).map_err(|e| format!("cannot read {model_path}: {e}"))?;
    let file = GgufFile::parse_named(&model_path, &bytes)?;
    let model = Model::load(&file, LoadOptions::default()).map_err(|e| e.in_file(&model_path))?;
    let mut session = Session::new(&model, &ContextOptions::default())?;
    let load_seconds = load.elapsed().as_secs_f64();

    let options = GenerateOptions { max_tokens: tokens, sampler: SamplerConfig::greedy(), ..Default::default() };
    let mut stdout = std::io::stdout();
    print!("{prompt}");
    let out = session.generate(&model, &prompt, &options, |event| {
        let _ = stdout.write_all(event.text.as_bytes()).and_then(|_| stdout.flush());
        ControlFlow::Continue(())
    })?;
    println!();
    if measure {
        eprintln!("{}", out.timings.report(load_seconds));
    }
    Ok(())
}
