//! Decode's Q4_1 kernel over 8 interleaved rows (`interleaved.rs`), one row
//! per 32-bit lane of a 256-bit register (AVX2), and the tiled prefill's
//! unpack of a group.
//!
//! Per 32-value block and group (160 bytes): the 8 rows' d and m are one f16
//! vector each, and each of the 4 quant words (4 bytes of each row) gives its
//! low and high nibbles, which meet one broadcast of 4 activation bytes each
//! (`vpmaddubsw`). All 8 i16 pair sums of a block add without overflow
//! (8·2·15·127 = 30480), so one `vpmaddwd` widens them. Then the float steps
//! of `unpacked32::dot_fast32` in every lane: `acc + isum·(d·da)`, then
//! `acc + m·s`, so decode equals the tiled prefill bit for bit
//! (`core/tests/interleaved_kernels.rs`). The per-row kernel, like
//! llama.cpp's, reduces every row to one float per block with a horizontal
//! sum and decoded SmolLM2-135M compute-bound at 7 GB/s.

#![allow(clippy::missing_safety_doc)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::interleaved::GROUP_ROWS;
use super::unpacked32::Unpacked32;
use crate::quant::BlockQ8_1;

/// Bytes of one block of an interleaved Q4_1 group (8 x 20).
const Q4_1_GROUP_BLOCK: usize = 160;
/// Offset of the quant words in a group block (after 8 d and 8 m).
const QS: usize = 32;

/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn group_dot_q4_1_avx2(group: &[u8], a: &[BlockQ8_1], out: &mut [f32; GROUP_ROWS]) {
    assert!(group.len() >= a.len() * Q4_1_GROUP_BLOCK);
    let (low, ones) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi16(1));
    let mut acc = _mm256_setzero_ps();
    for (b, ab) in a.iter().enumerate() {
        let base = group.as_ptr().add(b * Q4_1_GROUP_BLOCK);
        super::prefetch::ahead(base, Q4_1_GROUP_BLOCK);
        let d = _mm256_cvtph_ps(_mm_loadu_si128(base as *const __m128i));
        let m = _mm256_cvtph_ps(_mm_loadu_si128(base.add(16) as *const __m128i));
        let act = ab.qs.as_ptr() as *const i32;
        let mut sums = _mm256_setzero_si256();
        for w in 0..4 {
            let v = _mm256_loadu_si256(base.add(QS + 32 * w) as *const __m256i);
            let (lo, hi) = (_mm256_and_si256(v, low), _mm256_and_si256(_mm256_srli_epi16::<4>(v), low));
            sums = _mm256_add_epi16(sums, _mm256_maddubs_epi16(lo, _mm256_set1_epi32(act.add(w).read_unaligned())));
            sums = _mm256_add_epi16(sums, _mm256_maddubs_epi16(hi, _mm256_set1_epi32(act.add(4 + w).read_unaligned())));
        }
        let isum = _mm256_cvtepi32_ps(_mm256_madd_epi16(sums, ones));
        // The activation's d and s, both f16, in one conversion.
        let ds = _mm_cvtph_ps(_mm_cvtsi32_si128((&ab.d as *const _ as *const i32).read_unaligned()));
        let (da, s) = (_mm256_broadcastss_ps(ds), _mm256_broadcastss_ps(_mm_movehdup_ps(ds)));
        acc = _mm256_fmadd_ps(isum, _mm256_mul_ps(d, da), acc);
        acc = _mm256_fmadd_ps(m, s, acc);
    }
    _mm256_storeu_ps(out.as_mut_ptr(), acc);
}

/// Unpacks one interleaved Q4_1 group (`[n_blocks, 160]`) into its 8 rows'
/// [`Unpacked32`] blocks (`out`: `[8, n_blocks]`), equal to plain
/// `unpack_all32` of each row.
///
/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn unpack_group_q4_1(group: &[u8], n_blocks: usize, out: &mut [Unpacked32]) {
    assert!(group.len() >= n_blocks * Q4_1_GROUP_BLOCK && out.len() >= GROUP_ROWS * n_blocks);
    for b in 0..n_blocks {
        let src = group.as_ptr().add(b * Q4_1_GROUP_BLOCK);
        let (mut d, mut m) = ([0.0f32; GROUP_ROWS], [0.0f32; GROUP_ROWS]);
        _mm256_storeu_ps(d.as_mut_ptr(), _mm256_cvtph_ps(_mm_loadu_si128(src as *const __m128i)));
        _mm256_storeu_ps(m.as_mut_ptr(), _mm256_cvtph_ps(_mm_loadu_si128(src.add(16) as *const __m128i)));
        for r in 0..GROUP_ROWS {
            let o = &mut out[r * n_blocks + b];
            for w in 0..4 {
                for i in 0..4 {
                    let byte = *src.add(QS + 32 * w + 4 * r + i);
                    o.q[4 * w + i] = byte & 0xF;
                    o.q[16 + 4 * w + i] = byte >> 4;
                }
            }
            o.d = d[r];
            o.m = m[r];
        }
    }
}
