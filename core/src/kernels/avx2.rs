//! AVX2 + FMA kernels: fused dequantize-dot of one weight row against quantized
//! activations, and the activation quantizers. Each mirrors its scalar twin in
//! `crate::quant` and is checked against it (integer sums exact, float within
//! rounding). Callers guarantee the CPU has `avx2`, `fma` and `f16c` (see `Isa::detect`).
//!
//! The core trick: `maddubs` multiplies 32 unsigned weight bytes by 32 signed
//! activation bytes and adds neighbours into 16 i16; `madd` with the sub-block
//! scale widens to i32 and applies the scale in the same instruction. One float
//! FMA per block (or sub-block group) turns the integer sum into the result.

#![allow(clippy::missing_safety_doc)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use crate::quant::kquant_search::unpack_scales_mins_k4;
use crate::quant::scalar_math::F16Bytes;
use crate::quant::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ6K, BlockQ8K, BlockQ8_0, BlockQ8_1,
};

#[inline(always)]
pub(super) unsafe fn hsum_f32(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps(v, 1);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// The product of two f16 scales with one hardware conversion (F16C), instead
/// of two software ones.
#[inline(always)]
unsafe fn f16_product(a: F16Bytes, b: F16Bytes) -> f32 {
    let bits = _mm_set_epi16(0, 0, 0, 0, 0, 0, u16::from_le_bytes(b.0) as i16, u16::from_le_bytes(a.0) as i16);
    let f = _mm_cvtph_ps(bits);
    _mm_cvtss_f32(_mm_mul_ss(f, _mm_movehdup_ps(f)))
}

/// Two f16 values to f32 with one conversion.
#[inline(always)]
unsafe fn f16_pair(a: F16Bytes, b: F16Bytes) -> (f32, f32) {
    let bits = _mm_set_epi16(0, 0, 0, 0, 0, 0, u16::from_le_bytes(b.0) as i16, u16::from_le_bytes(a.0) as i16);
    let f = _mm_cvtph_ps(bits);
    (_mm_cvtss_f32(f), _mm_cvtss_f32(_mm_movehdup_ps(f)))
}

#[inline(always)]
unsafe fn load(bytes: &[u8]) -> __m256i {
    debug_assert!(bytes.len() >= 32);
    _mm256_loadu_si256(bytes.as_ptr() as *const __m256i)
}

#[inline(always)]
unsafe fn load_i8(bytes: &[i8]) -> __m256i {
    debug_assert!(bytes.len() >= 32);
    _mm256_loadu_si256(bytes.as_ptr() as *const __m256i)
}

/// Signed × signed byte dot into 8 i32 lanes: maddubs needs an unsigned left
/// operand, so move x's sign onto y (|x| · sign(x)·y). |x| <= 128, |y| <= 127.
#[inline(always)]
unsafe fn dot_i8_i8(x: __m256i, y: __m256i) -> __m256i {
    let p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    _mm256_madd_epi16(p16, _mm256_set1_epi16(1))
}

/// Unsigned × signed byte dot into 8 i32 lanes.
#[inline(always)]
unsafe fn dot_u8_i8(x: __m256i, y: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1))
}

/// 16 bytes of nibbles to 32 bytes: low nibbles first, then high nibbles.
#[inline(always)]
unsafe fn nibbles_32(qs: &[u8; 16]) -> __m256i {
    let bytes = _mm_loadu_si128(qs.as_ptr() as *const __m128i);
    let both = _mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes);
    _mm256_and_si256(both, _mm256_set1_epi8(0x0F))
}

/// 32 bits to 32 bytes: 0xFF where the bit is set (byte k ← bit k).
#[inline(always)]
unsafe fn bits_to_bytes(bits: u32) -> __m256i {
    let v = _mm256_set1_epi32(bits as i32);
    // byte k takes source byte k/8 of the u32
    let spread = _mm256_shuffle_epi8(
        v,
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000),
    );
    let mask = _mm256_set1_epi64x(0x8040201008040201u64 as i64);
    _mm256_cmpeq_epi8(_mm256_and_si256(spread, mask), mask)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q8_0(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    for (wb, ab) in w.iter().zip(a) {
        let sumi = dot_i8_i8(load_i8(&wb.qs), load_i8(&ab.qs));
        let d = _mm256_set1_ps(f16_product(wb.d, ab.d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32(acc)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q4_0(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    let eight = _mm256_set1_epi8(8);
    for (wb, ab) in w.iter().zip(a) {
        let q = _mm256_sub_epi8(nibbles_32(&wb.qs), eight);
        let sumi = dot_i8_i8(q, load_i8(&ab.qs));
        let d = _mm256_set1_ps(f16_product(wb.d, ab.d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32(acc)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q5_0(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    for (wb, ab) in w.iter().zip(a) {
        let high = _mm256_and_si256(bits_to_bytes(u32::from_le_bytes(wb.qh)), _mm256_set1_epi8(0x10));
        let q = _mm256_sub_epi8(_mm256_or_si256(nibbles_32(&wb.qs), high), _mm256_set1_epi8(16));
        let sumi = dot_i8_i8(q, load_i8(&ab.qs));
        let d = _mm256_set1_ps(f16_product(wb.d, ab.d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32(acc)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q4_1(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    let mut mins = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let sumi = dot_u8_i8(nibbles_32(&wb.qs), load_i8(&ab.qs));
        let d = _mm256_set1_ps(f16_product(wb.d, ab.d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
        mins += f16_product(wb.m, ab.s);
    }
    hsum_f32(acc) + mins
}

/// Q4_K/Q5_K: the integer sum Σ_j sc_j·Σ q·a of one block as 8 i32 lanes.
/// `fifth(chunk)` gives the 0x10 bits of the low and high halves (zero for Q4_K).
#[inline(always)]
unsafe fn k4_block_sumi(
    qs: &[u8; 128],
    scales: [u8; 8],
    acts: &[i8; 256],
    fifth: impl Fn(usize) -> (__m256i, __m256i),
) -> __m256i {
    let low_mask = _mm256_set1_epi8(0x0F);
    let mut sumi = _mm256_setzero_si256();
    for chunk in 0..4 {
        let bytes = load(&qs[32 * chunk..]);
        let (hi_lo, hi_hi) = fifth(chunk);
        let q_lo = _mm256_or_si256(_mm256_and_si256(bytes, low_mask), hi_lo);
        let q_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_mask), hi_hi);
        let p_lo = _mm256_maddubs_epi16(q_lo, load_i8(&acts[64 * chunk..]));
        let p_hi = _mm256_maddubs_epi16(q_hi, load_i8(&acts[64 * chunk + 32..]));
        // madd applies the sub-block scale while widening to i32.
        let s_lo = _mm256_madd_epi16(p_lo, _mm256_set1_epi16(scales[2 * chunk] as i16));
        let s_hi = _mm256_madd_epi16(p_hi, _mm256_set1_epi16(scales[2 * chunk + 1] as i16));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(s_lo, s_hi));
    }
    sumi
}

/// Σ_j min_j · (bsum_2j + bsum_2j+1) as 4 i32 lanes: the mins folded in through
/// the activation block sums (8 multiplies instead of 256).
#[inline(always)]
unsafe fn k4_mins_dot_bsums(mins: [u32; 2], bsums: &[i16; 16]) -> __m128i {
    let mins16 = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, mins[1] as i32, mins[0] as i32));
    let b = _mm256_loadu_si256(bsums.as_ptr() as *const __m256i);
    let pairs = _mm_hadd_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
    _mm_madd_epi16(mins16, pairs)
}

#[inline(always)]
fn scale_bytes(w: [u32; 2]) -> [u8; 8] {
    (w[0] as u64 | (w[1] as u64) << 32).to_le_bytes()
}

#[inline(always)]
unsafe fn hsum_f32_128(v: __m128) -> f32 {
    let s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q4_k(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let zero = _mm256_setzero_si256();
    // Float accumulators stay in registers across blocks: one FMA per block.
    let (mut acc, mut acc_m) = (_mm256_setzero_ps(), _mm_setzero_ps());
    for (wb, ab) in w.iter().zip(a) {
        let (sc, mn) = unpack_scales_mins_k4(&wb.scales);
        let sumi = k4_block_sumi(&wb.qs, scale_bytes(sc), &ab.qs, |_| (zero, zero));
        let (d, dmin) = f16_pair(wb.d, wb.dmin);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ab.d * d), _mm256_cvtepi32_ps(sumi), acc);
        let summ = k4_mins_dot_bsums(mn, &ab.bsums);
        acc_m = _mm_fmadd_ps(_mm_set1_ps(ab.d * dmin), _mm_cvtepi32_ps(summ), acc_m);
    }
    hsum_f32(acc) - hsum_f32_128(acc_m)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q5_k(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    let one = _mm256_set1_epi8(1);
    let (mut acc, mut acc_m) = (_mm256_setzero_ps(), _mm_setzero_ps());
    for (wb, ab) in w.iter().zip(a) {
        let (sc, mn) = unpack_scales_mins_k4(&wb.scales);
        let qh = load(&wb.qh);
        let fifth = |chunk: usize| {
            let bit = |n: i32| {
                let shifted = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(n));
                _mm256_slli_epi16(_mm256_and_si256(shifted, one), 4)
            };
            (bit(2 * chunk as i32), bit(2 * chunk as i32 + 1))
        };
        let sumi = k4_block_sumi(&wb.qs, scale_bytes(sc), &ab.qs, fifth);
        let (d, dmin) = f16_pair(wb.d, wb.dmin);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ab.d * d), _mm256_cvtepi32_ps(sumi), acc);
        let summ = k4_mins_dot_bsums(mn, &ab.bsums);
        acc_m = _mm_fmadd_ps(_mm_set1_ps(ab.d * dmin), _mm_cvtepi32_ps(summ), acc_m);
    }
    hsum_f32(acc) - hsum_f32_128(acc_m)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q6_k(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let low_mask = _mm256_set1_epi8(0x0F);
    let three = _mm256_set1_epi8(3);
    let mut acc = _mm256_setzero_ps();
    for (wb, ab) in w.iter().zip(a) {
        let mut sumi = _mm256_setzero_si256();
        for half in 0..2 {
            let ql0 = load(&wb.ql[64 * half..]);
            let ql1 = load(&wb.ql[64 * half + 32..]);
            let qh = load(&wb.qh[32 * half..]);
            let high = |shift: i32| {
                let bits = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(shift)), three);
                _mm256_slli_epi16(bits, 4)
            };
            let quarters = [
                _mm256_or_si256(_mm256_and_si256(ql0, low_mask), high(0)),
                _mm256_or_si256(_mm256_and_si256(ql1, low_mask), high(2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_mask), high(4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_mask), high(6)),
            ];
            for (quarter, q) in quarters.into_iter().enumerate() {
                let start = 128 * half + 32 * quarter;
                let p16 = _mm256_maddubs_epi16(q, load_i8(&ab.qs[start..]));
                let group = start / 16;
                let scale = _mm256_set_m128i(
                    _mm_set1_epi16(wb.scales[group + 1] as i16),
                    _mm_set1_epi16(wb.scales[group] as i16),
                );
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16, scale));
            }
        }
        // The −32 offset of every quant, folded in through the activation sums:
        // 32·Σ_j sc_j·bsum_j, 16 multiplies instead of 256 subtractions.
        let sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(wb.scales.as_ptr() as *const __m128i));
        let bsums = _mm256_loadu_si256(ab.bsums.as_ptr() as *const __m256i);
        let offset = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5);
        let total = _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi, offset));
        let d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(u16::from_le_bytes(wb.d.0) as i32)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ab.d * d), total, acc);
    }
    hsum_f32(acc)
}

/// The integer part of a 2-bit-plane K-quant block (Q2_K, Q3_K) against
/// Q8_K activations in 8 i32 lanes, grouped as llama.cpp's AVX2 kernels group
/// it: the block's 32-byte rows (two halves of `qs`, four 2-bit planes each)
/// times 32 activations, lane k summing bytes 4k..4k+4 of every row, scaled by
/// the row's 16-value group scale (`scales`, 16 values). `hmask`: Q3_K's high
/// bits (a quant whose bit is clear is 4 less: a second `maddubs` subtracted).
/// No closures here: they would not inherit the caller's target features.
#[inline(always)]
unsafe fn k2_planes_dot(qs: &[u8; 64], acts: &[i8; 256], scales: &[i16; 16], hmask: Option<__m256i>) -> __m256i {
    let m3 = _mm256_set1_epi8(3);
    let mut sumi = _mm256_setzero_si256();
    for half in 0..2 {
        let bits = load(&qs[32 * half..]);
        for plane in 0..4 {
            let q = _mm256_and_si256(_mm256_srl_epi16(bits, _mm_cvtsi32_si128(2 * plane as i32)), m3);
            let a = load_i8(&acts[128 * half + 32 * plane..]);
            let mut p16 = _mm256_maddubs_epi16(q, a);
            if let Some(h) = hmask {
                let bit = _mm256_set1_epi8((1u8 << (4 * half + plane)) as i8);
                let clear = _mm256_cmpeq_epi8(_mm256_and_si256(h, bit), _mm256_setzero_si256());
                p16 = _mm256_sub_epi16(p16, _mm256_maddubs_epi16(_mm256_and_si256(clear, _mm256_set1_epi8(4)), a));
            }
            // Bytes 0..16 of the row are group 8·half + 2·plane, 16..32 the next.
            let group = 8 * half + 2 * plane;
            let scale = _mm256_set_m128i(_mm_set1_epi16(scales[group + 1]), _mm_set1_epi16(scales[group]));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16, scale));
        }
    }
    sumi
}

/// 16 bytes widened to 16 i16 (sign-extended or zero-extended).
#[inline(always)]
unsafe fn widen_16(bytes: __m128i, signed: bool) -> [i16; 16] {
    let wide = if signed { _mm256_cvtepi8_epi16(bytes) } else { _mm256_cvtepu8_epi16(bytes) };
    let mut out = [0i16; 16];
    _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, wide);
    out
}

/// Q2_K · Q8_K in llama.cpp's AVX2 order: per block, the mins (through the
/// activation sums, in 8 lanes) times −d_a·dmin, then the quants times
/// d_a·d, each fused into an 8-lane accumulator; one horizontal sum at the
/// end. Integer sums equal the scalar twin's.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q2_k(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    let low = _mm_set1_epi8(0x0F);
    let mut acc = _mm256_setzero_ps();
    for (wb, ab) in w.iter().zip(a) {
        let (d, dmin) = f16_pair(wb.d, wb.dmin);
        let packed = _mm_loadu_si128(wb.scales.as_ptr() as *const __m128i);
        let mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), low));
        let bsums = _mm256_loadu_si256(ab.bsums.as_ptr() as *const __m256i);
        let summs = _mm256_madd_epi16(mins, bsums);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(-ab.d * dmin), _mm256_cvtepi32_ps(summs), acc);
        let scales = widen_16(_mm_and_si128(packed, low), false);
        let sumi = k2_planes_dot(&wb.qs, &ab.qs, &scales, None);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ab.d * d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32(acc)
}

/// Q3_K · Q8_K in llama.cpp's AVX2 order: per block, the quants times d_a·d
/// fused into an 8-lane accumulator; one horizontal sum at the end.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q3_k(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    for (wb, ab) in w.iter().zip(a) {
        let signed = wb.signed_scales();
        let scales = widen_16(_mm_loadu_si128(signed.as_ptr() as *const __m128i), true);
        let sumi = k2_planes_dot(&wb.qs, &ab.qs, &scales, Some(load(&wb.hmask)));
        let d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(u16::from_le_bytes(wb.d.0) as i32)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ab.d * d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32(acc)
}

/// Largest |x| and the first value that has it (ggml's "max" keeps the sign).
#[inline(always)]
unsafe fn signed_absmax(x: &[f32]) -> (f32, f32) {
    let sign_off = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let mut m = _mm256_setzero_ps();
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(c.as_ptr()), sign_off));
    }
    let lo = _mm256_castps256_ps128(m);
    let s = _mm_max_ps(lo, _mm256_extractf128_ps(m, 1));
    let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_max_ss(s, _mm_movehdup_ps(s));
    let mut amax = _mm_cvtss_f32(s);
    for &v in tail {
        amax = amax.max(v.abs());
    }
    let max = x.iter().copied().find(|v| v.abs() == amax).unwrap_or(0.0);
    (amax, max)
}

/// `quantize_row_q8_K_ref`, vectorized; bit-identical to the scalar one
/// (`round_ps` to nearest even is exactly ggml's `nearest_int` in range).
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_q8_k(x: &[f32], out: &mut BlockQ8K) {
    let (amax, max) = signed_absmax(&x[..256]);
    out.bsums = [0; 16];
    if amax == 0.0 {
        out.d = 0.0;
        out.qs = [0; 256];
        return;
    }
    let iscale = -127.0 / max;
    let vscale = _mm256_set1_ps(iscale);
    let cap = _mm256_set1_epi32(127);
    for i in (0..256).step_by(8) {
        let v = _mm256_mul_ps(vscale, _mm256_loadu_ps(x[i..].as_ptr()));
        let r = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        let r = _mm256_min_epi32(r, cap);
        let mut lanes = [0i32; 8];
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, r);
        for k in 0..8 {
            out.qs[i + k] = lanes[k] as i8;
        }
    }
    out.fill_bsums();
    out.d = 1.0 / iscale;
}

/// Quantizes 32 values to i8, ties to even; returns the integer sum.
#[inline(always)]
unsafe fn quantize_32(x: &[f32], id: f32, qs: &mut [i8; 32]) -> i32 {
    let vid = _mm256_set1_ps(id);
    let mut sum = 0;
    for i in (0..32).step_by(8) {
        let scaled = _mm256_mul_ps(_mm256_loadu_ps(x[i..].as_ptr()), vid);
        let r = _mm256_cvtps_epi32(_mm256_round_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        let mut lanes = [0i32; 8];
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, r);
        for k in 0..8 {
            qs[i + k] = lanes[k] as i8;
            // The stored i8, not the lane: equal for finite inputs, and a NaN
            // input (whose lane is i32::MIN) cannot overflow the sum.
            sum += qs[i + k] as i32;
        }
    }
    sum
}

#[inline(always)]
unsafe fn absmax_32(x: &[f32]) -> f32 {
    signed_absmax(&x[..32]).0
}

/// [`BlockQ8_0::quantize_activation`] for one block, vectorized and bit-identical.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_q8_0(x: &[f32], out: &mut BlockQ8_0) {
    let amax = absmax_32(x);
    let (d, id) = (amax / 127.0, if amax != 0.0 { 127.0 / amax } else { 0.0 });
    quantize_32(x, id, &mut out.qs);
    out.d = F16Bytes::from_f32(d);
}

/// [`BlockQ8_1::quantize_activation`] for one block, vectorized and bit-identical.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_q8_1(x: &[f32], out: &mut BlockQ8_1) {
    let amax = absmax_32(x);
    let (d, id) = (amax / 127.0, if amax != 0.0 { 127.0 / amax } else { 0.0 });
    let sum = quantize_32(x, id, &mut out.qs);
    out.d = F16Bytes::from_f32(d);
    out.s = F16Bytes::from_f32(sum as f32 * d);
}
