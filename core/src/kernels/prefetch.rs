//! Software prefetch for the decode products, which each read one sequential
//! stream of weights.
//!
//! Two distances: each line is pulled into L2 ([`AHEAD_L2`] bytes ahead,
//! `prefetcht1`) and, shortly before it is read, into L1 ([`AHEAD_L1`],
//! `prefetcht0`, served from L2 by then).
//!
//! The hardware prefetchers alone kept the Q4_K_M TinyLlama stand-in's decode
//! at 76-90% of the bandwidth probe on a 2-core AVX2 EPYC; one `prefetcht0`
//! 2-4 KB ahead gave +10-25% there at one and two threads. On a 2-core Xeon
//! guest (Granite-Rapids-class caches, 2 MiB L2 per core) that single
//! distance was worse than no prefetch at all (Q4_K 5632x2048 products from
//! DRAM, one thread: 8.1-8.2 GB/s against 9.2-10.0), and T1 alone at 8 KB
//! gave 10.6-10.9; both levels (T0 at 256-512 B and T1 at 8-12 KB) gave
//! 11.1-13.7 for Q4_K and Q6_K alike, against 11.9 for a plain read loop.
//! wasm has no prefetch instruction and aarch64's cores were not timed: a
//! no-op there.

/// How far ahead of the bytes being read lines are pulled into L2.
pub const AHEAD_L2: usize = 8192;
/// How far ahead lines are pulled from L2 into L1.
pub const AHEAD_L1: usize = 512;

/// Prefetches the cache lines of the `bytes` that lie [`AHEAD_L2`] bytes
/// after `at` into L2 and those [`AHEAD_L1`] after it into L1 (past the end
/// of a matrix too: a prefetch never faults).
#[inline(always)]
pub fn ahead(at: *const u8, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in 0..bytes.div_ceil(64) {
        // SAFETY: a prefetch is a hint; it reads nothing and never faults,
        // whatever the address (SSE, part of x86_64's baseline).
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0, _MM_HINT_T1};
            _mm_prefetch::<_MM_HINT_T1>(at.wrapping_add(AHEAD_L2 + 64 * line) as *const i8);
            _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(AHEAD_L1 + 64 * line) as *const i8);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (at, bytes, AHEAD_L1, AHEAD_L2);
}
