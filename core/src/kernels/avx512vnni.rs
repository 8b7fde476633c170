//! AVX-512 VNNI tiled kernel: 8 weight rows x 16 tokens per call, over
//! K-quant rows unpacked once per thread (`unpacked.rs`) and activations
//! transposed once per product (`act_tiles.rs`). Tokens sit in the 16 lanes;
//! each 4-byte weight group is broadcast and `vpdpbusd` multiplies it with 16
//! tokens at once (64 MACs per instruction, no horizontal sums, the block
//! scales decoded once per row instead of once per (row, token)).
//! Integer sums are exact; the float epilogue is `unpacked::epilogue`, in the
//! same order, so results equal `unpacked::dot_fast` bit for bit.
//! Callers guarantee the CPU has `avx512f`, `avx512bw` and `avx512vnni`.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::act_tiles::{SLOTS_32, SLOTS_PER_LANE};
use super::unpacked::UnpackedBlock;
use super::unpacked32::Unpacked32;

/// Tokens per tile (vector lanes).
pub const WIDTH: usize = 16;
/// Weight rows per call.
pub const ROWS: usize = 8;

/// `out[r * WIDTH + t]` = row r · token t over all blocks, for the 8 `rows`
/// (each `n_blocks` long) and one activation `tile` (`[n_blocks, 73, 16]`).
///
/// # Safety
/// The CPU must support `avx512f`, `avx512bw` and `avx512vnni`; `tile` must
/// hold `rows[r].len() * SLOTS_PER_LANE * WIDTH` values and `out` `ROWS * WIDTH`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn tile_8x16(rows: &[&[UnpackedBlock]; ROWS], tile: &[u32], out: &mut [f32]) {
    let n_blocks = rows[0].len();
    assert!(tile.len() >= n_blocks * SLOTS_PER_LANE * WIDTH && out.len() >= ROWS * WIDTH);
    assert!(rows.iter().all(|r| r.len() == n_blocks));
    let mut acc = [_mm512_setzero_ps(); ROWS];
    for b in 0..n_blocks {
        let at = tile.as_ptr().add(b * SLOTS_PER_LANE * WIDTH);
        let w: [&UnpackedBlock; ROWS] = std::array::from_fn(|r| rows[r].get_unchecked(b));
        let mut isum = [_mm512_setzero_si512(); ROWS];
        for k in 0..16 {
            let a0 = _mm512_loadu_si512(at.add((4 * k) * WIDTH) as *const _);
            let a1 = _mm512_loadu_si512(at.add((4 * k + 1) * WIDTH) as *const _);
            let a2 = _mm512_loadu_si512(at.add((4 * k + 2) * WIDTH) as *const _);
            let a3 = _mm512_loadu_si512(at.add((4 * k + 3) * WIDTH) as *const _);
            for r in 0..ROWS {
                let q = w[r].q.as_ptr().add(16 * k) as *const i32;
                let mut s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi32(q.read_unaligned()), a0);
                s = _mm512_dpbusd_epi32(s, _mm512_set1_epi32(q.add(1).read_unaligned()), a1);
                s = _mm512_dpbusd_epi32(s, _mm512_set1_epi32(q.add(2).read_unaligned()), a2);
                s = _mm512_dpbusd_epi32(s, _mm512_set1_epi32(q.add(3).read_unaligned()), a3);
                isum[r] = _mm512_add_epi32(isum[r], _mm512_mullo_epi32(s, _mm512_set1_epi32(w[r].sc[k])));
            }
        }
        let da = _mm512_loadu_ps(at.add(72 * WIDTH) as *const f32);
        for r in 0..ROWS {
            let mc = w[r].mc.as_ptr() as *const i32;
            let mut m = _mm512_setzero_si512();
            for p in 0..8 {
                let bs = _mm512_loadu_si512(at.add((64 + p) * WIDTH) as *const _);
                m = _mm512_dpwssd_epi32(m, bs, _mm512_set1_epi32(mc.add(p).read_unaligned()));
            }
            let t = _mm512_fnmadd_ps(
                _mm512_cvtepi32_ps(m),
                _mm512_set1_ps(w[r].dm),
                _mm512_mul_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_set1_ps(w[r].dw)),
            );
            acc[r] = _mm512_fmadd_ps(t, da, acc[r]);
        }
    }
    for (r, a) in acc.iter().enumerate() {
        _mm512_storeu_ps(out.as_mut_ptr().add(r * WIDTH), *a);
    }
}

/// Unpacks `rows` raw weight rows into `out` with `unpack`, compiled for
/// AVX-512 so the unpack loops vectorize.
///
/// # Safety
/// The CPU must support `avx512f` and `avx512bw`.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn unpack_rows(
    unpack: super::unpacked::UnpackKind,
    data: &[u8],
    block_bytes: usize,
    out: &mut [UnpackedBlock],
) {
    super::unpacked::unpack_all(unpack, data, block_bytes, out);
}

/// The 32-value formats' tile (Q4_0, Q5_0, Q8_0; `unpacked32.rs`): per block,
/// 8 `vpdpbusd` per row, the offset times the activation sums subtracted once
/// per block, then `isum · (dw · da)` with one FMA. Equals
/// `unpacked32::dot_fast32` bit for bit.
///
/// # Safety
/// As for [`tile_8x16`], with `tile` holding `n_blocks * SLOTS_32 * WIDTH` values.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn tile32_8x16(rows: &[&[Unpacked32]; ROWS], tile: &[u32], out: &mut [f32], offset: i32) {
    let n_blocks = rows[0].len();
    assert!(tile.len() >= n_blocks * SLOTS_32 * WIDTH && out.len() >= ROWS * WIDTH);
    assert!(rows.iter().all(|r| r.len() == n_blocks));
    let mut acc = [_mm512_setzero_ps(); ROWS];
    let off = _mm512_set1_epi32(offset);
    for b in 0..n_blocks {
        let at = tile.as_ptr().add(b * SLOTS_32 * WIDTH);
        let a: [__m512i; 8] = std::array::from_fn(|g| _mm512_loadu_si512(at.add(g * WIDTH) as *const _));
        let off_sum = _mm512_mullo_epi32(_mm512_loadu_si512(at.add(8 * WIDTH) as *const _), off);
        let da = _mm512_loadu_ps(at.add(9 * WIDTH) as *const f32);
        for r in 0..ROWS {
            let w = rows[r].get_unchecked(b);
            let q = w.q.as_ptr() as *const i32;
            let mut s = _mm512_setzero_si512();
            for (g, ag) in a.iter().enumerate() {
                s = _mm512_dpbusd_epi32(s, _mm512_set1_epi32(q.add(g).read_unaligned()), *ag);
            }
            let isum = _mm512_cvtepi32_ps(_mm512_sub_epi32(s, off_sum));
            acc[r] = _mm512_fmadd_ps(isum, _mm512_mul_ps(_mm512_set1_ps(w.d), da), acc[r]);
        }
    }
    for (r, a) in acc.iter().enumerate() {
        _mm512_storeu_ps(out.as_mut_ptr().add(r * WIDTH), *a);
    }
}

/// Unpacks raw 32-value blocks with AVX-512 enabled.
///
/// # Safety
/// The CPU must support `avx512f` and `avx512bw`.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn unpack_rows32(kind: super::unpacked32::Kind32, data: &[u8], block_bytes: usize, out: &mut [Unpacked32]) {
    super::unpacked32::unpack_all32(kind, data, block_bytes, out);
}
