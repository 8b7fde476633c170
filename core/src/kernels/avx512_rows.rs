//! AVX-512 per-row (decode) kernel for Q6_K: the AVX2 kernel's arithmetic in
//! 512-bit registers, bit for bit, at ~1.6x its speed.
//!
//! Decode streams every weight once per token, so a row kernel must keep up
//! with memory. AVX2's Q6_K kernel assembles each 32-value quarter from two
//! 32-byte loads with shifts, masks and ors, and builds every scale vector
//! from two broadcasts: ~11 ns per 210-byte block on a Zen 5 core (~19 GB/s).
//! Here one 64-byte register holds two quarters in order (`ql`'s 64 bytes,
//! low or high nibbles, plus `qh`'s bits broadcast to both halves and shifted
//! per half), so the activations load straight from the Q8_K block; one
//! `vpermw` widens four scales, and `vpdpwssd` applies them and accumulates
//! in one instruction: ~6.8 ns per block (~30 GB/s).
//!
//! Q4_K and Q5_K got the same treatment and were no faster: on this core a
//! 512-bit multiply or shuffle issues once per cycle, two 256-bit ones do, so
//! their AVX2 kernels, which have no wasted shuffles, are already at the
//! multiplier's rate (~7 ns per block, measured side by side). They keep AVX2's.
//!
//! Why the results are identical to `avx2.rs`: the integer sums are exact,
//! and the 16 i32 lanes here hold the AVX2 kernel's 8 lanes for one quarter
//! and then for the next; adding the two 256-bit halves at the end of the
//! block gives the AVX2 lanes exactly, and from there the float steps are the
//! AVX2 kernel's in the same order. So this tier serves the exact kernel set
//! too (`core/tests/kernel_equivalence.rs` compares the two bit for bit).
//!
//! Callers guarantee `avx512f`, `avx512bw`, `avx512vnni`, `avx2`, `fma` and
//! `f16c` (see `Isa::detect`).

#![allow(clippy::missing_safety_doc)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::avx2::hsum_f32;
use crate::quant::{BlockQ6K, BlockQ8K};

/// 16-bit lanes: `lo` in the low 256 bits, `hi` in the high 256 bits.
#[inline(always)]
unsafe fn halves_epi16(lo: i16, hi: i16) -> __m512i {
    _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(lo)), _mm256_set1_epi16(hi), 1)
}

/// The two 256-bit halves of `v` added: the AVX2 kernel's 8 lanes.
#[inline(always)]
unsafe fn fold_halves(v: __m512i) -> __m256i {
    _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1))
}

/// Q6_K: per 128-value half, one register holds quarters 0 and 1 (the low
/// nibbles of `ql`'s 64 bytes) and one quarters 2 and 3 (the high nibbles);
/// their 2 high bits come from the half's 32 `qh` bytes, broadcast and
/// shifted per register half. Each 128-bit lane is one 16-value scale group.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
pub unsafe fn vec_dot_q6_k(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let low_mask = _mm512_set1_epi8(0x0F);
    let high_mask = _mm512_set1_epi8(0x30);
    // Quarter 0 takes qh bits 0-1 and quarter 1 bits 2-3, moved to bits 4-5;
    // quarter 2's bits 4-5 stay, quarter 3's 6-7 move down by 2.
    let (shift_01, shift_23) = (halves_epi16(4, 2), halves_epi16(0, 2));
    // Word indices into the 16 widened scales: group 4g + lane for 128-bit lane.
    let groups: [__m512i; 4] = std::array::from_fn(|g| {
        let g = 4 * g as i16;
        _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_set_m128i(_mm_set1_epi16(g + 1), _mm_set1_epi16(g))),
            _mm256_set_m128i(_mm_set1_epi16(g + 3), _mm_set1_epi16(g + 2)),
            1,
        )
    });
    let mut acc = _mm256_setzero_ps();
    for (wb, ab) in w.iter().zip(a) {
        let sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(wb.scales.as_ptr() as *const __m128i));
        let sc512 = _mm512_castsi256_si512(sc16);
        let mut sumi = _mm512_setzero_si512();
        for half in 0..2 {
            let ql = _mm512_loadu_si512(wb.ql.as_ptr().add(64 * half) as *const _);
            let qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(wb.qh.as_ptr().add(32 * half) as *const __m256i));
            let q01 = _mm512_or_si512(
                _mm512_and_si512(ql, low_mask),
                _mm512_and_si512(_mm512_sllv_epi16(qh, shift_01), high_mask),
            );
            let q23 = _mm512_or_si512(
                _mm512_and_si512(_mm512_srli_epi16(ql, 4), low_mask),
                _mm512_and_si512(_mm512_srlv_epi16(qh, shift_23), high_mask),
            );
            let acts = ab.qs.as_ptr().add(128 * half);
            let p01 = _mm512_maddubs_epi16(q01, _mm512_loadu_si512(acts as *const _));
            let p23 = _mm512_maddubs_epi16(q23, _mm512_loadu_si512(acts.add(64) as *const _));
            sumi = _mm512_dpwssd_epi32(sumi, p01, _mm512_permutexvar_epi16(groups[2 * half], sc512));
            sumi = _mm512_dpwssd_epi32(sumi, p23, _mm512_permutexvar_epi16(groups[2 * half + 1], sc512));
        }
        // The −32 offset through the activation sums, as in avx2.rs.
        let bsums = _mm256_loadu_si256(ab.bsums.as_ptr() as *const __m256i);
        let offset = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5);
        let total = _mm256_cvtepi32_ps(_mm256_sub_epi32(fold_halves(sumi), offset));
        let d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(u16::from_le_bytes(wb.d.0) as i32)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ab.d * d), total, acc);
    }
    hsum_f32(acc)
}
