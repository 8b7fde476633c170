//! NEON tiled kernels (aarch64 with the dotprod extension): 8 weight rows x 4
//! tokens per call, the structure of the x86 tiles (`avx2_tiled.rs`) in
//! 128-bit vectors. Tokens sit in the 4 i32 lanes of the activation tiles
//! (`act_tiles.rs`: lane t of slot s holds token t's 4 bytes of group s), and
//! `sdot` by element multiplies them with one 4-byte weight group picked by
//! lane index from a 16-byte load: 16 products per instruction, summed into
//! i32 with no broadcast and no widening step.
//!
//! Integer sums are exact. The float step is the fused one
//! (`unpacked::epilogue`: aarch64's `fmla`/`fmls` always fuse), so results
//! equal `unpacked::dot_fast` and `unpacked32::dot_fast32` bit for bit, the
//! same values as the x86 tiles give.

#![allow(clippy::missing_safety_doc)]

use std::arch::aarch64::*;

use super::act_tiles::{SLOTS_32, SLOTS_PER_LANE};
use super::tiled::{TileRows, TILE_ROWS};
use super::unpacked::UnpackedBlock;
use super::unpacked32::{Kind32, Unpacked32};

/// Tokens per tile (i32 lanes).
pub const WIDTH: usize = 4;

/// `acc[t] += Σ_j a[g][4t + j] · w[4g + j]` for the four groups g: 16 weight
/// bytes `w` against the four activation slots `a` of those groups (one
/// `sdot` by element per group; Rust's `vdotq_laneq_s32` is not stable, as
/// in `neon.rs`).
#[inline(always)]
unsafe fn dot16(mut acc: int32x4_t, a: &[int8x16_t; 4], w: int8x16_t) -> int32x4_t {
    std::arch::asm!(
        "sdot {acc:v}.4s, {a0:v}.16b, {w:v}.4b[0]",
        "sdot {acc:v}.4s, {a1:v}.16b, {w:v}.4b[1]",
        "sdot {acc:v}.4s, {a2:v}.16b, {w:v}.4b[2]",
        "sdot {acc:v}.4s, {a3:v}.16b, {w:v}.4b[3]",
        acc = inout(vreg) acc,
        a0 = in(vreg) a[0],
        a1 = in(vreg) a[1],
        a2 = in(vreg) a[2],
        a3 = in(vreg) a[3],
        w = in(vreg) w,
        options(pure, nomem, nostack)
    );
    acc
}

/// Four activation slots starting at `slot` of one block's tile (`[slots, 4]` u32).
#[inline(always)]
unsafe fn slots4(at: &[u32], slot: usize) -> [int8x16_t; 4] {
    assert!(at.len() >= (slot + 4) * WIDTH);
    std::array::from_fn(|g| vreinterpretq_s8_u32(vld1q_u32(at[(slot + g) * WIDTH..].as_ptr())))
}

/// `out[r * WIDTH + t]` = row r · token t over all blocks, for the 8 `rows`
/// and one activation `tile` (`[n_blocks, SLOTS_PER_LANE, 4]`).
#[target_feature(enable = "neon,dotprod")]
pub unsafe fn tile_8x4(rows: &TileRows<'_, UnpackedBlock>, tile: &[u32], out: &mut [f32]) {
    let n_blocks = rows[0].len();
    assert!(tile.len() >= n_blocks * SLOTS_PER_LANE * WIDTH && out.len() >= TILE_ROWS * WIDTH);
    assert!(rows.iter().all(|r| r.len() == n_blocks));
    let mut acc = [vdupq_n_f32(0.0); TILE_ROWS];
    for b in 0..n_blocks {
        let at = &tile[b * SLOTS_PER_LANE * WIDTH..(b + 1) * SLOTS_PER_LANE * WIDTH];
        let w: [&UnpackedBlock; TILE_ROWS] = std::array::from_fn(|r| &rows[r][b]);
        let mut isum = [vdupq_n_s32(0); TILE_ROWS];
        for k in 0..16 {
            let a = slots4(at, 4 * k);
            for r in 0..TILE_ROWS {
                // Quants are 0..=63: valid signed bytes.
                let q = vreinterpretq_s8_u8(vld1q_u8(w[r].q[16 * k..16 * k + 16].as_ptr()));
                let s = dot16(vdupq_n_s32(0), &a, q);
                isum[r] = vmlaq_n_s32(isum[r], s, w[r].sc[k]);
            }
        }
        kquant_epilogue(&mut acc, &isum, &w, at);
    }
    store_rows(&acc, out);
}

/// One block's float step for the 8 rows: `acc[r] += da·(dw·isum[r] − dm·msum)`
/// per token lane, with `msum` the row's coefficients times the activation
/// group sums (`bsums`), fused as `unpacked::epilogue` is.
#[inline(always)]
unsafe fn kquant_epilogue(
    acc: &mut [float32x4_t; TILE_ROWS],
    isum: &[int32x4_t; TILE_ROWS],
    w: &[&UnpackedBlock; TILE_ROWS],
    at: &[u32],
) {
    assert!(at.len() >= SLOTS_PER_LANE * WIDTH);
    // Lane t of slot 64 + p holds token t's pair (bsums[2p], bsums[2p+1]).
    let bsums: [int16x8_t; 8] =
        std::array::from_fn(|p| vreinterpretq_s16_u32(vld1q_u32(at[(64 + p) * WIDTH..].as_ptr())));
    let da = vreinterpretq_f32_u32(vld1q_u32(at[72 * WIDTH..].as_ptr()));
    for r in 0..TILE_ROWS {
        // Widening products of each pair with the row's coefficients, then
        // one pairwise add puts token t's sum in lane t.
        let (mut lo, mut hi) = (vdupq_n_s32(0), vdupq_n_s32(0));
        for (p, bs) in bsums.iter().enumerate() {
            let pair = (w[r].mc[2 * p] as u16 as u32) | ((w[r].mc[2 * p + 1] as u16 as u32) << 16);
            let mc = vreinterpretq_s16_u32(vdupq_n_u32(pair));
            lo = vmlal_s16(lo, vget_low_s16(*bs), vget_low_s16(mc));
            hi = vmlal_high_s16(hi, *bs, mc);
        }
        let msum = vcvtq_f32_s32(vpaddq_s32(lo, hi));
        // fma(-msum, dm, isum·dw), then fma(t, da, acc): `unpacked::epilogue`.
        let t = vfmsq_f32(vmulq_n_f32(vcvtq_f32_s32(isum[r]), w[r].dw), msum, vdupq_n_f32(w[r].dm));
        acc[r] = vfmaq_f32(acc[r], t, da);
    }
}

/// `out[r * WIDTH..][..WIDTH]` = the lanes of `acc[r]`.
#[inline(always)]
unsafe fn store_rows(acc: &[float32x4_t; TILE_ROWS], out: &mut [f32]) {
    for (a, dst) in acc.iter().zip(out.chunks_exact_mut(WIDTH)) {
        vst1q_f32(dst.as_mut_ptr(), *a);
    }
}

/// The 32-value formats' tile (Q4_0, Q5_0, Q8_0): per block 8 group dots per
/// row, minus the offset times the activation sums, then
/// `fma(isum, dw·da, acc)`. Q8_0's stored quants (plus 128) are flipped back
/// to signed bytes instead, which leaves no offset: the same integer.
#[target_feature(enable = "neon,dotprod")]
pub unsafe fn tile32_8x4(rows: &TileRows<'_, Unpacked32>, tile: &[u32], out: &mut [f32], kind: Kind32) {
    let n_blocks = rows[0].len();
    assert!(tile.len() >= n_blocks * SLOTS_32 * WIDTH && out.len() >= TILE_ROWS * WIDTH);
    assert!(rows.iter().all(|r| r.len() == n_blocks));
    let (flip, off) = if kind == Kind32::Q8_0 { (0x80, 0) } else { (0, kind.offset()) };
    let flip = vdupq_n_u8(flip);
    let mut acc = [vdupq_n_f32(0.0); TILE_ROWS];
    for b in 0..n_blocks {
        let at = &tile[b * SLOTS_32 * WIDTH..(b + 1) * SLOTS_32 * WIDTH];
        let (lo, hi) = (slots4(at, 0), slots4(at, 4));
        let sum = vreinterpretq_s32_u32(vld1q_u32(at[8 * WIDTH..].as_ptr()));
        let da = vreinterpretq_f32_u32(vld1q_u32(at[9 * WIDTH..].as_ptr()));
        for r in 0..TILE_ROWS {
            let w = &rows[r][b];
            let q_lo = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(w.q[..16].as_ptr()), flip));
            let q_hi = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(w.q[16..].as_ptr()), flip));
            let dot = dot16(dot16(vdupq_n_s32(0), &lo, q_lo), &hi, q_hi);
            let isum = vmlsq_n_s32(dot, sum, off);
            acc[r] = vfmaq_f32(acc[r], vcvtq_f32_s32(isum), vmulq_n_f32(da, w.d));
        }
    }
    store_rows(&acc, out);
}

// i8mm (`smmla`): one instruction multiplies a 2x8 block of weights (two
// rows' 8 bytes) with a 2x8 block of activations (two tokens' 8 bytes) into
// the 2x2 i32 products `[r0·t0, r0·t1, r1·t0, r1·t1]`: 32 products, twice
// `sdot`'s 16. Two tokens' 8-byte chunks come from two activation slots by
// one 32-bit zip (token t's lane of slots 2c and 2c + 1), so the tiles stay
// the layout every tier shares. Row pairs' sums are put back in the
// row-per-register order at the end of each block, and the float step is
// the dotprod tile's, so both tiers give the same bits.

/// `acc += smmla(w, a)`: `w` two rows' 8 bytes, `a` two tokens' 8 bytes.
#[inline(always)]
unsafe fn mmla(mut acc: int32x4_t, w: int8x16_t, a: int8x16_t) -> int32x4_t {
    std::arch::asm!(
        "smmla {acc:v}.4s, {w:v}.16b, {a:v}.16b",
        acc = inout(vreg) acc,
        w = in(vreg) w,
        a = in(vreg) a,
        options(pure, nomem, nostack)
    );
    acc
}

/// Tokens (0, 1) and (2, 3)'s bytes `8c..8c + 8` from one block's tile:
/// chunk c is slots 2c and 2c + 1.
#[inline(always)]
unsafe fn token_pairs(at: &[u32], c: usize) -> [int8x16_t; 2] {
    assert!(at.len() >= (2 * c + 2) * WIDTH);
    let g0 = vld1q_u32(at[2 * c * WIDTH..].as_ptr());
    let g1 = vld1q_u32(at[(2 * c + 1) * WIDTH..].as_ptr());
    [vreinterpretq_s8_u32(vzip1q_u32(g0, g1)), vreinterpretq_s8_u32(vzip2q_u32(g0, g1))]
}

/// Rows `a` and `b`'s bytes `8c..8c + 8` as one smmla operand.
#[inline(always)]
unsafe fn row_pair(a: &[u8], b: &[u8], c: usize) -> int8x16_t {
    let (a, b) = (&a[8 * c..8 * c + 8], &b[8 * c..8 * c + 8]);
    vreinterpretq_s8_u8(vcombine_u8(vld1_u8(a.as_ptr()), vld1_u8(b.as_ptr())))
}

/// Two rows' sums over tokens (0, 1) in `p01` and (2, 3) in `p23`
/// (`[r0·t0, r0·t1, r1·t0, r1·t1]`), as one register per row with token t in lane t.
#[inline(always)]
unsafe fn unpair(p01: int32x4_t, p23: int32x4_t) -> [int32x4_t; 2] {
    let (p01, p23) = (vreinterpretq_u64_s32(p01), vreinterpretq_u64_s32(p23));
    [vreinterpretq_s32_u64(vzip1q_u64(p01, p23)), vreinterpretq_s32_u64(vzip2q_u64(p01, p23))]
}

/// [`tile_8x4`] with `smmla`: the same outputs, bit for bit.
#[target_feature(enable = "neon,i8mm")]
pub unsafe fn tile_8x4_i8mm(rows: &TileRows<'_, UnpackedBlock>, tile: &[u32], out: &mut [f32]) {
    const PAIRS: usize = TILE_ROWS / 2;
    let n_blocks = rows[0].len();
    assert!(tile.len() >= n_blocks * SLOTS_PER_LANE * WIDTH && out.len() >= TILE_ROWS * WIDTH);
    assert!(rows.iter().all(|r| r.len() == n_blocks));
    let mut acc = [vdupq_n_f32(0.0); TILE_ROWS];
    for b in 0..n_blocks {
        let at = &tile[b * SLOTS_PER_LANE * WIDTH..(b + 1) * SLOTS_PER_LANE * WIDTH];
        let w: [&UnpackedBlock; TILE_ROWS] = std::array::from_fn(|r| &rows[r][b]);
        // [pair][tokens 01, tokens 23]
        let mut isum = [[vdupq_n_s32(0); 2]; PAIRS];
        for k in 0..16 {
            // The 16-value group k is chunks 2k and 2k + 1.
            let a = [token_pairs(at, 2 * k), token_pairs(at, 2 * k + 1)];
            for p in 0..PAIRS {
                let (r0, r1) = (w[2 * p], w[2 * p + 1]);
                let wq = [row_pair(&r0.q, &r1.q, 2 * k), row_pair(&r0.q, &r1.q, 2 * k + 1)];
                let sc = vcombine_s32(vdup_n_s32(r0.sc[k]), vdup_n_s32(r1.sc[k]));
                for (t, sum) in isum[p].iter_mut().enumerate() {
                    let s = mmla(mmla(vdupq_n_s32(0), wq[0], a[0][t]), wq[1], a[1][t]);
                    *sum = vmlaq_s32(*sum, s, sc);
                }
            }
        }
        let mut rows_isum = [vdupq_n_s32(0); TILE_ROWS];
        for (p, [p01, p23]) in isum.into_iter().enumerate() {
            [rows_isum[2 * p], rows_isum[2 * p + 1]] = unpair(p01, p23);
        }
        kquant_epilogue(&mut acc, &rows_isum, &w, at);
    }
    store_rows(&acc, out);
}

/// [`tile32_8x4`] with `smmla`: the same outputs, bit for bit.
#[target_feature(enable = "neon,i8mm")]
pub unsafe fn tile32_8x4_i8mm(rows: &TileRows<'_, Unpacked32>, tile: &[u32], out: &mut [f32], kind: Kind32) {
    const PAIRS: usize = TILE_ROWS / 2;
    let n_blocks = rows[0].len();
    assert!(tile.len() >= n_blocks * SLOTS_32 * WIDTH && out.len() >= TILE_ROWS * WIDTH);
    assert!(rows.iter().all(|r| r.len() == n_blocks));
    let (flip, off) = if kind == Kind32::Q8_0 { (0x80, 0) } else { (0, kind.offset()) };
    let flip = vdupq_n_u8(flip);
    // [pair][tokens 01, tokens 23]
    let mut acc = [[vdupq_n_f32(0.0); 2]; PAIRS];
    for b in 0..n_blocks {
        let at = &tile[b * SLOTS_32 * WIDTH..(b + 1) * SLOTS_32 * WIDTH];
        let a: [[int8x16_t; 2]; 4] = std::array::from_fn(|c| token_pairs(at, c));
        // Lane order of a pair's products: the offset sums and `da` of tokens (t, t + 1), twice.
        let sum = vld1q_s32(at[8 * WIDTH..].as_ptr() as *const i32);
        let da = vld1q_f32(at[9 * WIDTH..].as_ptr() as *const f32);
        let sums =
            [vcombine_s32(vget_low_s32(sum), vget_low_s32(sum)), vcombine_s32(vget_high_s32(sum), vget_high_s32(sum))];
        let das =
            [vcombine_f32(vget_low_f32(da), vget_low_f32(da)), vcombine_f32(vget_high_f32(da), vget_high_f32(da))];
        for (p, acc) in acc.iter_mut().enumerate() {
            let (r0, r1) = (&rows[2 * p][b], &rows[2 * p + 1][b]);
            let wq: [int8x16_t; 4] = std::array::from_fn(|c| {
                vreinterpretq_s8_u8(veorq_u8(vreinterpretq_u8_s8(row_pair(&r0.q, &r1.q, c)), flip))
            });
            let d = vcombine_f32(vdup_n_f32(r0.d), vdup_n_f32(r1.d));
            for (t, acc) in acc.iter_mut().enumerate() {
                let dot = (0..4).fold(vdupq_n_s32(0), |s, c| mmla(s, wq[c], a[c][t]));
                let isum = vmlsq_n_s32(dot, sums[t], off);
                // dw·da per lane, rounded once as in `dot_fast32`.
                *acc = vfmaq_f32(*acc, vcvtq_f32_s32(isum), vmulq_f32(das[t], d));
            }
        }
    }
    let mut rows_acc = [vdupq_n_f32(0.0); TILE_ROWS];
    for (p, [p01, p23]) in acc.into_iter().enumerate() {
        let [r0, r1] = unpair(vreinterpretq_s32_f32(p01), vreinterpretq_s32_f32(p23));
        [rows_acc[2 * p], rows_acc[2 * p + 1]] = [vreinterpretq_f32_s32(r0), vreinterpretq_f32_s32(r1)];
    }
    store_rows(&rows_acc, out);
}
