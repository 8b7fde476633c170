//! wasm relaxed-SIMD tiled kernels: 8 weight rows x 4 tokens per call, the
//! structure of the x86 tiles (`avx512vnni.rs`) in 128-bit vectors. Tokens sit
//! in the 4 i32 lanes of the activation tiles (`act_tiles.rs`); each 4-byte
//! weight group is splatted and `i16x8.relaxed_dot_i8x16_i7x16_s` multiplies it
//! with 4 tokens' bytes (pairs summed into i16). The unpacked quants are at
//! most 63, so two such i16 results add without overflow (2·2·128·63 < 2^15),
//! four for quants up to 31; `i32x4.dot_i16x8_s` against the group's scale
//! then widens and scales in one instruction. That is 3-4 instructions per 16
//! products whether or not the CPU has VNNI (V8 lowers the i16 dot to one
//! `pmaddubsw`).
//!
//! Integer sums are exact. The float step rounds each operation
//! (`unpacked::epilogue_unfused`): wasm's only fused multiply-add,
//! `f32x4.relaxed_madd`, fuses on some CPUs and not others, and results must
//! not depend on the machine. Results equal `unpacked::dot_fast_with(.., false)`
//! and `unpacked32::dot_fast32_with(.., false)` bit for bit.

use std::arch::wasm32::*;

use super::act_tiles::{SLOTS_32, SLOTS_PER_LANE};
use super::tiled::{TileRows, TILE_ROWS};
use super::unpacked::{UnpackKind, UnpackedBlock};
use super::unpacked32::{Kind32, Unpacked32};

/// Tokens per tile (i32 lanes).
pub const WIDTH: usize = 4;

#[inline(always)]
fn load(x: &[u32]) -> v128 {
    assert!(x.len() >= WIDTH);
    // SAFETY: 16 bytes are in bounds (checked above); v128_load allows any alignment.
    unsafe { v128_load(x.as_ptr() as *const v128) }
}

/// Four weight bytes `q[4g..4g + 4]`, splatted to every lane.
#[inline(always)]
fn group(q: &[u8], g: usize) -> v128 {
    u32x4_splat(u32::from_le_bytes([q[4 * g], q[4 * g + 1], q[4 * g + 2], q[4 * g + 3]]))
}

/// Σ over 16 values of one weight group run (`q`, 0..=31, or 0..=63 when
/// `WIDE`) times the four activation slots `a`, per token lane, times the
/// group's scale `sc` (splatted i16). `i32x4.dot_i16x8_s` against the scale
/// widens the i16 pair sums and applies the scale in one instruction:
/// `x_even·sc + x_odd·sc` is exactly `(x_even + x_odd)·sc` in i32.
#[inline(always)]
fn dot16_scaled<const WIDE: bool>(a: &[v128; 4], q: &[u8], sc: v128) -> v128 {
    let d: [v128; 4] = std::array::from_fn(|g| i16x8_relaxed_dot_i8x16_i7x16(a[g], group(q, g)));
    if WIDE {
        // 2 · 2 · 128 · 63 < 2^15: pairs of dots add in i16.
        i32x4_add(i32x4_dot_i16x8(i16x8_add(d[0], d[1]), sc), i32x4_dot_i16x8(i16x8_add(d[2], d[3]), sc))
    } else {
        // 4 · 2 · 128 · 31 < 2^15: all four add in i16.
        i32x4_dot_i16x8(i16x8_add(i16x8_add(d[0], d[1]), i16x8_add(d[2], d[3])), sc)
    }
}

/// Rows per pass over a block's activations: 4 rows' sums, the 4 activation
/// slots and the dot temporaries fit x86's 16 vector registers, so V8 keeps
/// them all in registers (8 rows spilled the sums to memory every group).
const PASS_ROWS: usize = 4;

/// `out[r * WIDTH + t]` = row r · token t over all blocks, for the 8 `rows`
/// and one activation `tile` (`[n_blocks, SLOTS_PER_LANE, 4]`).
pub fn tile_8x4(rows: &TileRows<'_, UnpackedBlock>, tile: &[u32], out: &mut [f32], kind: UnpackKind) {
    // Q6_K's quants reach 63; the other K-quants' stay within 31.
    if kind == UnpackKind::Q6K {
        tile_8x4_with::<true>(rows, tile, out)
    } else {
        tile_8x4_with::<false>(rows, tile, out)
    }
}

#[inline(always)]
fn tile_8x4_with<const WIDE: bool>(rows: &TileRows<'_, UnpackedBlock>, tile: &[u32], out: &mut [f32]) {
    let n_blocks = rows[0].len();
    assert!(tile.len() >= n_blocks * SLOTS_PER_LANE * WIDTH && out.len() >= TILE_ROWS * WIDTH);
    assert!(rows.iter().all(|r| r.len() == n_blocks));
    let mut acc = [f32x4_splat(0.0); TILE_ROWS];
    for b in 0..n_blocks {
        let at = &tile[b * SLOTS_PER_LANE * WIDTH..(b + 1) * SLOTS_PER_LANE * WIDTH];
        for pass in 0..TILE_ROWS / PASS_ROWS {
            let w: [&UnpackedBlock; PASS_ROWS] = std::array::from_fn(|r| &rows[pass * PASS_ROWS + r][b]);
            let mut isum = [i32x4_splat(0); PASS_ROWS];
            for k in 0..16 {
                let a: [v128; 4] = std::array::from_fn(|g| load(&at[(4 * k + g) * WIDTH..]));
                for r in 0..PASS_ROWS {
                    let sc = i16x8_splat(w[r].sc[k] as i16);
                    isum[r] = i32x4_add(isum[r], dot16_scaled::<WIDE>(&a, &w[r].q[16 * k..16 * k + 16], sc));
                }
            }
            let da = load(&at[72 * WIDTH..]); // f32 bits
            for r in 0..PASS_ROWS {
                let mut m = i32x4_splat(0);
                for p in 0..8 {
                    let mc = (w[r].mc[2 * p] as u16 as u32) | ((w[r].mc[2 * p + 1] as u16 as u32) << 16);
                    m = i32x4_add(m, i32x4_dot_i16x8(load(&at[(64 + p) * WIDTH..]), u32x4_splat(mc)));
                }
                let t = f32x4_sub(
                    f32x4_mul(f32x4_convert_i32x4(isum[r]), f32x4_splat(w[r].dw)),
                    f32x4_mul(f32x4_convert_i32x4(m), f32x4_splat(w[r].dm)),
                );
                let row = pass * PASS_ROWS + r;
                acc[row] = f32x4_add(f32x4_mul(t, da), acc[row]);
            }
        }
    }
    store_rows(&acc, out);
}

/// `out[r * WIDTH..][..WIDTH]` = the lanes of `acc[r]`.
#[inline(always)]
fn store_rows(acc: &[v128; TILE_ROWS], out: &mut [f32]) {
    for (a, dst) in acc.iter().zip(out.chunks_exact_mut(WIDTH)) {
        // SAFETY: `dst` holds WIDTH = 4 f32s (16 bytes); v128_store allows any alignment.
        unsafe { v128_store(dst.as_mut_ptr() as *mut v128, *a) };
    }
}

/// The 32-value formats' tile (Q4_0 and Q5_0; Q8_0's quants plus 128 do not
/// fit the 7-bit operand): per block 8 group dots per row, the offset times
/// the activation sums subtracted, then `acc + isum · (dw · da)` rounded twice.
pub fn tile32_8x4(rows: &TileRows<'_, Unpacked32>, tile: &[u32], out: &mut [f32], kind: Kind32) {
    let n_blocks = rows[0].len();
    assert!(tile.len() >= n_blocks * SLOTS_32 * WIDTH && out.len() >= TILE_ROWS * WIDTH);
    assert!(rows.iter().all(|r| r.len() == n_blocks));
    assert!(kind != Kind32::Q8_0, "Q8_0 has no relaxed-SIMD tile");
    let off = i32x4_splat(kind.offset());
    let mut acc = [f32x4_splat(0.0); TILE_ROWS];
    for b in 0..n_blocks {
        let at = &tile[b * SLOTS_32 * WIDTH..(b + 1) * SLOTS_32 * WIDTH];
        let lo: [v128; 4] = std::array::from_fn(|g| load(&at[g * WIDTH..]));
        let hi: [v128; 4] = std::array::from_fn(|g| load(&at[(4 + g) * WIDTH..]));
        let off_sum = i32x4_mul(load(&at[8 * WIDTH..]), off);
        let da = load(&at[9 * WIDTH..]);
        for r in 0..TILE_ROWS {
            let w = &rows[r][b];
            let ones = i16x8_splat(1);
            let s =
                i32x4_add(dot16_scaled::<false>(&lo, &w.q[..16], ones), dot16_scaled::<false>(&hi, &w.q[16..], ones));
            let isum = f32x4_convert_i32x4(i32x4_sub(s, off_sum));
            acc[r] = f32x4_add(f32x4_mul(isum, f32x4_mul(f32x4_splat(w.d), da)), acc[r]);
        }
    }
    store_rows(&acc, out);
}
