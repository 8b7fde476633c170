//! Software prefetch for the decode products, which each read one sequential
//! stream of weights.
//!
//! The hardware prefetchers alone kept the Q4_K_M TinyLlama stand-in's decode
//! at 76-90% of the bandwidth probe on a 2-core AVX2 EPYC; prefetching the
//! bytes 2-4 KB ahead of the block being read gave +10-25% at one and two
//! threads (2 and 4 KB alike there; 4 KB for machines with more bandwidth per
//! core). wasm has no prefetch instruction and aarch64's cores were not timed:
//! a no-op there.

/// How far ahead of the bytes being read the decode products prefetch.
pub const AHEAD: usize = 4096;

/// Prefetches the cache lines of the `bytes` that lie [`AHEAD`] bytes after
/// `at` (past the end of a matrix too: a prefetch never faults).
#[inline(always)]
pub fn ahead(at: *const u8, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in 0..bytes.div_ceil(64) {
        // SAFETY: a prefetch is a hint; it reads nothing and never faults,
        // whatever the address (SSE, part of x86_64's baseline).
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(AHEAD + 64 * line) as *const i8);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (at, bytes, AHEAD);
}
