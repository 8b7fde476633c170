//! wasm simd128 kernels, each mirroring its scalar twin in `crate::quant`.
//! wasm has no run-time feature detection: these exist when the module is built
//! with `-C target-feature=+simd128` (the default npm build) and the scalar
//! kernels serve the no-SIMD build. Q5_K and Q6_K are here too: peers lack them,
//! and a slow Q6_K output head dominates Q4_K_M decoding in the browser.
//!
//! simd128 has no byte dot product: bytes are widened to i16 and
//! `i32x4.dot_i16x8_s` multiplies and adds pairs into i32 lanes.

use std::arch::wasm32::*;

use crate::quant::scalar_math::F16Bytes;
use crate::quant::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ6K, BlockQ8K, BlockQ8_0, BlockQ8_1,
};

#[inline(always)]
pub(super) fn ld(x: &[u8]) -> v128 {
    assert!(x.len() >= 16);
    // SAFETY: 16 bytes are in bounds (checked above); v128_load allows any alignment.
    unsafe { v128_load(x.as_ptr() as *const v128) }
}

#[inline(always)]
pub(super) fn ld_i8(x: &[i8]) -> v128 {
    assert!(x.len() >= 16);
    // SAFETY: as above.
    unsafe { v128_load(x.as_ptr() as *const v128) }
}

/// Σ a·b over 16 signed bytes into 4 i32 lanes.
#[inline(always)]
fn dot16(a: v128, b: v128) -> v128 {
    let lo = i32x4_dot_i16x8(i16x8_extend_low_i8x16(a), i16x8_extend_low_i8x16(b));
    let hi = i32x4_dot_i16x8(i16x8_extend_high_i8x16(a), i16x8_extend_high_i8x16(b));
    i32x4_add(lo, hi)
}

#[inline(always)]
fn dot32(a0: v128, a1: v128, b: &[i8]) -> v128 {
    i32x4_add(dot16(a0, ld_i8(b)), dot16(a1, ld_i8(&b[16..])))
}

#[inline(always)]
pub(super) fn hsum_i32(v: v128) -> i32 {
    i32x4_extract_lane::<0>(v) + i32x4_extract_lane::<1>(v) + i32x4_extract_lane::<2>(v) + i32x4_extract_lane::<3>(v)
}

#[inline(always)]
pub(super) fn hsum_f32(v: v128) -> f32 {
    (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v))
        + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v))
}

/// The high nibble of each byte. `u8x16.shr_u` has no x86 instruction (V8
/// emits a 16-bit shift and rebuilds a mask constant each time); the 16-bit
/// shift and one mask do the same. The shifts below are 16-bit for the same
/// reason, each followed by a mask that drops what crosses from the next byte.
#[inline(always)]
pub(super) fn hi4(v: v128) -> v128 {
    v128_and(u16x8_shr(v, 4), u8x16_splat(0x0F))
}

/// Q5_K's fifth bits (`0x10`) for the four 16-byte runs of 32-value chunk
/// `chunk` (low nibbles then high), from the block's `qh` as two vectors.
#[inline(always)]
pub(super) fn q5_k_fifth(qh0: v128, qh1: v128, chunk: usize) -> [v128; 4] {
    let bit = |qh: v128, n: usize| i16x8_shl(v128_and(u16x8_shr(qh, n as u32), u8x16_splat(1)), 4);
    [bit(qh0, 2 * chunk), bit(qh1, 2 * chunk), bit(qh0, 2 * chunk + 1), bit(qh1, 2 * chunk + 1)]
}

/// Q6_K's unsigned 6-bit quants (0..=63) of one (half, part) of a block: the
/// four 16-byte runs at `128·half + 32·quarter + 16·part`.
#[inline(always)]
pub(super) fn q6_k_quarters(b: &BlockQ6K, half: usize, part: usize) -> [v128; 4] {
    let mask = u8x16_splat(0x0F);
    let ql0 = ld(&b.ql[64 * half + 16 * part..]);
    let ql1 = ld(&b.ql[64 * half + 32 + 16 * part..]);
    let qh = ld(&b.qh[32 * half + 16 * part..]);
    let high = |shift: u32| i16x8_shl(v128_and(u16x8_shr(qh, shift), u8x16_splat(3)), 4);
    [
        v128_or(v128_and(ql0, mask), high(0)),
        v128_or(v128_and(ql1, mask), high(2)),
        v128_or(hi4(ql0), high(4)),
        v128_or(hi4(ql1), high(6)),
    ]
}

/// `0x10` in byte k where bit k of `qh` is set.
#[inline(always)]
pub(super) fn fifth_bits(qh: u32) -> (v128, v128) {
    let bit = u8x16(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
    let bytes = u32x4_splat(qh);
    // Byte j of qh repeated 8 times per half: one shuffle, not 16 lane inserts.
    let spread0 = i8x16_swizzle(bytes, u8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    let spread1 = i8x16_swizzle(bytes, u8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    let set = |v: v128| v128_and(u8x16_eq(v128_and(v, bit), bit), u8x16_splat(0x10));
    (set(spread0), set(spread1))
}

pub fn vec_dot_q8_0(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = f32x4_splat(0.0);
    for (wb, ab) in w.iter().zip(a) {
        let sumi = dot32(ld_i8(&wb.qs), ld_i8(&wb.qs[16..]), &ab.qs);
        acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(sumi), f32x4_splat(wb.d.to_f32() * ab.d.to_f32())));
    }
    hsum_f32(acc)
}

pub fn vec_dot_q4_0(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = f32x4_splat(0.0);
    let (mask, eight) = (u8x16_splat(0x0F), i8x16_splat(8));
    for (wb, ab) in w.iter().zip(a) {
        let bytes = ld(&wb.qs);
        let lo = i8x16_sub(v128_and(bytes, mask), eight);
        let hi = i8x16_sub(hi4(bytes), eight);
        let sumi = dot32(lo, hi, &ab.qs);
        acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(sumi), f32x4_splat(wb.d.to_f32() * ab.d.to_f32())));
    }
    hsum_f32(acc)
}

pub fn vec_dot_q5_0(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = f32x4_splat(0.0);
    let (mask, sixteen) = (u8x16_splat(0x0F), i8x16_splat(16));
    for (wb, ab) in w.iter().zip(a) {
        let bytes = ld(&wb.qs);
        let (h0, h1) = fifth_bits(u32::from_le_bytes(wb.qh));
        let lo = i8x16_sub(v128_or(v128_and(bytes, mask), h0), sixteen);
        let hi = i8x16_sub(v128_or(hi4(bytes), h1), sixteen);
        let sumi = dot32(lo, hi, &ab.qs);
        acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(sumi), f32x4_splat(wb.d.to_f32() * ab.d.to_f32())));
    }
    hsum_f32(acc)
}

pub fn vec_dot_q4_1(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    let mut acc = f32x4_splat(0.0);
    let mut mins = 0.0f32;
    let mask = u8x16_splat(0x0F);
    for (wb, ab) in w.iter().zip(a) {
        let bytes = ld(&wb.qs);
        let sumi = dot32(v128_and(bytes, mask), hi4(bytes), &ab.qs);
        acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(sumi), f32x4_splat(wb.d.to_f32() * ab.d.to_f32())));
        mins += wb.m.to_f32() * ab.s.to_f32();
    }
    hsum_f32(acc) + mins
}

#[inline(always)]
fn k4_sumi(qs: &[u8; 128], scales: &[u8; 8], acts: &[i8; 256], fifth: impl Fn(usize) -> [v128; 4]) -> i32 {
    let mask = u8x16_splat(0x0F);
    let mut sumi = 0i32;
    for chunk in 0..4 {
        let (b0, b1) = (ld(&qs[32 * chunk..]), ld(&qs[32 * chunk + 16..]));
        let [h0, h1, h2, h3] = fifth(chunk);
        let lo = dot32(v128_or(v128_and(b0, mask), h0), v128_or(v128_and(b1, mask), h1), &acts[64 * chunk..]);
        let hi = dot32(v128_or(hi4(b0), h2), v128_or(hi4(b1), h3), &acts[64 * chunk + 32..]);
        sumi += scales[2 * chunk] as i32 * hsum_i32(lo) + scales[2 * chunk + 1] as i32 * hsum_i32(hi);
    }
    sumi
}

#[inline(always)]
fn mins_dot_bsums(mins: &[u8; 8], bsums: &[i16; 16]) -> i32 {
    (0..8).map(|j| mins[j] as i32 * (bsums[2 * j] as i32 + bsums[2 * j + 1] as i32)).sum()
}

pub fn vec_dot_q4_k(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let zero = u8x16_splat(0);
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let (sc, mn) = wb.scales_mins();
        let sumi = k4_sumi(&wb.qs, &sc, &ab.qs, |_| [zero; 4]);
        let summ = mins_dot_bsums(&mn, &ab.bsums);
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}

pub fn vec_dot_q5_k(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let (sc, mn) = wb.scales_mins();
        let (qh0, qh1) = (ld(&wb.qh), ld(&wb.qh[16..]));
        let sumi = k4_sumi(&wb.qs, &sc, &ab.qs, |chunk| q5_k_fifth(qh0, qh1, chunk));
        let summ = mins_dot_bsums(&mn, &ab.bsums);
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}

pub fn vec_dot_q6_k(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let offset = i8x16_splat(32);
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for half in 0..2 {
            for part in 0..2 {
                for (quarter, q) in q6_k_quarters(wb, half, part).into_iter().enumerate() {
                    let start = 128 * half + 32 * quarter + 16 * part;
                    let dot = hsum_i32(dot16(i8x16_sub(q, offset), ld_i8(&ab.qs[start..])));
                    sumi += wb.scales[start / 16] as i32 * dot;
                }
            }
        }
        sum += ab.d * wb.d.to_f32() * sumi as f32;
    }
    sum
}

/// The integer sum of a 2-bit-plane K-quant block (Q2_K, Q3_K) against Q8_K
/// activations: each 16-value group's dot times its scale (`scales`), as the
/// scalar twins sum it (integers: any order gives the same). `minus(half,
/// plane, part)`: per byte, what to subtract from the 2-bit value (Q3_K's
/// missing high bit: 4).
#[inline(always)]
fn k2_planes_sumi(
    qs: &[u8; 64],
    acts: &[i8; 256],
    scales: &[i8; 16],
    minus: impl Fn(usize, usize, usize) -> v128,
) -> i32 {
    let three = u8x16_splat(3);
    let mut sumi = i32x4_splat(0);
    for half in 0..2 {
        let bits = [ld(&qs[32 * half..]), ld(&qs[32 * half + 16..])];
        for plane in 0..4 {
            for (part, &b) in bits.iter().enumerate() {
                let q = i8x16_sub(v128_and(u16x8_shr(b, 2 * plane as u32), three), minus(half, plane, part));
                let group = 8 * half + 2 * plane + part;
                let dot = dot16(q, ld_i8(&acts[128 * half + 32 * plane + 16 * part..]));
                sumi = i32x4_add(sumi, i32x4_mul(dot, i32x4_splat(scales[group] as i32)));
            }
        }
    }
    hsum_i32(sumi)
}

/// Q2_K · Q8_K, bit-equal to the scalar twin (the same integer sums, the
/// same float expression per block).
pub fn vec_dot_q2_k(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    let zero = u8x16_splat(0);
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let scales = wb.scales.map(|s| (s & 0x0F) as i8);
        let sumi = k2_planes_sumi(&wb.qs, &ab.qs, &scales, |_, _, _| zero);
        let mins = hi4(ld(&wb.scales));
        let bsums = [ld_i8(bytemuck::cast_slice(&ab.bsums[..8])), ld_i8(bytemuck::cast_slice(&ab.bsums[8..]))];
        let summ = i32x4_add(
            i32x4_dot_i16x8(u16x8_extend_low_u8x16(mins), bsums[0]),
            i32x4_dot_i16x8(u16x8_extend_high_u8x16(mins), bsums[1]),
        );
        let summ = hsum_i32(summ);
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}

/// Q3_K · Q8_K, bit-equal to the scalar twin.
pub fn vec_dot_q3_k(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let hmask = [ld(&wb.hmask), ld(&wb.hmask[16..])];
        // 4 where the quant's high bit is clear.
        let missing_high = |half: usize, plane: usize, part: usize| {
            let bit = u8x16_splat(1 << (4 * half + plane));
            v128_and(i8x16_eq(v128_and(hmask[part], bit), u8x16_splat(0)), u8x16_splat(4))
        };
        let sumi = k2_planes_sumi(&wb.qs, &ab.qs, &wb.signed_scales(), missing_high);
        sum += ab.d * wb.d.to_f32() * sumi as f32;
    }
    sum
}

fn signed_absmax(x: &[f32]) -> (f32, f32) {
    let mut m = f32x4_splat(0.0);
    let chunks = x.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        m = f32x4_max(m, f32x4_abs(f32x4(c[0], c[1], c[2], c[3])));
    }
    let mut amax = f32x4_extract_lane::<0>(m)
        .max(f32x4_extract_lane::<1>(m))
        .max(f32x4_extract_lane::<2>(m))
        .max(f32x4_extract_lane::<3>(m));
    for &v in tail {
        amax = amax.max(v.abs());
    }
    (amax, x.iter().copied().find(|v| v.abs() == amax).unwrap_or(0.0))
}

/// `quantize_row_q8_K_ref`; `f32x4.nearest` rounds half to even like ggml's `nearest_int`.
pub fn quantize_q8_k(x: &[f32], out: &mut BlockQ8K) {
    let (amax, max) = signed_absmax(&x[..256]);
    out.bsums = [0; 16];
    if amax == 0.0 {
        out.d = 0.0;
        out.qs = [0; 256];
        return;
    }
    let iscale = -127.0 / max;
    let vscale = f32x4_splat(iscale);
    for i in (0..256).step_by(4) {
        let v = f32x4_mul(f32x4(x[i], x[i + 1], x[i + 2], x[i + 3]), vscale);
        let r = i32x4_min(i32x4_trunc_sat_f32x4(f32x4_nearest(v)), i32x4_splat(127));
        out.qs[i] = i32x4_extract_lane::<0>(r) as i8;
        out.qs[i + 1] = i32x4_extract_lane::<1>(r) as i8;
        out.qs[i + 2] = i32x4_extract_lane::<2>(r) as i8;
        out.qs[i + 3] = i32x4_extract_lane::<3>(r) as i8;
    }
    out.fill_bsums();
    out.d = 1.0 / iscale;
}

fn quantize_32(x: &[f32], id: f32, qs: &mut [i8; 32]) -> i32 {
    let mut sum = 0;
    for i in (0..32).step_by(4) {
        // Ties to even, as llama.cpp's CPU activation quantizer.
        let r =
            i32x4_trunc_sat_f32x4(f32x4_nearest(f32x4_mul(f32x4(x[i], x[i + 1], x[i + 2], x[i + 3]), f32x4_splat(id))));
        let lanes = [
            i32x4_extract_lane::<0>(r),
            i32x4_extract_lane::<1>(r),
            i32x4_extract_lane::<2>(r),
            i32x4_extract_lane::<3>(r),
        ];
        for k in 0..4 {
            qs[i + k] = lanes[k] as i8;
            // The stored i8, not the lane: equal for finite inputs, and a NaN
            // input (whose lane is i32::MIN) cannot overflow the sum.
            sum += qs[i + k] as i32;
        }
    }
    sum
}

pub fn quantize_q8_0(x: &[f32], out: &mut BlockQ8_0) {
    let amax = signed_absmax(&x[..32]).0;
    let (d, id) = (amax / 127.0, if amax != 0.0 { 127.0 / amax } else { 0.0 });
    quantize_32(x, id, &mut out.qs);
    out.d = F16Bytes::from_f32(d);
}

pub fn quantize_q8_1(x: &[f32], out: &mut BlockQ8_1) {
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
        let mut rng = Rng::new(7);
        for round in 0..50 {
            let scale = [0.01, 1.0, 300.0][round % 3];
            let x = values(&mut rng, 1024, 1.0);
            let acts: Vec<BlockQ8K> = quantize_blocks(&values(&mut rng, 1024, scale));
            let w2: Vec<BlockQ2K> = quantize_blocks(&x);
            assert_eq!(vec_dot_q2_k(&w2, &acts).to_bits(), q2_k::vec_dot(&w2, &acts).to_bits(), "round {round}");
            let w3: Vec<BlockQ3K> = quantize_blocks(&x);
            assert_eq!(vec_dot_q3_k(&w3, &acts).to_bits(), q3_k::vec_dot(&w3, &acts).to_bits(), "round {round}");
        }
    }
}
