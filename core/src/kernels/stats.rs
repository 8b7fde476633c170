//! Dispatch instrumentation: each distinct (role, format, kernel) is noted once
//! when chosen ([`take_selections`]), and counters of calls, rows and time per
//! (role, format, kernel) are kept for reports. The core prints nothing: hosts
//! read these and print them (the CLI's `--debug-dispatch`).
//! Times come from the host's clock (`crate::clock`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::GgmlType;

static STATS: Mutex<BTreeMap<StatsKey, KernelStats>> = Mutex::new(BTreeMap::new());
static SELECTIONS: Mutex<Vec<Selection>> = Mutex::new(Vec::new());

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatsKey {
    /// The weight's role (`attn_q`, `ffn_down`, `output`, ...).
    pub role: String,
    pub ggml_type: GgmlType,
    pub kernel: &'static str,
}

/// The first time a (role, format, kernel) was chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    pub key: StatsKey,
    /// The tensor it was chosen for and the kernel mode (`blk.0.attn_q.weight, mode auto`).
    pub detail: String,
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
    if entry.tensors == 0 {
        if let Ok(mut selections) = SELECTIONS.lock() {
            selections.push(Selection { key: key.clone(), detail: detail.to_string() });
        }
    }
    entry.tensors += 1;
}

/// The selections noted since the last call, in the order they were made
/// (one per distinct key since the last [`reset`], so the list stays small).
pub fn take_selections() -> Vec<Selection> {
    SELECTIONS.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
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
    if let Ok(mut s) = SELECTIONS.lock() {
        s.clear();
    }
}
