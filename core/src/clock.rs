//! The installable clock. The core never reads a clock on its own (wasm32 has
//! none it can rely on): a host installs one, monotonic, in seconds, once per
//! process: natively [`install_std_clock`], in the browser `performance.now()`.
//! Without one, every time reads zero (timings, profiles, kernel statistics).

use std::sync::OnceLock;

static CLOCK: OnceLock<fn() -> f64> = OnceLock::new();

/// Installs a monotonic clock in seconds. The first installation wins.
pub fn set_clock(clock: fn() -> f64) {
    let _ = CLOCK.set(clock);
}

/// Seconds from the installed clock (0 without one).
pub fn now() -> f64 {
    CLOCK.get().map_or(0.0, |c| c())
}

/// Installs `std::time::Instant` as the clock, counting from the first call.
/// For native hosts (the CLI, examples, tests); wasm32-unknown-unknown has no
/// `Instant`, so the browser host installs `performance.now()` instead.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn install_std_clock() {
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now);
    set_clock(|| START.get().map_or(0.0, |s| s.elapsed().as_secs_f64()));
}
