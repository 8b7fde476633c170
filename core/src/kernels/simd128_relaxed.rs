//! wasm relaxed-SIMD kernels (`-C target-feature=+simd128,+relaxed-simd`, the
//! `relaxed` browser build): `i32x4.relaxed_dot_i8x16_i7x16_add_s` multiplies
//! 16 signed activation bytes with 16 weight bytes and adds groups of four into
//! i32 lanes in one instruction (V8 emits `vpdpbusd` on CPUs with VNNI, three
//! instructions elsewhere), where the simd128 kernels widen to i16 first
//! (about 9 instructions per 16 products, plus lane extraction per 32 values).
//!
//! The instruction is deterministic only while the second operand fits 7 bits
//! (0..=127). K-quant, Q4_1 and (offset) Q4_0/Q5_0 quants are unsigned and
//! small, so they are always the second operand; activations (−127..=127) the
//! first. The offsets (Q4_0's 8, Q5_0's 16, Q6_K's 32) are taken out of the
//! integer sums afterwards with the activations' own sums, so every block's
//! integer sum is the same integer the simd128 and scalar kernels compute and
//! the float epilogue is theirs, operation for operation: results are bit-equal
//! to the simd128 kernels (`core/tests/kernel_equivalence.rs` checks them
//! against the scalar twins). Q8_0 weights are signed and keep the simd128 kernel.

use std::arch::wasm32::*;

use super::simd128::{fifth_bits, hi4, hsum_f32, ld, ld_i8, q5_k_fifth, q6_k_quarters};
use crate::quant::{BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ6K, BlockQ8K, BlockQ8_0, BlockQ8_1};

/// `acc + Σ a·w` over 16 byte pairs into 4 i32 lanes; `w` must be 0..=127.
#[inline(always)]
fn dot_add(a: v128, w: v128, acc: v128) -> v128 {
    i32x4_relaxed_dot_i8x16_i7x16_add(a, w, acc)
}

/// Σ a·w over 32 values (`a` from 32 activation bytes), `w` 0..=127.
#[inline(always)]
fn dot32(a: &[i8], w0: v128, w1: v128) -> v128 {
    dot_add(ld_i8(&a[16..]), w1, dot_add(ld_i8(a), w0, i32x4_splat(0)))
}

/// Σ a over 32 activation bytes, into 4 i32 lanes.
#[inline(always)]
fn sum32(a: &[i8]) -> v128 {
    let one = i8x16_splat(1);
    dot_add(ld_i8(&a[16..]), one, dot_add(ld_i8(a), one, i32x4_splat(0)))
}

/// The 32-value formats: `sumi` from unsigned quants `(w0, w1)` minus
/// `offset · Σa`, then the simd128 kernels' float step.
#[inline(always)]
fn block32_step(acc: v128, a: &BlockQ8_0, w0: v128, w1: v128, offset: i32, d: f32) -> v128 {
    let mut sumi = dot32(&a.qs, w0, w1);
    if offset != 0 {
        sumi = i32x4_sub(sumi, i32x4_mul(sum32(&a.qs), i32x4_splat(offset)));
    }
    f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(sumi), f32x4_splat(d)))
}

pub fn vec_dot_q4_0(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = f32x4_splat(0.0);
    let mask = u8x16_splat(0x0F);
    for (wb, ab) in w.iter().zip(a) {
        let bytes = ld(&wb.qs);
        let d = wb.d.to_f32() * ab.d.to_f32();
        acc = block32_step(acc, ab, v128_and(bytes, mask), hi4(bytes), 8, d);
    }
    hsum_f32(acc)
}

pub fn vec_dot_q5_0(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = f32x4_splat(0.0);
    let mask = u8x16_splat(0x0F);
    for (wb, ab) in w.iter().zip(a) {
        let bytes = ld(&wb.qs);
        let (h0, h1) = fifth_bits(u32::from_le_bytes(wb.qh));
        let (lo, hi) = (v128_or(v128_and(bytes, mask), h0), v128_or(hi4(bytes), h1));
        acc = block32_step(acc, ab, lo, hi, 16, wb.d.to_f32() * ab.d.to_f32());
    }
    hsum_f32(acc)
}

pub fn vec_dot_q4_1(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    let mut acc = f32x4_splat(0.0);
    let mut mins = 0.0f32;
    let mask = u8x16_splat(0x0F);
    for (wb, ab) in w.iter().zip(a) {
        let bytes = ld(&wb.qs);
        let sumi = dot32(&ab.qs, v128_and(bytes, mask), hi4(bytes));
        acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(sumi), f32x4_splat(wb.d.to_f32() * ab.d.to_f32())));
        mins += wb.m.to_f32() * ab.s.to_f32();
    }
    hsum_f32(acc) + mins
}

/// `Σ a·w` of two 16-byte runs summed per i16 pair of lanes (`i16x8.relaxed_dot`,
/// one `pmaddubsw` in V8); with quants up to 31, pairs of these add without
/// overflow (2 · 2 · 127 · 31 < 2^15).
#[inline(always)]
fn dot32_i16(a: &[i8], w0: v128, w1: v128) -> v128 {
    i16x8_add(i16x8_relaxed_dot_i8x16_i7x16(ld_i8(a), w0), i16x8_relaxed_dot_i8x16_i7x16(ld_i8(&a[16..]), w1))
}

/// 8 u8 values widened to the i16 lanes of a vector.
#[inline(always)]
fn widen8(x: &[u8; 8]) -> v128 {
    u16x8_extend_low_u8x16(u64x2_splat(u64::from_le_bytes(*x)))
}

/// i16 lane `L` of `v` in every lane.
#[inline(always)]
fn lane16<const L: usize>(v: v128) -> v128 {
    i16x8_shuffle::<L, L, L, L, L, L, L, L>(v, v)
}

/// Lane sums of `a` and `b` at once: (Σ a, Σ b).
#[inline(always)]
fn hsum2_i32(a: v128, b: v128) -> (i32, i32) {
    let t = i32x4_add(i32x4_shuffle::<0, 1, 4, 5>(a, b), i32x4_shuffle::<2, 3, 6, 7>(a, b));
    let u = i32x4_add(t, i32x4_shuffle::<1, 0, 3, 2>(t, t));
    (i32x4_extract_lane::<0>(u), i32x4_extract_lane::<2>(u))
}

/// Q4_K/Q5_K integer sums: Σ_j scale_j · Σ q·a over the eight 32-value runs
/// (the scale applied by `i32x4.dot_i16x8_s`, which widens at the same
/// time), and Σ_j min_j · (bsums_2j + bsums_2j+1), in vector lanes.
#[inline(always)]
fn k4_sums(qs: &[u8; 128], sc: &[u8; 8], mn: &[u8; 8], a: &BlockQ8K, fifth: impl Fn(usize) -> [v128; 4]) -> (i32, i32) {
    let mask = u8x16_splat(0x0F);
    let scales = widen8(sc);
    let mut sumi = i32x4_splat(0);
    for chunk in 0..4 {
        let (b0, b1) = (ld(&qs[32 * chunk..]), ld(&qs[32 * chunk + 16..]));
        let [h0, h1, h2, h3] = fifth(chunk);
        let lo = dot32_i16(&a.qs[64 * chunk..], v128_or(v128_and(b0, mask), h0), v128_or(v128_and(b1, mask), h1));
        let hi = dot32_i16(&a.qs[64 * chunk + 32..], v128_or(hi4(b0), h2), v128_or(hi4(b1), h3));
        sumi = i32x4_add(sumi, i32x4_dot_i16x8(lo, scale_lane(scales, 2 * chunk)));
        sumi = i32x4_add(sumi, i32x4_dot_i16x8(hi, scale_lane(scales, 2 * chunk + 1)));
    }
    // mins: lane j of the dot is bsums[2j]·m_j + bsums[2j+1]·m_j.
    let mins = widen8(mn);
    let dup_lo = i16x8_shuffle::<0, 0, 1, 1, 2, 2, 3, 3>(mins, mins);
    let dup_hi = i16x8_shuffle::<4, 4, 5, 5, 6, 6, 7, 7>(mins, mins);
    let bsums = bytemuck::cast_slice::<i16, u8>(&a.bsums);
    let summ = i32x4_add(i32x4_dot_i16x8(ld(bsums), dup_lo), i32x4_dot_i16x8(ld(&bsums[16..]), dup_hi));
    hsum2_i32(sumi, summ)
}

pub fn vec_dot_q4_k(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let zero = u8x16_splat(0);
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let (sc, mn) = wb.scales_mins();
        let (sumi, summ) = k4_sums(&wb.qs, &sc, &mn, ab, |_| [zero; 4]);
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}

pub fn vec_dot_q5_k(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let (sc, mn) = wb.scales_mins();
        let (qh0, qh1) = (ld(&wb.qh), ld(&wb.qh[16..]));
        let (sumi, summ) = k4_sums(&wb.qs, &sc, &mn, ab, |chunk| q5_k_fifth(qh0, qh1, chunk));
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}

/// Q6_K: Σ_g scale_g · Σ (q − 32)·a = Σ_g scale_g · (Σ q·a − 32 · bsums_g),
/// with the unsigned 6-bit q as the dot's 7-bit operand: per 16 values one
/// i16 relaxed dot (pairs ≤ 2 · 127 · 63), its scale applied and widened by
/// `i32x4.dot_i16x8_s`.
pub fn vec_dot_q6_k(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let scales = ld(bytemuck::cast_slice(&wb.scales));
        let scales16 = [i16x8_extend_low_i8x16(scales), i16x8_extend_high_i8x16(scales)];
        let mut lanes = i32x4_splat(0);
        for half in 0..2 {
            for part in 0..2 {
                for (quarter, q) in q6_k_quarters(wb, half, part).into_iter().enumerate() {
                    let start = 128 * half + 32 * quarter + 16 * part;
                    let g = start / 16; // 16-value group: 8 · half + 2 · quarter + part
                    let dot = i16x8_relaxed_dot_i8x16_i7x16(ld_i8(&ab.qs[start..]), q);
                    lanes = i32x4_add(lanes, i32x4_dot_i16x8(dot, scale_lane(scales16[g / 8], g % 8)));
                }
            }
        }
        let bsums = bytemuck::cast_slice::<i16, u8>(&ab.bsums);
        let offsets =
            i32x4_add(i32x4_dot_i16x8(ld(bsums), scales16[0]), i32x4_dot_i16x8(ld(&bsums[16..]), scales16[1]));
        let (dots, offsets) = hsum2_i32(lanes, offsets);
        let sumi = dots - 32 * offsets;
        sum += ab.d * wb.d.to_f32() * sumi as f32;
    }
    sum
}

/// i16 lane `l` (0..8) of `v` in every lane.
#[inline(always)]
fn scale_lane(v: v128, l: usize) -> v128 {
    match l {
        0 => lane16::<0>(v),
        1 => lane16::<1>(v),
        2 => lane16::<2>(v),
        3 => lane16::<3>(v),
        4 => lane16::<4>(v),
        5 => lane16::<5>(v),
        6 => lane16::<6>(v),
        _ => lane16::<7>(v),
    }
}
