//! Decode's kernels for the 32-value formats over 8 interleaved rows
//! (`interleaved.rs`), one row per 32-bit lane of a 256-bit register (AVX2):
//! Q4_1 against Q8_1, Q5_0 and Q8_0 against Q8_0; and the tiled prefill's
//! unpack of a group.
//!
//! Per block and group, the 8 rows' f16 factors are one vector each, and each
//! of the 4 quant words (4 bytes of each row) gives its low and high
//! nibbles, which meet one broadcast of 4 activation bytes each
//! (`vpmaddubsw`). Q5_0's fifth bits come out of the rows' `qh` words by a
//! byte shuffle and a bit test per byte. The i16 pair sums of a block add
//! without overflow (Q4_1: all 8, 8·2·15·127 = 30480; Q5_0: 4 per half,
//! 4·2·31·127 = 31496), so `vpmaddwd` widens them. Then the float steps of
//! `unpacked32::dot_fast32` in every lane, so decode equals the tiled
//! prefill bit for bit (`core/tests/interleaved_kernels.rs`). The per-row
//! kernels, like llama.cpp's, reduce every row to one float per block with a
//! horizontal sum: SmolLM2-135M (Q4_1) decoded compute-bound at 7 GB/s.

#![allow(clippy::missing_safety_doc)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::interleaved::GROUP_ROWS;
use super::unpacked32::{set_nibbles, Unpacked32};
use super::x86_interleaved::{f16_row_factors, transpose_8x8};
use crate::quant::{BlockQ8_0, BlockQ8_1};

/// Bytes of one block of an interleaved Q4_1 group (8 x 20).
const Q4_1_GROUP_BLOCK: usize = 160;
/// Offset of the quant words in a Q4_1 group block (after 8 d and 8 m).
const QS: usize = 32;
/// Bytes of one block of an interleaved Q5_0 group (8 x 22).
const Q5_0_GROUP_BLOCK: usize = 176;
/// Offsets of the `qh` words and the quant words in a Q5_0 group block.
const Q5_0_QH: usize = 16;
const Q5_0_QS: usize = 48;

/// Bytes of one block of an interleaved Q8_0 group (8 x 34): 8 d, 8 quant words.
const Q8_0_GROUP_BLOCK: usize = 272;

/// Q8_0: per quant word, the 8 rows' signed bytes meet the broadcast
/// activation bytes as `|w|·sign(a, w)` (`vpmaddubsw` takes one unsigned
/// operand; pairs at most 2·128·127, so each word's pair sums widen on
/// their own). The per-row kernel converts and scales every row's block in
/// floats and sums lanes at the end; here one conversion and one FMA serve
/// 8 rows.
///
/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn group_dot_q8_0_avx2(group: &[u8], a: &[BlockQ8_0], out: &mut [f32; GROUP_ROWS]) {
    assert!(group.len() >= a.len() * Q8_0_GROUP_BLOCK);
    let ones = _mm256_set1_epi16(1);
    let mut acc = _mm256_setzero_ps();
    for (b, ab) in a.iter().enumerate() {
        let base = group.as_ptr().add(b * Q8_0_GROUP_BLOCK);
        super::prefetch::ahead(base, Q8_0_GROUP_BLOCK);
        let d = _mm256_cvtph_ps(_mm_loadu_si128(base as *const __m128i));
        let act = ab.qs.as_ptr() as *const i32;
        let mut sums = _mm256_setzero_si256();
        for w in 0..8 {
            let v = _mm256_loadu_si256(base.add(16 + 32 * w) as *const __m256i);
            let x = _mm256_set1_epi32(act.add(w).read_unaligned());
            let p = _mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(x, v));
            sums = _mm256_add_epi32(sums, _mm256_madd_epi16(p, ones));
        }
        let da = _mm_cvtph_ps(_mm_cvtsi32_si128((&ab.d as *const _ as *const u16).read_unaligned() as i32));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(d, _mm256_broadcastss_ps(da)), acc);
    }
    _mm256_storeu_ps(out.as_mut_ptr(), acc);
}

/// Unpacks one interleaved Q8_0 group (`[n_blocks, 272]`) into its 8 rows'
/// [`Unpacked32`] blocks (`out`: `[8, n_blocks]`), equal to plain
/// `unpack_all32` of each row (quants plus 128).
///
/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn unpack_group_q8_0(group: &[u8], n_blocks: usize, out: &mut [Unpacked32]) {
    assert!(group.len() >= n_blocks * Q8_0_GROUP_BLOCK && out.len() >= GROUP_ROWS * n_blocks);
    let flip = _mm256_set1_epi8(0x80u8 as i8);
    for b in 0..n_blocks {
        let src = group.as_ptr().add(b * Q8_0_GROUP_BLOCK);
        let d = f16_row_factors(src);
        let slots: [__m256i; 8] = std::array::from_fn(|w| _mm256_loadu_si256(src.add(16 + 32 * w) as *const __m256i));
        for (r, q) in transpose_8x8(slots).into_iter().enumerate() {
            let o = &mut out[r * n_blocks + b];
            _mm256_storeu_si256(o.q.as_mut_ptr() as *mut __m256i, _mm256_xor_si256(q, flip));
            o.d = d[r];
            o.m = 0.0;
        }
    }
}

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
        let (d, m) = (f16_row_factors(src), f16_row_factors(src.add(16)));
        for r in 0..GROUP_ROWS {
            let qs: [u8; 16] = std::array::from_fn(|i| *src.add(QS + 32 * (i / 4) + 4 * r + i % 4));
            set_nibbles(&qs, 0, d[r], m[r], &mut out[r * n_blocks + b]);
        }
    }
}

/// The fifth bits (0x10) of 4 values per lane for Q5_0: byte `byte` of each
/// row's `qh` word holds them at bits `shift..shift + 4`; byte i of the lane
/// gets bit `shift + i`.
#[inline(always)]
unsafe fn fifth_bits(qh: __m256i, byte: usize, shift: usize) -> __m256i {
    let b = byte as i32;
    let spread = b | b << 8 | b << 16 | b << 24;
    let lane = |p: i32| spread + 0x0404_0404 * p;
    let ctrl = _mm256_setr_epi32(lane(0), lane(1), lane(2), lane(3), lane(0), lane(1), lane(2), lane(3));
    let bits = _mm256_set1_epi32((0x0804_0201u32 << shift) as i32);
    let hit = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(qh, ctrl), bits), bits);
    _mm256_and_si256(hit, _mm256_set1_epi8(0x10))
}

/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn group_dot_q5_0_avx2(group: &[u8], a: &[BlockQ8_0], out: &mut [f32; GROUP_ROWS]) {
    assert!(group.len() >= a.len() * Q5_0_GROUP_BLOCK);
    let (low, ones8, ones16) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(1), _mm256_set1_epi16(1));
    let mut acc = _mm256_setzero_ps();
    for (b, ab) in a.iter().enumerate() {
        let base = group.as_ptr().add(b * Q5_0_GROUP_BLOCK);
        super::prefetch::ahead(base, Q5_0_GROUP_BLOCK);
        let d = _mm256_cvtph_ps(_mm_loadu_si128(base as *const __m128i));
        let qh = _mm256_loadu_si256(base.add(Q5_0_QH) as *const __m256i);
        let act = ab.qs.as_ptr() as *const i32;
        // Σ a of the block, for the −16 offset (the same for all 8 rows).
        let pairs = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, _mm256_loadu_si256(act as *const __m256i)), ones16);
        let quad = _mm_add_epi32(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256::<1>(pairs));
        let two = _mm_add_epi32(quad, _mm_shuffle_epi32::<0x4E>(quad));
        let asum = _mm256_broadcastd_epi32(_mm_add_epi32(two, _mm_shuffle_epi32::<0xB1>(two)));
        let (mut lo_sums, mut hi_sums) = (_mm256_setzero_si256(), _mm256_setzero_si256());
        for w in 0..4 {
            let v = _mm256_loadu_si256(base.add(Q5_0_QS + 32 * w) as *const __m256i);
            // Values 4w..4w+4 (qh bits 4w..) and 16+4w.. (qh bits 16+4w..).
            let lo = _mm256_or_si256(_mm256_and_si256(v, low), fifth_bits(qh, w / 2, 4 * (w % 2)));
            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), low);
            let hi = _mm256_or_si256(hi, fifth_bits(qh, 2 + w / 2, 4 * (w % 2)));
            lo_sums =
                _mm256_add_epi16(lo_sums, _mm256_maddubs_epi16(lo, _mm256_set1_epi32(act.add(w).read_unaligned())));
            hi_sums =
                _mm256_add_epi16(hi_sums, _mm256_maddubs_epi16(hi, _mm256_set1_epi32(act.add(4 + w).read_unaligned())));
        }
        let dot = _mm256_add_epi32(_mm256_madd_epi16(lo_sums, ones16), _mm256_madd_epi16(hi_sums, ones16));
        let isum = _mm256_cvtepi32_ps(_mm256_sub_epi32(dot, _mm256_slli_epi32::<4>(asum)));
        let da = _mm_cvtph_ps(_mm_cvtsi32_si128((&ab.d as *const _ as *const u16).read_unaligned() as i32));
        acc = _mm256_fmadd_ps(isum, _mm256_mul_ps(d, _mm256_broadcastss_ps(da)), acc);
    }
    _mm256_storeu_ps(out.as_mut_ptr(), acc);
}

/// Unpacks one interleaved Q5_0 group (`[n_blocks, 176]`) into its 8 rows'
/// [`Unpacked32`] blocks (`out`: `[8, n_blocks]`), equal to plain
/// `unpack_all32` of each row.
///
/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn unpack_group_q5_0(group: &[u8], n_blocks: usize, out: &mut [Unpacked32]) {
    assert!(group.len() >= n_blocks * Q5_0_GROUP_BLOCK && out.len() >= GROUP_ROWS * n_blocks);
    for b in 0..n_blocks {
        let src = group.as_ptr().add(b * Q5_0_GROUP_BLOCK);
        let d = f16_row_factors(src);
        for r in 0..GROUP_ROWS {
            let qh = u32::from_le_bytes(std::array::from_fn(|i| *src.add(Q5_0_QH + 4 * r + i)));
            let qs: [u8; 16] = std::array::from_fn(|i| *src.add(Q5_0_QS + 32 * (i / 4) + 4 * r + i % 4));
            set_nibbles(&qs, qh, d[r], 0.0, &mut out[r * n_blocks + b]);
        }
    }
}
