//! `--debug-dispatch` and `--require-fused`: what the matrix products actually
//! ran, from the core's per (role, format, kernel) counters.

use anyhow::{bail, Result};
use fuselm_core::kernels::stats;

/// Kernel names that are not fused dequantize-dot kernels.
pub fn is_fallback(kernel: &str) -> bool {
    matches!(kernel, "unfused" | "dequant-dot" | "f32-dot")
}

pub fn finish(debug: bool, require_fused: bool) -> Result<()> {
    let snapshot = stats::snapshot();
    if debug || crate::host::debug_dispatch_from_env() {
        eprintln!(
            "\n{:<14} {:<6} {:<12} {:>10} {:>12} {:>10}",
            "role", "format", "kernel", "calls", "row dots", "seconds"
        );
        for (key, s) in &snapshot {
            if s.calls == 0 {
                continue;
            }
            eprintln!(
                "{:<14} {:<6} {:<12} {:>10} {:>12} {:>10.3}{}",
                key.role,
                key.ggml_type.to_string(),
                key.kernel,
                s.calls,
                s.row_dots,
                s.seconds,
                if is_fallback(key.kernel) { "  (not fused)" } else { "" }
            );
        }
    }
    if require_fused {
        let unfused: Vec<String> = snapshot
            .iter()
            .filter(|(k, s)| s.calls > 0 && is_fallback(k.kernel))
            .map(|(k, _)| format!("{} ({} via {})", k.role, k.ggml_type, k.kernel))
            .collect();
        if !unfused.is_empty() {
            bail!("--require-fused: matrix products ran without a fused kernel: {}", unfused.join(", "));
        }
    }
    Ok(())
}
