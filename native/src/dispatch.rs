//! What the dispatch layer chose and what ran: `fuselm inspect --dispatch`
//! (for every layer, the seven weight roles plus token_embd and output, each
//! weight's format and kernel, F32 fallbacks and unfused kernels marked), and
//! `--debug-dispatch` / `--require-fused` on generate and bench (calls, rows
//! and time per (role, format, kernel) from the core's counters).

use std::fmt::Write as _;

use anyhow::{bail, Result};
use fuselm_core::gguf::GgufFile;
use fuselm_core::kernels::{stats, WeightMatrix};
use fuselm_core::model::{LoadOptions, Model};
use serde_json::json;

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

const ROLES: [&str; 7] = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];

fn cell(m: &WeightMatrix<'_>) -> (String, bool) {
    let flagged = is_fallback(m.kernel.name);
    (format!("{} {}{}", m.ggml_type, m.kernel.name, if flagged { " !" } else { "" }), flagged)
}

pub fn render(name: &str, gguf: &GgufFile<'_>, json_out: bool) -> Result<String> {
    let model = Model::load(gguf, LoadOptions { kernel_mode: crate::host::kernel_mode_from_env()?, isa: None })
        .map_err(|e| e.in_file(name))?;
    crate::host::log_selections();
    let w = &model.weights;
    let mut flagged = 0;
    let mut layers = Vec::new();
    for layer in &w.layers {
        let mats = [&layer.wq, &layer.wk, &layer.wv, &layer.wo, &layer.w_gate, &layer.w_up, &layer.w_down];
        let cells: Vec<(String, bool)> = mats.iter().map(|m| cell(m)).collect();
        flagged += cells.iter().filter(|c| c.1).count();
        layers.push(cells);
    }
    let (output, output_flagged) = cell(&w.output);
    flagged += usize::from(output_flagged);
    let embd = format!("{} row lookup", w.token_embd.ggml_type);
    let isa = w.output.kernel.isa.name();
    // The formats `--backend gpu` has no kernel for (it then refuses the model).
    let mut gpu_missing: Vec<String> = Vec::new();
    for m in w.matrices() {
        let t = m.ggml_type.to_string();
        if fuselm_gpu::formats::format(m.ggml_type).is_none() && !gpu_missing.contains(&t) {
            gpu_missing.push(t);
        }
    }
    if json_out {
        let rows: Vec<_> = layers
            .iter()
            .enumerate()
            .map(|(i, cells)| {
                let mut o = serde_json::Map::new();
                o.insert("layer".into(), json!(i));
                for (role, (text, fallback)) in ROLES.iter().zip(cells) {
                    o.insert((*role).into(), json!({"kernel": text.trim_end_matches(" !"), "fallback": fallback}));
                }
                serde_json::Value::Object(o)
            })
            .collect();
        let doc = json!({
            "isa": isa,
            "token_embd": embd,
            "output": {"kernel": output.trim_end_matches(" !"), "fallback": output_flagged, "tied": w.output_tied},
            "layers": rows,
            "fallbacks": flagged,
            "gpu_missing_formats": gpu_missing,
        });
        return Ok(serde_json::to_string_pretty(&doc)? + "\n");
    }
    let mut out = String::new();
    let _ = writeln!(out, "dispatch on {isa} ({} layers; \"!\" marks an unfused kernel or F32 fallback)", layers.len());
    let _ = writeln!(out, "token_embd: {embd}");
    // Columns as wide as the longest cell (`Q5_0 avx512vnni-tiled`) plus a gap.
    let width =
        layers.iter().flatten().map(|(c, _)| c.len()).chain(ROLES.iter().map(|r| r.len())).max().unwrap_or(0) + 2;
    let _ = writeln!(out, "{:>5}  {}", "layer", ROLES.iter().map(|r| format!("{r:<width$}")).collect::<String>());
    for (i, cells) in layers.iter().enumerate() {
        let _ = writeln!(out, "{i:>5}  {}", cells.iter().map(|(c, _)| format!("{c:<width$}")).collect::<String>());
    }
    let _ = writeln!(out, "output: {output}{}", if w.output_tied { " (tied to token_embd)" } else { "" });
    let _ = writeln!(out, "{flagged} weights without a fused kernel");
    if gpu_missing.is_empty() {
        let _ = writeln!(out, "gpu (--backend gpu): a kernel for every matrix");
    } else {
        let _ = writeln!(
            out,
            "gpu (--backend gpu): no kernel for {}; the GPU backend refuses this model (auto runs it on the CPU)",
            gpu_missing.join(", ")
        );
    }
    Ok(out)
}
