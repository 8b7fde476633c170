//! Decode's Q2_K and Q3_K kernels over 8 interleaved rows (`interleaved.rs`),
//! one row per 32-bit lane of a 256-bit register (AVX2), and the tiled
//! prefill's unpack of a group.
//!
//! Per 32-byte load of quants (4 bytes of each of the 8 rows), the four 2-bit
//! fields come out by shifts and masks (Q3_K: each with its hmask bit as +4),
//! and each meets one broadcast of 4 activation bytes (`vpmaddubsw`). The i16
//! sums of a 16-value group stay small (Q2_K ≤ 4·2·3·128 = 3072, Q3_K ≤
//! 4·2·7·128 = 7168), so the group's scale is applied to them directly with
//! one `vpmaddwd` against the scale in both i16 halves of each lane: no
//! widening step and no 32-bit multiply. The mins (Q2_K) and the −4 offset
//! (Q3_K) go through the activation group sums, two groups per `vpmaddwd`.
//! The float epilogue is `unpacked::epilogue` in every lane, so each output
//! equals `unpacked::dot_fast` bit for bit (`core/tests/interleaved_kernels.rs`).
//!
//! The AVX-512 VNNI tier runs these too: `vpdpbusd` would need a 32-bit
//! multiply per group scale, which this form avoids.

#![allow(clippy::missing_safety_doc)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::interleaved::GROUP_ROWS;
use super::unpacked::UnpackedBlock;
use super::x86_interleaved::{f16_row_factors, transpose_8x8};
use crate::quant::BlockQ8K;

/// Bytes of one block of an interleaved Q2_K group (8 x 84).
const Q2K_GROUP_BLOCK: usize = 672;
/// Bytes of one block of an interleaved Q3_K group (8 x 110).
const Q3K_GROUP_BLOCK: usize = 880;
/// Offset of the quant words in a Q2_K group block.
const Q2K_QS: usize = 160;

/// Offset of step w's three words (hmask[4w], qs[4w], qs[32 + 4w]) in a
/// Q3_K group block.
const fn q3_k_step(w: usize) -> usize {
    112 + 96 * w
}

/// Field j (bits 2j..2j+2) of every byte, still to be masked. 16-bit shifts:
/// bits crossing from the higher byte lie above the field.
#[inline(always)]
unsafe fn field_2bit(v: __m256i, j: usize) -> __m256i {
    match j {
        0 => v,
        1 => _mm256_srli_epi16::<2>(v),
        2 => _mm256_srli_epi16::<4>(v),
        _ => _mm256_srli_epi16::<6>(v),
    }
}

/// Bit `bit` of every byte moved to bit 2 (the Q3_K quant's +4), still to be
/// masked. Shifts of at most 5 keep each byte's bit inside its byte.
#[inline(always)]
unsafe fn hmask_bit(h: __m256i, bit: usize) -> __m256i {
    match bit {
        0 => _mm256_slli_epi16::<2>(h),
        1 => _mm256_slli_epi16::<1>(h),
        2 => h,
        3 => _mm256_srli_epi16::<1>(h),
        4 => _mm256_srli_epi16::<2>(h),
        5 => _mm256_srli_epi16::<3>(h),
        6 => _mm256_srli_epi16::<4>(h),
        _ => _mm256_srli_epi16::<5>(h),
    }
}

/// Bytes `first` and `second` of each 32-bit lane of `v`, zero-extended into
/// the lane's low and high i16.
#[inline(always)]
unsafe fn bytes_to_i16_pair(v: __m256i, first: usize, second: usize) -> __m256i {
    let lane = |p: usize| ((4 * p + first) | 0x80 << 8 | (4 * p + second) << 16 | 0x80 << 24) as u32 as i32;
    let ctrl = _mm256_setr_epi32(lane(0), lane(1), lane(2), lane(3), lane(0), lane(1), lane(2), lane(3));
    _mm256_shuffle_epi8(v, ctrl)
}

/// Two i16 activation group sums as one i32 (low, high).
#[inline(always)]
fn i16_pair(low: i16, high: i16) -> i32 {
    (low as u16 as u32 | (high as u16 as u32) << 16) as i32
}

#[inline(always)]
unsafe fn load(p: *const u8) -> __m256i {
    _mm256_loadu_si256(p as *const __m256i)
}

/// Q2_K: per half and 16-value group g, 4 loads of quant words feed the 4
/// fields' i16 sums (values 32j + 16g..32j + 16g + 16 of the half: scale
/// 8·half + 2j + g).
/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn group_dot_q2_k_avx2(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    assert!(group.len() >= a.len() * Q2K_GROUP_BLOCK);
    let (m2, m_nibbles) = (_mm256_set1_epi8(3), _mm256_set1_epi32(0x000F_000F));
    let mut acc = _mm256_setzero_ps();
    for (b, ab) in a.iter().enumerate() {
        let base = group.as_ptr().add(b * Q2K_GROUP_BLOCK);
        super::prefetch::ahead(base, Q2K_GROUP_BLOCK);
        let dw = _mm256_cvtph_ps(_mm_loadu_si128(base as *const __m128i));
        let dm = _mm256_cvtph_ps(_mm_loadu_si128(base.add(16) as *const __m128i));
        // Scale byte k: scale in the low nibble, min in the high one.
        let words: [__m256i; 4] = std::array::from_fn(|w| load(base.add(32 + 32 * w)));
        let act = ab.qs.as_ptr() as *const i32;
        let mut isum = _mm256_setzero_si256();
        for half in 0..2 {
            for g in 0..2 {
                let mut sums = [_mm256_setzero_si256(); 4];
                for w in 4 * g..4 * g + 4 {
                    let v = load(base.add(Q2K_QS + 32 * (8 * half + w)));
                    for (j, sum) in sums.iter_mut().enumerate() {
                        let q = _mm256_and_si256(field_2bit(v, j), m2);
                        let x = _mm256_set1_epi32(act.add(32 * half + 8 * j + w).read_unaligned());
                        *sum = _mm256_add_epi16(*sum, _mm256_maddubs_epi16(q, x));
                    }
                }
                for (j, sum) in sums.into_iter().enumerate() {
                    let k = 8 * half + 2 * j + g;
                    let sc = _mm256_and_si256(bytes_to_i16_pair(words[k / 4], k % 4, k % 4), m_nibbles);
                    isum = _mm256_add_epi32(isum, _mm256_madd_epi16(sum, sc));
                }
            }
        }
        // Mins of groups (4w, 4w + 2) and (4w + 1, 4w + 3) in i16 pairs.
        let bs = &ab.bsums;
        let mut msum = _mm256_setzero_si256();
        for (w, word) in words.into_iter().enumerate() {
            let even = _mm256_and_si256(_mm256_srli_epi32::<4>(word), m_nibbles);
            let odd = _mm256_and_si256(_mm256_srli_epi32::<12>(word), m_nibbles);
            let (k0, k1) = (4 * w, 4 * w + 1);
            msum = _mm256_add_epi32(msum, _mm256_madd_epi16(even, _mm256_set1_epi32(i16_pair(bs[k0], bs[k0 + 2]))));
            msum = _mm256_add_epi32(msum, _mm256_madd_epi16(odd, _mm256_set1_epi32(i16_pair(bs[k1], bs[k1 + 2]))));
        }
        // unpacked::epilogue per lane: fma(-msum, dm, isum·dw), then fma(t, da, acc).
        let t = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), dm, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), dw));
        acc = _mm256_fmadd_ps(t, _mm256_set1_ps(ab.d), acc);
    }
    _mm256_storeu_ps(out.as_mut_ptr(), acc);
}

/// The 8 rows' 16 Q3_K scales plus 32 (0..63), as 4 vectors of 4 bytes per
/// lane (byte i of vector v: scale 4v + i): `q3_k::signed_scales` per lane.
#[inline(always)]
unsafe fn q3_k_scales(base: *const u8) -> [__m256i; 4] {
    let (low, top) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(0x03));
    let (a0, a1, a2) = (load(base.add(16)), load(base.add(48)), load(base.add(80)));
    let nib = |v: __m256i| _mm256_and_si256(v, low);
    let high = |v: __m256i| _mm256_slli_epi32::<4>(_mm256_and_si256(v, top));
    [
        _mm256_or_si256(nib(a0), high(a2)),
        _mm256_or_si256(nib(a1), high(_mm256_srli_epi32::<2>(a2))),
        _mm256_or_si256(nib(_mm256_srli_epi32::<4>(a0)), high(_mm256_srli_epi32::<4>(a2))),
        _mm256_or_si256(nib(_mm256_srli_epi32::<4>(a1)), high(_mm256_srli_epi32::<6>(a2))),
    ]
}

/// The 3-bit quants plus 4 (0..7) of field j of `qs` with hmask bit `bit`.
#[inline(always)]
unsafe fn q3_k_quants(qs: __m256i, h: __m256i, j: usize, bit: usize) -> __m256i {
    let low = _mm256_and_si256(field_2bit(qs, j), _mm256_set1_epi8(3));
    _mm256_or_si256(low, _mm256_and_si256(hmask_bit(h, bit), _mm256_set1_epi8(4)))
}

/// Q3_K: per 16-value group g and half, 4 steps of an hmask and a quant load
/// feed the 4 fields' i16 sums (scale 8·half + 2j + g).
/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn group_dot_q3_k_avx2(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    assert!(group.len() >= a.len() * Q3K_GROUP_BLOCK);
    let offset = _mm256_set1_epi16(32);
    let mut acc = _mm256_setzero_ps();
    for (b, ab) in a.iter().enumerate() {
        let base = group.as_ptr().add(b * Q3K_GROUP_BLOCK);
        super::prefetch::ahead(base, Q3K_GROUP_BLOCK);
        let d = _mm256_cvtph_ps(_mm_loadu_si128(base as *const __m128i));
        let scales = q3_k_scales(base);
        let act = ab.qs.as_ptr() as *const i32;
        let mut isum = _mm256_setzero_si256();
        for g in 0..2 {
            for half in 0..2 {
                let mut sums = [_mm256_setzero_si256(); 4];
                for w in 4 * g..4 * g + 4 {
                    let at = base.add(q3_k_step(w));
                    let (h, qs) = (load(at), load(at.add(32 + 32 * half)));
                    for (j, sum) in sums.iter_mut().enumerate() {
                        let q = q3_k_quants(qs, h, j, 4 * half + j);
                        let x = _mm256_set1_epi32(act.add(32 * half + 8 * j + w).read_unaligned());
                        *sum = _mm256_add_epi16(*sum, _mm256_maddubs_epi16(q, x));
                    }
                }
                for (j, sum) in sums.into_iter().enumerate() {
                    let k = 8 * half + 2 * j + g;
                    let sc = _mm256_sub_epi16(bytes_to_i16_pair(scales[k / 4], k % 4, k % 4), offset);
                    isum = _mm256_add_epi32(isum, _mm256_madd_epi16(sum, sc));
                }
            }
        }
        // The −4 offset of every quant: mc = 4·sc through the group sums, two
        // groups (2i, 2i + 1) per lane.
        let mut msum = _mm256_setzero_si256();
        for i in 0..8 {
            let (v, byte) = (scales[i / 2], 2 * (i % 2));
            let sc = _mm256_sub_epi16(bytes_to_i16_pair(v, byte, byte + 1), offset);
            let bsums = _mm256_set1_epi32(i16_pair(ab.bsums[2 * i], ab.bsums[2 * i + 1]));
            msum = _mm256_add_epi32(msum, _mm256_madd_epi16(sc, bsums));
        }
        let msum = _mm256_slli_epi32::<2>(msum);
        let t = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), d, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), d));
        acc = _mm256_fmadd_ps(t, _mm256_set1_ps(ab.d), acc);
    }
    _mm256_storeu_ps(out.as_mut_ptr(), acc);
}

/// Row r's `N` bytes of a field stored as 4-byte words from `at` (`interleaved.rs`).
#[inline(always)]
unsafe fn row_words<const N: usize>(at: *const u8, r: usize) -> [u8; N] {
    std::array::from_fn(|i| *at.add(32 * (i / 4) + 4 * r + i % 4))
}

/// Unpacks one interleaved Q2_K group (`[n_blocks, 672]`) into its 8 rows'
/// [`UnpackedBlock`]s (`out`: `[8, n_blocks]`), equal to plain `unpack_q2_k`.
/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn unpack_group_q2_k(group: &[u8], n_blocks: usize, out: &mut [UnpackedBlock]) {
    assert!(group.len() >= n_blocks * Q2K_GROUP_BLOCK && out.len() >= GROUP_ROWS * n_blocks);
    let m2 = _mm256_set1_epi8(3);
    for b in 0..n_blocks {
        let src = group.as_ptr().add(b * Q2K_GROUP_BLOCK);
        let (d, dmin) = (f16_row_factors(src), f16_row_factors(src.add(16)));
        for r in 0..GROUP_ROWS {
            let o = &mut out[r * n_blocks + b];
            for (k, s) in row_words::<16>(src.add(32), r).into_iter().enumerate() {
                o.sc[k] = (s & 0xF) as i32;
                o.mc[k] = (s >> 4) as i16;
            }
            o.dw = d[r];
            o.dm = dmin[r];
        }
        for half in 0..2 {
            let slots: [__m256i; 8] = std::array::from_fn(|w| load(src.add(Q2K_QS + 32 * (8 * half + w))));
            for (r, qs) in transpose_8x8(slots).into_iter().enumerate() {
                let q = out[r * n_blocks + b].q.as_mut_ptr().add(128 * half);
                for j in 0..4 {
                    _mm256_storeu_si256(q.add(32 * j) as *mut __m256i, _mm256_and_si256(field_2bit(qs, j), m2));
                }
            }
        }
    }
}

/// Unpacks one interleaved Q3_K group (`[n_blocks, 880]`) into its 8 rows'
/// [`UnpackedBlock`]s (`out`: `[8, n_blocks]`), equal to plain `unpack_q3_k`.
/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn unpack_group_q3_k(group: &[u8], n_blocks: usize, out: &mut [UnpackedBlock]) {
    assert!(group.len() >= n_blocks * Q3K_GROUP_BLOCK && out.len() >= GROUP_ROWS * n_blocks);
    for b in 0..n_blocks {
        let src = group.as_ptr().add(b * Q3K_GROUP_BLOCK);
        let d = f16_row_factors(src);
        for r in 0..GROUP_ROWS {
            let o = &mut out[r * n_blocks + b];
            for (k, sc) in crate::quant::q3_k::signed_scales(&row_words::<12>(src.add(16), r)).into_iter().enumerate() {
                o.sc[k] = sc as i32;
                o.mc[k] = 4 * sc as i16;
            }
            o.dw = d[r];
            o.dm = d[r];
        }
        let word_of_steps =
            |word: usize| transpose_8x8(std::array::from_fn(|w| load(src.add(q3_k_step(w) + 32 * word))));
        let hmask = word_of_steps(0);
        for half in 0..2 {
            for (r, qs) in word_of_steps(1 + half).into_iter().enumerate() {
                let q = out[r * n_blocks + b].q.as_mut_ptr().add(128 * half);
                for j in 0..4 {
                    let v = q3_k_quants(qs, hmask[r], j, 4 * half + j);
                    _mm256_storeu_si256(q.add(32 * j) as *mut __m256i, v);
                }
            }
        }
    }
}
