//! Dispatch instrumentation: with `FUSELM_DEBUG_DISPATCH=1` (or `DEBUG_DISPATCH=1`)
//! each distinct (role, format, kernel) is logged once when chosen; counters of
//! calls, rows and time per (role, format, kernel) are kept for reports.
//! Times come from the host's clock (`crate::clock`).

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use crate::GgmlType;

static DEBUG: OnceLock<bool> = OnceLock::new();
static STATS: Mutex<BTreeMap<StatsKey, KernelStats>> = Mutex::new(BTreeMap::new());

/// Whether `FUSELM_DEBUG_DISPATCH` or `DEBUG_DISPATCH` is set to a true value.
pub fn debug_dispatch() -> bool {
    *DEBUG.get_or_init(|| {
        ["FUSELM_DEBUG_DISPATCH", "DEBUG_DISPATCH"]
            .iter()
            .any(|k| std::env::var(k).is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false")))
    })
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatsKey {
    /// The weight's role (`attn_q`, `ffn_down`, `output`, ...).
    pub role: String,
    pub ggml_type: GgmlType,
    pub kernel: &'static str,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelStats {
    /// Matrices built with this kernel.
    pub tensors: u64,
    /// Matrix products run.
    pub calls: u64,
    /// Output rows × activation rows computed.
    pub row_dots: u64,
    /// Seconds spent (0 without a clock).
    pub seconds: f64,
    /// Weight bytes streamed.
    pub weight_bytes: u64,
}

/// The role of a weight from its GGUF name: `blk.3.attn_q.weight` → `attn_q`.
pub fn role_of(tensor: &str) -> String {
    let name = tensor.strip_suffix(".weight").unwrap_or(tensor);
    match name.strip_prefix("blk.") {
        Some(rest) => rest.split_once('.').map_or(rest, |(_, role)| role).to_string(),
        None => name.to_string(),
    }
}

pub(crate) fn record_selection(key: &StatsKey, detail: &str) {
    let Ok(mut stats) = STATS.lock() else { return };
    let entry = stats.entry(key.clone()).or_default();
    if entry.tensors == 0 && debug_dispatch() {
        eprintln!("[dispatch] {:<12} {:<5} -> {} ({detail})", key.role, key.ggml_type.name(), key.kernel);
    }
    entry.tensors += 1;
}

pub(crate) fn record_call(key: &StatsKey, row_dots: u64, weight_bytes: u64, seconds: f64) {
    let Ok(mut stats) = STATS.lock() else { return };
    // Called per product in the decode loop: look up by reference, so nothing is
    // allocated once the key exists (it does from `record_selection`).
    let entry = match stats.get_mut(key) {
        Some(entry) => entry,
        None => stats.entry(key.clone()).or_default(),
    };
    entry.calls += 1;
    entry.row_dots += row_dots;
    entry.weight_bytes += weight_bytes;
    entry.seconds += seconds;
}

/// A copy of the counters, sorted by key.
pub fn snapshot() -> Vec<(StatsKey, KernelStats)> {
    STATS.lock().map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

/// Clears the counters (tests and benchmarks).
pub fn reset() {
    if let Ok(mut s) = STATS.lock() {
        s.clear();
    }
}
