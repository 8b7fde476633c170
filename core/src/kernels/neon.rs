//! NEON kernels for aarch64, each mirroring its scalar twin in `crate::quant`.
//! Byte dot products come in two flavours behind the [`ByteDot`] trait: plain
//! NEON (`smull` + pairwise add) and the dotprod extension's `sdot` (4× fewer
//! instructions), chosen at run time. Rust's `vdotq_s32` is not stable yet, so
//! `sdot` is emitted with inline asm in functions compiled with `dotprod`.

#![allow(clippy::missing_safety_doc)]

use std::arch::aarch64::*;

use crate::quant::scalar_math::F16Bytes;
use crate::quant::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ6K, BlockQ8K, BlockQ8_0, BlockQ8_1,
};

/// acc += Σ over groups of four of a_i·b_i (i8 × i8 → i32 lanes).
pub trait ByteDot {
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t;
}

/// Baseline NEON: widening multiplies, pairwise accumulate.
pub struct Mull;
impl ByteDot for Mull {
    #[inline(always)]
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        let lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
        let hi = vmull_high_s8(a, b);
        vpadalq_s16(vpadalq_s16(acc, lo), hi)
    }
}

/// The dotprod extension's `sdot`.
pub struct Sdot;
impl ByteDot for Sdot {
    #[inline(always)]
    unsafe fn dot(mut acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        std::arch::asm!(
            "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack)
        );
        acc
    }
}

#[inline(always)]
unsafe fn ld_i8(x: &[i8]) -> int8x16_t {
    debug_assert!(x.len() >= 16);
    vld1q_s8(x.as_ptr())
}

#[inline(always)]
unsafe fn ld_u8(x: &[u8]) -> uint8x16_t {
    debug_assert!(x.len() >= 16);
    vld1q_u8(x.as_ptr())
}

/// Σ a·b over 32 bytes.
#[inline(always)]
unsafe fn dot32<D: ByteDot>(a0: int8x16_t, a1: int8x16_t, b: &[i8]) -> int32x4_t {
    D::dot(D::dot(vdupq_n_s32(0), a0, ld_i8(b)), a1, ld_i8(&b[16..]))
}

/// 32 bits to 32 bytes: `0x10` where the bit is set (byte k ← bit k).
#[inline(always)]
unsafe fn fifth_bits(qh: u32) -> (uint8x16_t, uint8x16_t) {
    const BIT: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    let bit = vld1q_u8(BIT.as_ptr());
    let b = qh.to_le_bytes();
    let lo = vcombine_u8(vdup_n_u8(b[0]), vdup_n_u8(b[1]));
    let hi = vcombine_u8(vdup_n_u8(b[2]), vdup_n_u8(b[3]));
    let sixteen = vdupq_n_u8(0x10);
    (vandq_u8(vtstq_u8(lo, bit), sixteen), vandq_u8(vtstq_u8(hi, bit), sixteen))
}

#[inline(always)]
unsafe fn q8_0<D: ByteDot>(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = vdupq_n_f32(0.0);
    for (wb, ab) in w.iter().zip(a) {
        let sumi = dot32::<D>(ld_i8(&wb.qs), ld_i8(&wb.qs[16..]), &ab.qs);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(sumi), wb.d.to_f32() * ab.d.to_f32());
    }
    vaddvq_f32(acc)
}

#[inline(always)]
unsafe fn q4_0<D: ByteDot>(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = vdupq_n_f32(0.0);
    let (mask, eight) = (vdupq_n_u8(0x0F), vdupq_n_s8(8));
    for (wb, ab) in w.iter().zip(a) {
        let bytes = ld_u8(&wb.qs);
        let lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(bytes, mask)), eight);
        let hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4)), eight);
        let sumi = dot32::<D>(lo, hi, &ab.qs);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(sumi), wb.d.to_f32() * ab.d.to_f32());
    }
    vaddvq_f32(acc)
}

#[inline(always)]
unsafe fn q5_0<D: ByteDot>(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = vdupq_n_f32(0.0);
    let (mask, sixteen) = (vdupq_n_u8(0x0F), vdupq_n_s8(16));
    for (wb, ab) in w.iter().zip(a) {
        let bytes = ld_u8(&wb.qs);
        let (h0, h1) = fifth_bits(u32::from_le_bytes(wb.qh));
        let lo = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(bytes, mask), h0)), sixteen);
        let hi = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(bytes, 4), h1)), sixteen);
        let sumi = dot32::<D>(lo, hi, &ab.qs);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(sumi), wb.d.to_f32() * ab.d.to_f32());
    }
    vaddvq_f32(acc)
}

#[inline(always)]
unsafe fn q4_1<D: ByteDot>(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    let mut acc = vdupq_n_f32(0.0);
    let mut mins = 0.0f32;
    let mask = vdupq_n_u8(0x0F);
    for (wb, ab) in w.iter().zip(a) {
        let bytes = ld_u8(&wb.qs);
        let lo = vreinterpretq_s8_u8(vandq_u8(bytes, mask));
        let hi = vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4));
        let sumi = dot32::<D>(lo, hi, &ab.qs);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(sumi), wb.d.to_f32() * ab.d.to_f32());
        mins += wb.m.to_f32() * ab.s.to_f32();
    }
    vaddvq_f32(acc) + mins
}

/// Q4_K/Q5_K block integer sum; `fifth(chunk)` gives the 0x10 bits (zero for Q4_K).
#[inline(always)]
unsafe fn k4_sumi<D: ByteDot>(
    qs: &[u8; 128],
    scales: &[u8; 8],
    acts: &[i8; 256],
    fifth: impl Fn(usize) -> [uint8x16_t; 4],
) -> i32 {
    let mask = vdupq_n_u8(0x0F);
    let mut sumi = 0i32;
    for chunk in 0..4 {
        let (b0, b1) = (ld_u8(&qs[32 * chunk..]), ld_u8(&qs[32 * chunk + 16..]));
        let [h0, h1, h2, h3] = fifth(chunk);
        let lo0 = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(b0, mask), h0));
        let lo1 = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(b1, mask), h1));
        let hi0 = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(b0, 4), h2));
        let hi1 = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(b1, 4), h3));
        let s_lo = vaddvq_s32(dot32::<D>(lo0, lo1, &acts[64 * chunk..]));
        let s_hi = vaddvq_s32(dot32::<D>(hi0, hi1, &acts[64 * chunk + 32..]));
        sumi += scales[2 * chunk] as i32 * s_lo + scales[2 * chunk + 1] as i32 * s_hi;
    }
    sumi
}

#[inline(always)]
fn mins_dot_bsums(mins: &[u8; 8], bsums: &[i16; 16]) -> i32 {
    (0..8).map(|j| mins[j] as i32 * (bsums[2 * j] as i32 + bsums[2 * j + 1] as i32)).sum()
}

#[inline(always)]
unsafe fn q4_k<D: ByteDot>(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let zero = vdupq_n_u8(0);
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let (sc, mn) = wb.scales_mins();
        let sumi = k4_sumi::<D>(&wb.qs, &sc, &ab.qs, |_| [zero; 4]);
        let summ = mins_dot_bsums(&mn, &ab.bsums);
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}

#[inline(always)]
unsafe fn q5_k<D: ByteDot>(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    let one = vdupq_n_u8(1);
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let (sc, mn) = wb.scales_mins();
        let (qh0, qh1) = (ld_u8(&wb.qh), ld_u8(&wb.qh[16..]));
        let fifth = |chunk: usize| {
            let bit = |qh: uint8x16_t, n: usize| {
                let shifted = vshlq_u8(qh, vdupq_n_s8(-(n as i8)));
                vshlq_n_u8(vandq_u8(shifted, one), 4)
            };
            [bit(qh0, 2 * chunk), bit(qh1, 2 * chunk), bit(qh0, 2 * chunk + 1), bit(qh1, 2 * chunk + 1)]
        };
        let sumi = k4_sumi::<D>(&wb.qs, &sc, &ab.qs, fifth);
        let summ = mins_dot_bsums(&mn, &ab.bsums);
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}

#[inline(always)]
unsafe fn q6_k<D: ByteDot>(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let (mask, three, offset) = (vdupq_n_u8(0x0F), vdupq_n_u8(3), vdupq_n_s8(32));
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for half in 0..2 {
            for part in 0..2 {
                // 16 lanes at a time: l = 16·part .. 16·part+16 of each quarter.
                let ql0 = ld_u8(&wb.ql[64 * half + 16 * part..]);
                let ql1 = ld_u8(&wb.ql[64 * half + 32 + 16 * part..]);
                let qh = ld_u8(&wb.qh[32 * half + 16 * part..]);
                let high = |shift: i8| vshlq_n_u8(vandq_u8(vshlq_u8(qh, vdupq_n_s8(-shift)), three), 4);
                let quarters = [
                    vorrq_u8(vandq_u8(ql0, mask), high(0)),
                    vorrq_u8(vandq_u8(ql1, mask), high(2)),
                    vorrq_u8(vshrq_n_u8(ql0, 4), high(4)),
                    vorrq_u8(vshrq_n_u8(ql1, 4), high(6)),
                ];
                for (quarter, q) in quarters.into_iter().enumerate() {
                    let start = 128 * half + 32 * quarter + 16 * part;
                    let q = vsubq_s8(vreinterpretq_s8_u8(q), offset);
                    let dot = vaddvq_s32(D::dot(vdupq_n_s32(0), q, ld_i8(&ab.qs[start..])));
                    sumi += wb.scales[start / 16] as i32 * dot;
                }
            }
        }
        sum += ab.d * wb.d.to_f32() * sumi as f32;
    }
    sum
}

/// The integer sum of a 2-bit-plane K-quant block (Q2_K, Q3_K) against Q8_K
/// activations: each 16-value group's dot times its scale, as the scalar
/// twins sum it. `minus(half, plane, part)`: per byte, what to subtract from
/// the 2-bit value (Q3_K's missing high bit: 4).
#[inline(always)]
unsafe fn k2_planes_sumi<D: ByteDot>(
    qs: &[u8; 64],
    acts: &[i8; 256],
    scales: &[i8; 16],
    minus: impl Fn(usize, usize, usize) -> uint8x16_t,
) -> i32 {
    let three = vdupq_n_u8(3);
    let mut sumi = 0i32;
    for half in 0..2 {
        let bits = [ld_u8(&qs[32 * half..]), ld_u8(&qs[32 * half + 16..])];
        for plane in 0..4 {
            for (part, &b) in bits.iter().enumerate() {
                let low = vandq_u8(vshlq_u8(b, vdupq_n_s8(-2 * plane as i8)), three);
                let q = vreinterpretq_s8_u8(vsubq_u8(low, minus(half, plane, part)));
                let start = 128 * half + 32 * plane + 16 * part;
                let dot = vaddvq_s32(D::dot(vdupq_n_s32(0), q, ld_i8(&acts[start..])));
                sumi += scales[8 * half + 2 * plane + part] as i32 * dot;
            }
        }
    }
    sumi
}

#[inline(always)]
unsafe fn q2_k<D: ByteDot>(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    let zero = vdupq_n_u8(0);
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let scales = wb.scales.map(|s| (s & 0x0F) as i8);
        let sumi = k2_planes_sumi::<D>(&wb.qs, &ab.qs, &scales, |_, _, _| zero);
        let summ: i32 = (0..16).map(|j| (wb.scales[j] >> 4) as i32 * ab.bsums[j] as i32).sum();
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}

#[inline(always)]
unsafe fn q3_k<D: ByteDot>(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    let (zero, four) = (vdupq_n_u8(0), vdupq_n_u8(4));
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let hmask = [ld_u8(&wb.hmask), ld_u8(&wb.hmask[16..])];
        // 4 where the quant's high bit is clear.
        let missing_high = |half: usize, plane: usize, part: usize| {
            let bit = vdupq_n_u8(1 << (4 * half + plane));
            vandq_u8(vceqq_u8(vandq_u8(hmask[part], bit), zero), four)
        };
        let sumi = k2_planes_sumi::<D>(&wb.qs, &ab.qs, &wb.signed_scales(), missing_high);
        sum += ab.d * wb.d.to_f32() * sumi as f32;
    }
    sum
}

macro_rules! entry_points {
    ($($name:ident, $dot_name:ident: $inner:ident($w:ty, $a:ty);)*) => {
        $(
            #[target_feature(enable = "neon")]
            pub unsafe fn $name(w: &[$w], a: &[$a]) -> f32 {
                $inner::<Mull>(w, a)
            }

            #[target_feature(enable = "neon,dotprod")]
            pub unsafe fn $dot_name(w: &[$w], a: &[$a]) -> f32 {
                $inner::<Sdot>(w, a)
            }
        )*
    };
}

entry_points! {
    vec_dot_q8_0, vec_dot_q8_0_dotprod: q8_0(BlockQ8_0, BlockQ8_0);
    vec_dot_q4_0, vec_dot_q4_0_dotprod: q4_0(BlockQ4_0, BlockQ8_0);
    vec_dot_q5_0, vec_dot_q5_0_dotprod: q5_0(BlockQ5_0, BlockQ8_0);
    vec_dot_q4_1, vec_dot_q4_1_dotprod: q4_1(BlockQ4_1, BlockQ8_1);
    vec_dot_q2_k, vec_dot_q2_k_dotprod: q2_k(BlockQ2K, BlockQ8K);
    vec_dot_q3_k, vec_dot_q3_k_dotprod: q3_k(BlockQ3K, BlockQ8K);
    vec_dot_q4_k, vec_dot_q4_k_dotprod: q4_k(BlockQ4K, BlockQ8K);
    vec_dot_q5_k, vec_dot_q5_k_dotprod: q5_k(BlockQ5K, BlockQ8K);
    vec_dot_q6_k, vec_dot_q6_k_dotprod: q6_k(BlockQ6K, BlockQ8K);
}

/// Largest |x| over a slice and the first value having it.
#[inline(always)]
unsafe fn signed_absmax(x: &[f32]) -> (f32, f32) {
    let mut m = vdupq_n_f32(0.0);
    for c in x.chunks_exact(4) {
        m = vmaxq_f32(m, vabsq_f32(vld1q_f32(c.as_ptr())));
    }
    let mut amax = vmaxvq_f32(m);
    for &v in x.chunks_exact(4).remainder() {
        amax = amax.max(v.abs());
    }
    (amax, x.iter().copied().find(|v| v.abs() == amax).unwrap_or(0.0))
}

/// `quantize_row_q8_K_ref` vectorized; `fcvtns` rounds to nearest even exactly
/// as ggml's `nearest_int`.
#[target_feature(enable = "neon")]
pub unsafe fn quantize_q8_k(x: &[f32], out: &mut BlockQ8K) {
    let (amax, max) = signed_absmax(&x[..256]);
    out.bsums = [0; 16];
    if amax == 0.0 {
        out.d = 0.0;
        out.qs = [0; 256];
        return;
    }
    let iscale = -127.0 / max;
    let cap = vdupq_n_s32(127);
    for i in (0..256).step_by(4) {
        let r = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x[i..].as_ptr()), iscale)), cap);
        let mut lanes = [0i32; 4];
        vst1q_s32(lanes.as_mut_ptr(), r);
        for k in 0..4 {
            out.qs[i + k] = lanes[k] as i8;
        }
    }
    out.fill_bsums();
    out.d = 1.0 / iscale;
}

/// 32 values × id rounded to nearest, ties to even (`fcvtns`); returns the sum.
#[inline(always)]
unsafe fn quantize_32(x: &[f32], id: f32, qs: &mut [i8; 32]) -> i32 {
    let mut sum = 0;
    for i in (0..32).step_by(4) {
        let r = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x[i..].as_ptr()), id));
        let mut lanes = [0i32; 4];
        vst1q_s32(lanes.as_mut_ptr(), r);
        for k in 0..4 {
            qs[i + k] = lanes[k] as i8;
            // The stored i8, not the lane: equal for finite inputs, and a NaN
            // input (whose lane is i32::MIN) cannot overflow the sum.
            sum += qs[i + k] as i32;
        }
    }
    sum
}

#[target_feature(enable = "neon")]
pub unsafe fn quantize_q8_0(x: &[f32], out: &mut BlockQ8_0) {
    let amax = signed_absmax(&x[..32]).0;
    let (d, id) = (amax / 127.0, if amax != 0.0 { 127.0 / amax } else { 0.0 });
    quantize_32(x, id, &mut out.qs);
    out.d = F16Bytes::from_f32(d);
}

#[target_feature(enable = "neon")]
pub unsafe fn quantize_q8_1(x: &[f32], out: &mut BlockQ8_1) {
    let amax = signed_absmax(&x[..32]).0;
    let (d, id) = (amax / 127.0, if amax != 0.0 { 127.0 / amax } else { 0.0 });
    let sum = quantize_32(x, id, &mut out.qs);
    out.d = F16Bytes::from_f32(d);
    out.s = F16Bytes::from_f32(sum as f32 * d);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{q2_k, q3_k, quantize_blocks};
    use crate::sampler::Rng;

    fn values(rng: &mut Rng, n: usize, scale: f64) -> Vec<f32> {
        (0..n).map(|_| ((rng.next_f64() * 2.0 - 1.0) * scale) as f32).collect()
    }

    #[test]
    fn q2_k_and_q3_k_equal_their_scalar_twins_bit_for_bit() {
        let dotprod = std::arch::is_aarch64_feature_detected!("dotprod");
        let mut rng = Rng::new(7);
        for round in 0..50 {
            let scale = [0.01, 1.0, 300.0][round % 3];
            let x = values(&mut rng, 1024, 1.0);
            let acts: Vec<BlockQ8K> = quantize_blocks(&values(&mut rng, 1024, scale));
            let w2: Vec<BlockQ2K> = quantize_blocks(&x);
            let w3: Vec<BlockQ3K> = quantize_blocks(&x);
            let (want2, want3) = (q2_k::vec_dot(&w2, &acts).to_bits(), q3_k::vec_dot(&w3, &acts).to_bits());
            // SAFETY: neon is part of aarch64; dotprod only where detected.
            unsafe {
                assert_eq!(vec_dot_q2_k(&w2, &acts).to_bits(), want2, "round {round}");
                assert_eq!(vec_dot_q3_k(&w3, &acts).to_bits(), want3, "round {round}");
                if dotprod {
                    assert_eq!(vec_dot_q2_k_dotprod(&w2, &acts).to_bits(), want2, "round {round}");
                    assert_eq!(vec_dot_q3_k_dotprod(&w3, &acts).to_bits(), want3, "round {round}");
                }
            }
        }
    }
}
