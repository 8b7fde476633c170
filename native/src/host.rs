//! What the native host supplies the core and its commands: choices read from
//! the environment, printing what the core reports (the core reads no
//! environment and prints nothing), the thread count and resident memory.
//! The clock is `fuselm_core::clock::install_std_clock`.

use anyhow::{bail, Context, Result};
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

/// Resident set size from /proc (0 where it is not available).
pub fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

/// Sets the size of rayon's global pool (once per process).
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        check_threads(n)?;
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().context("cannot set the thread count")?;
    }
    Ok(())
}

/// Most threads a run may ask for (llama.cpp's limit too): more only spend
/// time starting threads that have nothing to do.
pub const MAX_THREADS: usize = 512;

/// A thread count from the command line: 1 to [`MAX_THREADS`].
pub fn check_threads(n: usize) -> Result<()> {
    if n == 0 || n > MAX_THREADS {
        bail!("--threads must be between 1 and {MAX_THREADS}, not {n}");
    }
    Ok(())
}
