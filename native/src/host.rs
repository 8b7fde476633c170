//! What the native host supplies the core: choices read from the environment,
//! and printing what the core reports (the core reads no environment and
//! prints nothing).

use anyhow::Result;
use fuselm_core::kernels::{stats, KernelMode};

/// The kernel mode named by `FUSELM_KERNELS`, or Auto when it is unset.
pub fn kernel_mode_from_env() -> Result<KernelMode> {
    match std::env::var(KernelMode::ENV) {
        Ok(value) => Ok(value.parse()?),
        Err(_) => Ok(KernelMode::Auto),
    }
}

/// Whether `FUSELM_DEBUG_DISPATCH` or `DEBUG_DISPATCH` is set to a true value.
pub fn debug_dispatch_from_env() -> bool {
    ["FUSELM_DEBUG_DISPATCH", "DEBUG_DISPATCH"]
        .iter()
        .any(|k| std::env::var(k).is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false")))
}

/// With `FUSELM_DEBUG_DISPATCH` set, prints each (role, format, kernel) chosen
/// since the last call, once, in the order chosen. Call after loading a model.
pub fn log_selections() {
    let selections = stats::take_selections();
    if !debug_dispatch_from_env() {
        return;
    }
    for s in selections {
        eprintln!("[dispatch] {:<12} {:<5} -> {} ({})", s.key.role, s.key.ggml_type.name(), s.key.kernel, s.detail);
    }
}
