//! Whole `fuselm` command lines, run in-process against a tiny synthetic
//! model: parse with the real argument parser, then run the command. Any
//! outcome but a panic, abort, hang or runaway allocation is fine (usage
//! errors and command errors are expected).
//!
//! Input: NUL-separated arguments after the program name. `@model` and
//! `@prompt` stand for the fixture files. Left out, to keep runs short and
//! the machine safe: other paths (one could name a device, a FIFO or a file
//! to overwrite), `synth` (it writes files), `bench` without `--no-probe`
//! (the bandwidth probe reads 512 MiB) and numbers above 64 (a long
//! generation is not a bug).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use fuselm_core::synth::{synthesize, SynthQuant, SHAPES};
use fuselm_native::Cli;
use libfuzzer_sys::fuzz_target;

/// The fixture directory, holding `tiny.gguf` and `prompt.txt`.
fn fixtures() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fuselm-fuzz-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tiny = SHAPES.iter().find(|s| s.name == "tiny").unwrap();
        let model = synthesize(tiny, SynthQuant::Q4KM, None, 7, |_, _| {}).unwrap();
        std::fs::write(dir.join("tiny.gguf"), model.to_bytes()).unwrap();
        std::fs::write(dir.join("prompt.txt"), "The quick brown fox jumps over the lazy dog. ".repeat(20)).unwrap();
        // The commands print generated text; it is not what is tested.
        // SAFETY: dup2 onto stdout's descriptor, before any thread prints.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            if null >= 0 {
                libc::dup2(null, 1);
                libc::close(null);
            }
        }
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = fixtures();
    let text = String::from_utf8_lossy(data);
    let mut args = vec!["fuselm".to_string()];
    for arg in text.split('\0') {
        if arg.contains('/') || arg.contains('\\') {
            return;
        }
        let digits = arg.split(|c: char| !c.is_ascii_digit()).filter(|d| !d.is_empty());
        if digits.clone().any(|d| d.len() > 2 || d.parse::<u32>().unwrap_or(u32::MAX) > 64) {
            return;
        }
        args.push(
            arg.replace("@model", &dir.join("tiny.gguf").to_string_lossy())
                .replace("@prompt", &dir.join("prompt.txt").to_string_lossy()),
        );
    }
    if args.iter().any(|a| a == "bench") && !args.iter().any(|a| a == "--no-probe") {
        return;
    }
    let Ok(cli) = Cli::try_parse_args(&args) else { return };
    if cli.writes_files() {
        return;
    }
    let _ = cli.run();
});
