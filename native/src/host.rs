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

/// A model file truncated or rewritten by another program while it is mapped
/// makes the next read of a lost page raise SIGBUS, which would kill the
/// process without a word. The handler says what happened and how to avoid
/// it, then exits with 128 + SIGBUS, as the signal would have.
#[cfg(unix)]
pub fn explain_sigbus() {
    extern "C" fn on_sigbus(_: libc::c_int) {
        const MESSAGE: &[u8] = b"\nerror: the model file changed while it was mapped (truncated or rewritten by \
another program); run again, or pass --no-mmap to read it into memory\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe; MESSAGE is static.
        unsafe {
            libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
            libc::_exit(128 + libc::SIGBUS);
        }
    }
    // SAFETY: a zeroed sigaction is valid; the handler only calls
    // async-signal-safe functions.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

#[cfg(not(unix))]
pub fn explain_sigbus() {}
