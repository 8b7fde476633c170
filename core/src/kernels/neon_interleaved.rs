//! Decode's Q4_K and Q6_K kernels over 8 interleaved rows (`interleaved.rs`)
//! on NEON with dotprod: the x86 group kernels' design
//! (`x86_interleaved.rs`) in two 128-bit halves, rows 0..4 and 4..8 of each
//! 32-byte slot, one row per 32-bit lane. Each 16-byte load holds 4 quants
//! of 4 rows, one `sdot` against a broadcast of 4 activation bytes sums
//! them into the rows' lanes; scales, mins and f16 factors are vectors of
//! the rows' values, applied once per 16 or 32 values. No horizontal sums.
//! Every lane computes `unpacked::dot_fast` exactly (same integer sums, the
//! same fused epilogue: `fmls` and `fmla` round once, as `mul_add` does),
//! so results equal it bit for bit (`core/tests/interleaved_kernels.rs`,
//! run under qemu with `-cpu max`). Not yet timed on an ARM core.
//!
//! The tiled prefill unpacks its panels from the same copy through
//! `interleaved::unpack_group_scalar` on this tier.

#![allow(clippy::missing_safety_doc)]

use std::arch::aarch64::*;

use super::interleaved::GROUP_ROWS;
use super::neon::{ByteDot, Sdot};
use crate::quant::BlockQ8K;

/// Bytes of one block of an interleaved Q4_K group (8 x 144).
const Q4K_GROUP_BLOCK: usize = 1152;
/// Bytes of one block of an interleaved Q6_K group (8 x 210).
const Q6K_GROUP_BLOCK: usize = 1680;

/// A vector for rows 0..4 and one for rows 4..8.
type Halves<T> = [T; 2];

/// The 8 rows' f16 factors at `p` (a group block's 16-byte field) as f32:
/// `fcvtl`, exact, base ARMv8 (Rust's f16 vector types are not stable); `lo`
/// is written before `bits` is read again, so it may not share its register.
#[inline(always)]
unsafe fn f16_row_factors(p: *const u8) -> Halves<float32x4_t> {
    let bits = vld1q_u16(p as *const u16);
    let (lo, hi): (float32x4_t, float32x4_t);
    std::arch::asm!(
        "fcvtl {lo:v}.4s, {bits:v}.4h",
        "fcvtl2 {hi:v}.4s, {bits:v}.8h",
        bits = in(vreg) bits,
        lo = out(vreg) lo,
        hi = lateout(vreg) hi,
        options(pure, nomem, nostack)
    );
    [lo, hi]
}

/// The 32-byte slot at `p`: its 8 rows' words as two vectors of 4.
#[inline(always)]
unsafe fn slot_u32(p: *const u8) -> Halves<uint32x4_t> {
    [vld1q_u32(p as *const u32), vld1q_u32(p.add(16) as *const u32)]
}

/// The 32-byte slot at `p` as bytes, two vectors of 16.
#[inline(always)]
unsafe fn slot_u8(p: *const u8) -> Halves<uint8x16_t> {
    [vld1q_u8(p), vld1q_u8(p.add(16))]
}

/// Four activation bytes at `act` in every lane.
#[inline(always)]
unsafe fn broadcast(act: *const i32) -> int8x16_t {
    vreinterpretq_s8_s32(vdupq_n_s32(act.read_unaligned()))
}

/// The per-block epilogue in every lane, as `unpacked::epilogue`:
/// `t = fma(−msum, dm, isum·dw)`, then `fma(t, da, acc)`.
#[inline(always)]
unsafe fn epilogue(
    acc: float32x4_t,
    isum: int32x4_t,
    msum: int32x4_t,
    dw: float32x4_t,
    dm: float32x4_t,
    da: f32,
) -> float32x4_t {
    let t = vfmsq_f32(vmulq_f32(vcvtq_f32_s32(isum), dw), vcvtq_f32_s32(msum), dm);
    vfmaq_f32(acc, t, vdupq_n_f32(da))
}

#[inline(always)]
unsafe fn store(acc: Halves<float32x4_t>, out: &mut [f32; GROUP_ROWS]) {
    vst1q_f32(out.as_mut_ptr(), acc[0]);
    vst1q_f32(out.as_mut_ptr().add(4), acc[1]);
}

#[inline(always)]
unsafe fn group_dot_q4<D: ByteDot>(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    assert!(group.len() >= a.len() * Q4K_GROUP_BLOCK);
    let (m6, m4, m_hi) = (vdupq_n_u32(63), vdupq_n_u32(0x0F), vdupq_n_u32(0x30));
    let low_mask = vdupq_n_u8(0x0F);
    let mut acc = [vdupq_n_f32(0.0); 2];
    for (b, ab) in a.iter().enumerate() {
        let base = group.as_ptr().add(b * Q4K_GROUP_BLOCK);
        let (dw, dm) = (f16_row_factors(base), f16_row_factors(base.add(16)));
        let act = ab.qs.as_ptr() as *const i32;
        for h in 0..2 {
            let w: [uint32x4_t; 3] = std::array::from_fn(|i| slot_u32(base.add(32 + 32 * i))[h]);
            // The 6-bit scale/min packing of `q4_k::scales_mins_k4`, per lane:
            // j < 4: w0 / w1 byte j; j >= 4: w2's nibble plus w0 / w1's top 2 bits.
            macro_rules! field {
                ($v:expr, $shift:literal, $mask:expr) => {
                    vandq_u32(vshrq_n_u32::<$shift>($v), $mask)
                };
            }
            let sc = [
                vandq_u32(w[0], m6),
                field!(w[0], 8, m6),
                field!(w[0], 16, m6),
                field!(w[0], 24, m6),
                vorrq_u32(vandq_u32(w[2], m4), field!(w[0], 2, m_hi)),
                vorrq_u32(field!(w[2], 8, m4), field!(w[0], 10, m_hi)),
                vorrq_u32(field!(w[2], 16, m4), field!(w[0], 18, m_hi)),
                vorrq_u32(field!(w[2], 24, m4), field!(w[0], 26, m_hi)),
            ];
            let mn = [
                vandq_u32(w[1], m6),
                field!(w[1], 8, m6),
                field!(w[1], 16, m6),
                field!(w[1], 24, m6),
                vorrq_u32(field!(w[2], 4, m4), field!(w[1], 2, m_hi)),
                vorrq_u32(field!(w[2], 12, m4), field!(w[1], 10, m_hi)),
                vorrq_u32(field!(w[2], 20, m4), field!(w[1], 18, m_hi)),
                vorrq_u32(field!(w[2], 28, m4), field!(w[1], 26, m_hi)),
            ];
            let mut isum = vdupq_n_s32(0);
            for c in 0..4 {
                let q = base.add(128 + 256 * c);
                let (mut lo, mut hi) = (vdupq_n_s32(0), vdupq_n_s32(0));
                for j in 0..8 {
                    let v = slot_u8(q.add(32 * j))[h];
                    let (l, u) = (vandq_u8(v, low_mask), vshrq_n_u8::<4>(v));
                    lo = D::dot(lo, vreinterpretq_s8_u8(l), broadcast(act.add(16 * c + j)));
                    hi = D::dot(hi, vreinterpretq_s8_u8(u), broadcast(act.add(16 * c + 8 + j)));
                }
                isum = vmlaq_s32(isum, lo, vreinterpretq_s32_u32(sc[2 * c]));
                isum = vmlaq_s32(isum, hi, vreinterpretq_s32_u32(sc[2 * c + 1]));
            }
            // The mins through the activation group sums, 2 groups of 16 per min.
            let mut msum = vdupq_n_s32(0);
            for (j, m) in mn.iter().enumerate() {
                let pair = ab.bsums[2 * j] as i32 + ab.bsums[2 * j + 1] as i32;
                msum = vmlaq_n_s32(msum, vreinterpretq_s32_u32(*m), pair);
            }
            acc[h] = epilogue(acc[h], isum, msum, dw[h], dm[h], ab.d);
        }
    }
    store(acc, out);
}

/// The rows' i8 scale `k` of a Q6_K group block's words (`word`: the half's
/// lanes of scale word k / 4), sign-extended.
#[inline(always)]
unsafe fn q6_k_scale(word: uint32x4_t, k: usize) -> int32x4_t {
    let w = vreinterpretq_s32_u32(word);
    let byte = match k % 4 {
        0 => vshlq_n_s32::<24>(w),
        1 => vshlq_n_s32::<16>(w),
        2 => vshlq_n_s32::<8>(w),
        _ => w,
    };
    vshrq_n_s32::<24>(byte)
}

/// Offset of step j of half h's three words in a Q6_K group block.
const fn q6_k_step(h: usize, j: usize) -> usize {
    144 + 768 * h + 96 * j
}

#[inline(always)]
unsafe fn group_dot_q6<D: ByteDot>(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    assert!(group.len() >= a.len() * Q6K_GROUP_BLOCK);
    let (m4, m_hi) = (vdupq_n_u8(0x0F), vdupq_n_u8(0x30));
    let mut acc = [vdupq_n_f32(0.0); 2];
    for (b, ab) in a.iter().enumerate() {
        let base = group.as_ptr().add(b * Q6K_GROUP_BLOCK);
        let d = f16_row_factors(base);
        let act = ab.qs.as_ptr() as *const i32;
        for half in 0..2 {
            let scale_words: [uint32x4_t; 4] = std::array::from_fn(|w| slot_u32(base.add(16 + 32 * w))[half]);
            let (mut isum, mut msum) = (vdupq_n_s32(0), vdupq_n_s32(0));
            for h in 0..2 {
                for g in 0..2 {
                    let mut sums = [vdupq_n_s32(0); 4];
                    for j in 4 * g..4 * g + 4 {
                        let at = base.add(q6_k_step(h, j));
                        let (ql_a, ql_b, qh) =
                            (slot_u8(at)[half], slot_u8(at.add(32))[half], slot_u8(at.add(64))[half]);
                        let join = |low: uint8x16_t, high: uint8x16_t| {
                            vreinterpretq_s8_u8(vorrq_u8(vandq_u8(low, m4), vandq_u8(high, m_hi)))
                        };
                        let quarters = [
                            join(ql_a, vshlq_n_u8::<4>(qh)),
                            join(ql_b, vshlq_n_u8::<2>(qh)),
                            join(vshrq_n_u8::<4>(ql_a), qh),
                            join(vshrq_n_u8::<4>(ql_b), vshrq_n_u8::<2>(qh)),
                        ];
                        for (quarter, q) in quarters.into_iter().enumerate() {
                            let x = broadcast(act.add(32 * h + 8 * quarter + j));
                            sums[quarter] = D::dot(sums[quarter], q, x);
                        }
                    }
                    for (quarter, sum) in sums.into_iter().enumerate() {
                        // Values 16g..16g+16 of the quarter: scale k.
                        let k = 8 * h + 2 * quarter + g;
                        let sc = q6_k_scale(scale_words[k / 4], k);
                        isum = vmlaq_s32(isum, sum, sc);
                        // The −32 offset of every quant through the activation group sums.
                        msum = vmlaq_n_s32(msum, sc, ab.bsums[k] as i32);
                    }
                }
            }
            let msum = vshlq_n_s32::<5>(msum);
            acc[half] = epilogue(acc[half], isum, msum, d[half], d[half], ab.d);
        }
    }
    store(acc, out);
}

/// # Safety
/// The CPU must support `neon` and `dotprod`.
#[target_feature(enable = "neon,dotprod")]
pub unsafe fn group_dot_q4_k_dotprod(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    group_dot_q4::<Sdot>(group, a, out)
}

/// # Safety
/// The CPU must support `neon` and `dotprod`.
#[target_feature(enable = "neon,dotprod")]
pub unsafe fn group_dot_q6_k_dotprod(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    group_dot_q6::<Sdot>(group, a, out)
}
