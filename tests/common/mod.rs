//! Helpers shared by the root package's cross-crate tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The real models `scripts/fetch-models` writes, by file name.
pub const REAL_MODELS: &[(&str, usize)] = &[
    ("gemma-3-270m-q4_k_m.gguf", 236),
    ("SmolLM2-135M-Instruct.Q4_1.gguf", 272),
    ("qwen2.5-coder-0.5b-q4_k_m.gguf", 291),
    ("qwen2.5-coder-1.5b-q4_k_m.gguf", 339),
];

/// The real models present in models/ with their expected tensor counts. Tests
/// over real models run on these; CI fetches at least two first.
pub fn present_models() -> Vec<(PathBuf, usize)> {
    let present: Vec<_> = REAL_MODELS
        .iter()
        .map(|&(name, n)| (repo_root().join("models").join(name), n))
        .filter(|(path, _)| path.exists())
        .collect();
    if present.len() < REAL_MODELS.len() {
        eprintln!(
            "note: {} of {} real models present in models/ (scripts/fetch-models fetches them)",
            present.len(),
            REAL_MODELS.len()
        );
    }
    present
}

/// Runs one of the Python helpers in tests/py with `python3` (or `$FUSELM_PYTHON`)
/// and returns its stdout. The helpers need the `gguf` and `numpy` packages,
/// which scripts/setup installs; without them the test fails and says so.
pub fn run_python(script: &str, args: &[&Path]) -> String {
    let python = std::env::var("FUSELM_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let output = Command::new(&python)
        .arg(repo_root().join("tests/py").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e} (scripts/setup installs it)"));
    assert!(
        output.status.success(),
        "{script} failed (does `{python} -c 'import gguf, numpy'` work? scripts/setup installs them):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("python helper printed UTF-8")
}

/// The index of the largest value (the first on ties).
pub fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}

/// Mean negative log-likelihood of each next token under `logits` (`[n, n_vocab]`).
pub fn mean_nll(logits: &[f32], tokens: &[u32], n_vocab: usize) -> f64 {
    let mut total = 0.0f64;
    for (i, row) in logits.chunks_exact(n_vocab).take(tokens.len() - 1).enumerate() {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        total += sum.ln() + max - row[tokens[i + 1] as usize] as f64;
    }
    total / (tokens.len() - 1) as f64
}
