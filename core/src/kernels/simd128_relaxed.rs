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

use super::simd128::{fifth_bits, hsum_f32, hsum_i32, ld, ld_i8};
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
        acc = block32_step(acc, ab, v128_and(bytes, mask), u8x16_shr(bytes, 4), 8, d);
    }
    hsum_f32(acc)
}

pub fn vec_dot_q5_0(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = f32x4_splat(0.0);
    let mask = u8x16_splat(0x0F);
    for (wb, ab) in w.iter().zip(a) {
        let bytes = ld(&wb.qs);
        let (h0, h1) = fifth_bits(u32::from_le_bytes(wb.qh));
        let (lo, hi) = (v128_or(v128_and(bytes, mask), h0), v128_or(u8x16_shr(bytes, 4), h1));
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
        let sumi = dot32(&ab.qs, v128_and(bytes, mask), u8x16_shr(bytes, 4));
        acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(sumi), f32x4_splat(wb.d.to_f32() * ab.d.to_f32())));
        mins += wb.m.to_f32() * ab.s.to_f32();
    }
    hsum_f32(acc) + mins
}

/// Q4_K/Q5_K: Σ_j scale_j · Σ q·a over the eight 32-value runs, summed in
/// vector lanes and reduced once per block.
#[inline(always)]
fn k4_sumi(qs: &[u8; 128], scales: &[u8; 8], acts: &[i8; 256], fifth: impl Fn(usize) -> [v128; 4]) -> i32 {
    let mask = u8x16_splat(0x0F);
    let mut sumi = i32x4_splat(0);
    for chunk in 0..4 {
        let (b0, b1) = (ld(&qs[32 * chunk..]), ld(&qs[32 * chunk + 16..]));
        let [h0, h1, h2, h3] = fifth(chunk);
        let lo = dot32(&acts[64 * chunk..], v128_or(v128_and(b0, mask), h0), v128_or(v128_and(b1, mask), h1));
        let hi = dot32(&acts[64 * chunk + 32..], v128_or(u8x16_shr(b0, 4), h2), v128_or(u8x16_shr(b1, 4), h3));
        sumi = i32x4_add(sumi, i32x4_mul(lo, i32x4_splat(scales[2 * chunk] as i32)));
        sumi = i32x4_add(sumi, i32x4_mul(hi, i32x4_splat(scales[2 * chunk + 1] as i32)));
    }
    hsum_i32(sumi)
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
    let one = u8x16_splat(1);
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let (sc, mn) = wb.scales_mins();
        let (qh0, qh1) = (ld(&wb.qh), ld(&wb.qh[16..]));
        let fifth = |chunk: usize| {
            let bit = |qh: v128, n: usize| u8x16_shl(v128_and(u8x16_shr(qh, n as u32), one), 4);
            [bit(qh0, 2 * chunk), bit(qh1, 2 * chunk), bit(qh0, 2 * chunk + 1), bit(qh1, 2 * chunk + 1)]
        };
        let sumi = k4_sumi(&wb.qs, &sc, &ab.qs, fifth);
        let summ = mins_dot_bsums(&mn, &ab.bsums);
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}

/// Q6_K: Σ_g scale_g · Σ (q − 32)·a = Σ_g scale_g · (Σ q·a − 32 · bsums_g),
/// with the unsigned 6-bit q as the dot's 7-bit operand.
pub fn vec_dot_q6_k(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let (mask, three) = (u8x16_splat(0x0F), u8x16_splat(3));
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let mut lanes = i32x4_splat(0);
        for half in 0..2 {
            for part in 0..2 {
                let ql0 = ld(&wb.ql[64 * half + 16 * part..]);
                let ql1 = ld(&wb.ql[64 * half + 32 + 16 * part..]);
                let qh = ld(&wb.qh[32 * half + 16 * part..]);
                let high = |shift: u32| u8x16_shl(v128_and(u8x16_shr(qh, shift), three), 4);
                let quarters = [
                    v128_or(v128_and(ql0, mask), high(0)),
                    v128_or(v128_and(ql1, mask), high(2)),
                    v128_or(u8x16_shr(ql0, 4), high(4)),
                    v128_or(u8x16_shr(ql1, 4), high(6)),
                ];
                for (quarter, q) in quarters.into_iter().enumerate() {
                    let start = 128 * half + 32 * quarter + 16 * part;
                    let dot = dot_add(ld_i8(&ab.qs[start..]), q, i32x4_splat(0));
                    lanes = i32x4_add(lanes, i32x4_mul(dot, i32x4_splat(wb.scales[start / 16] as i32)));
                }
            }
        }
        let offsets: i32 = (0..16).map(|g| wb.scales[g] as i32 * ab.bsums[g] as i32).sum();
        let sumi = hsum_i32(lanes) - 32 * offsets;
        sum += ab.d * wb.d.to_f32() * sumi as f32;
    }
    sum
}
