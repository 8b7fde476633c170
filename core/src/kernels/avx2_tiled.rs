//! AVX2 tiled kernel: the AVX-512 VNNI tile's design (`avx512vnni.rs`) on 8
//! token lanes, for CPUs without AVX-512. A broadcast weight group times 8
//! tokens is `vpmaddubsw` (u8 weights 0..63 x i8 activations, pair sums at
//! most 63·128·2, so two of them add in i16 without saturating), and
//! `vpmaddwd` with the group's scale widens to i32 and applies the scale in
//! the same instruction. 16 registers hold 4 rows x 8 tokens, so an 8-row
//! call runs two passes over the tile. Results equal `unpacked::dot_fast`
//! bit for bit. Callers guarantee the CPU has `avx2` and `fma`.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::act_tiles::{SLOTS_32, SLOTS_PER_LANE};
use super::tiled::TILE_ROWS;
use super::unpacked::UnpackedBlock;
use super::unpacked32::{Kind32, Unpacked32};

/// Tokens per tile (vector lanes).
pub const WIDTH: usize = 8;

/// Rows per pass (register budget).
const PASS_ROWS: usize = 4;

/// `out[r * WIDTH + t]` = row r · token t over all blocks, for 8 `rows` and
/// one activation `tile` (`[n_blocks, 73, 8]`).
///
/// # Safety
/// The CPU must support `avx2` and `fma`; `tile` must hold
/// `rows[r].len() * SLOTS_PER_LANE * WIDTH` values and `out` `TILE_ROWS * WIDTH`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn tile_8x8(rows: &[&[UnpackedBlock]; TILE_ROWS], tile: &[u32], out: &mut [f32]) {
    let n_blocks = rows[0].len();
    assert!(tile.len() >= n_blocks * SLOTS_PER_LANE * WIDTH && out.len() >= TILE_ROWS * WIDTH);
    assert!(rows.iter().all(|r| r.len() == n_blocks));
    for pass in 0..TILE_ROWS / PASS_ROWS {
        let pass_rows: [&[UnpackedBlock]; PASS_ROWS] = std::array::from_fn(|i| rows[pass * PASS_ROWS + i]);
        tile_4x8(&pass_rows, tile, &mut out[pass * PASS_ROWS * WIDTH..(pass + 1) * PASS_ROWS * WIDTH]);
    }
}

#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile_4x8(rows: &[&[UnpackedBlock]; PASS_ROWS], tile: &[u32], out: &mut [f32]) {
    let n_blocks = rows[0].len();
    let mut acc = [_mm256_setzero_ps(); PASS_ROWS];
    for b in 0..n_blocks {
        let at = tile.as_ptr().add(b * SLOTS_PER_LANE * WIDTH);
        let w: [&UnpackedBlock; PASS_ROWS] = std::array::from_fn(|r| rows[r].get_unchecked(b));
        let mut isum = [_mm256_setzero_si256(); PASS_ROWS];
        for k in 0..16 {
            let a0 = _mm256_loadu_si256(at.add((4 * k) * WIDTH) as *const _);
            let a1 = _mm256_loadu_si256(at.add((4 * k + 1) * WIDTH) as *const _);
            let a2 = _mm256_loadu_si256(at.add((4 * k + 2) * WIDTH) as *const _);
            let a3 = _mm256_loadu_si256(at.add((4 * k + 3) * WIDTH) as *const _);
            for r in 0..PASS_ROWS {
                let q = w[r].q.as_ptr().add(16 * k) as *const i32;
                let p01 = _mm256_add_epi16(
                    _mm256_maddubs_epi16(_mm256_set1_epi32(q.read_unaligned()), a0),
                    _mm256_maddubs_epi16(_mm256_set1_epi32(q.add(1).read_unaligned()), a1),
                );
                let p23 = _mm256_add_epi16(
                    _mm256_maddubs_epi16(_mm256_set1_epi32(q.add(2).read_unaligned()), a2),
                    _mm256_maddubs_epi16(_mm256_set1_epi32(q.add(3).read_unaligned()), a3),
                );
                let sc = _mm256_set1_epi16(w[r].sc[k] as i16);
                let s = _mm256_add_epi32(_mm256_madd_epi16(p01, sc), _mm256_madd_epi16(p23, sc));
                isum[r] = _mm256_add_epi32(isum[r], s);
            }
        }
        let da = _mm256_loadu_ps(at.add(72 * WIDTH) as *const f32);
        for r in 0..PASS_ROWS {
            let mc = w[r].mc.as_ptr() as *const i32;
            let mut m = _mm256_setzero_si256();
            for p in 0..8 {
                let bs = _mm256_loadu_si256(at.add((64 + p) * WIDTH) as *const _);
                m = _mm256_add_epi32(m, _mm256_madd_epi16(bs, _mm256_set1_epi32(mc.add(p).read_unaligned())));
            }
            let t = _mm256_fnmadd_ps(
                _mm256_cvtepi32_ps(m),
                _mm256_set1_ps(w[r].dm),
                _mm256_mul_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_set1_ps(w[r].dw)),
            );
            acc[r] = _mm256_fmadd_ps(t, da, acc[r]);
        }
    }
    for (r, a) in acc.iter().enumerate() {
        _mm256_storeu_ps(out.as_mut_ptr().add(r * WIDTH), *a);
    }
}

/// Unpacks raw weight rows with AVX2 enabled, so the unpack loops vectorize.
///
/// # Safety
/// The CPU must support `avx2`.
#[target_feature(enable = "avx2")]
pub unsafe fn unpack_rows(
    unpack: super::unpacked::UnpackKind,
    data: &[u8],
    block_bytes: usize,
    out: &mut [UnpackedBlock],
) {
    super::unpacked::unpack_all(unpack, data, block_bytes, out);
}

/// The tile for Q4_0, Q4_1, Q5_0 and Q5_1 (quants plus offset at most 31,
/// so four `vpmaddubsw` pair sums add in i16: 4·31·128·2 = 31744) and Q8_0,
/// whose quants plus 128 would saturate `vpmaddubsw`: its signed quants
/// (`q ^ 0x80`) meet the activations as `|w|·sign(a, w)`, each group's pair
/// sums (at most 2·128·127) widened on their own. Equals
/// `unpacked32::dot_fast32` bit for bit.
///
/// # Safety
/// As for [`tile_8x8`], with `tile` holding `n_blocks * SLOTS_32 * WIDTH`
/// values (Q8_1 tiles for the formats with a min) and every quant at most 31.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn tile32_8x8(rows: &[&[Unpacked32]; TILE_ROWS], tile: &[u32], out: &mut [f32], kind: Kind32) {
    if kind.has_min() {
        tile32::<true, false>(rows, tile, out, 0)
    } else if kind == Kind32::Q8_0 {
        tile32::<false, true>(rows, tile, out, 0)
    } else {
        tile32::<false, false>(rows, tile, out, kind.offset())
    }
}

/// [`tile32_8x8`] for formats with a min (`MIN`: slot 8 holds the
/// activations' `s`, met by `m` after the scaled sum), an offset, or Q8_0's
/// signed quants (`SIGNED`, offset 0: Σ w·a directly).
#[inline(always)]
unsafe fn tile32<const MIN: bool, const SIGNED: bool>(
    rows: &[&[Unpacked32]; TILE_ROWS],
    tile: &[u32],
    out: &mut [f32],
    offset: i32,
) {
    let n_blocks = rows[0].len();
    assert!(tile.len() >= n_blocks * SLOTS_32 * WIDTH && out.len() >= TILE_ROWS * WIDTH);
    assert!(rows.iter().all(|r| r.len() == n_blocks));
    let mut acc = [_mm256_setzero_ps(); TILE_ROWS];
    let (ones, flip) = (_mm256_set1_epi16(1), _mm256_set1_epi8(0x80u8 as i8));
    let off = _mm256_set1_epi32(offset);
    for b in 0..n_blocks {
        let at = tile.as_ptr().add(b * SLOTS_32 * WIDTH);
        // Slot 8: the activations' sums (offset formats) or their `s` (f32).
        let slot8 = _mm256_loadu_si256(at.add(8 * WIDTH) as *const _);
        let off_sum = if MIN || SIGNED { _mm256_setzero_si256() } else { _mm256_mullo_epi32(slot8, off) };
        let da = _mm256_loadu_ps(at.add(9 * WIDTH) as *const f32);
        for r in 0..TILE_ROWS {
            let w = rows[r].get_unchecked(b);
            let q = w.q.as_ptr() as *const i32;
            let group = |g: usize| {
                let a = _mm256_loadu_si256(at.add(g * WIDTH) as *const _);
                _mm256_maddubs_epi16(_mm256_set1_epi32(q.add(g).read_unaligned()), a)
            };
            let s = if SIGNED {
                let signed_group = |g: usize| {
                    let a = _mm256_loadu_si256(at.add(g * WIDTH) as *const _);
                    let w = _mm256_xor_si256(_mm256_set1_epi32(q.add(g).read_unaligned()), flip);
                    let p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
                    _mm256_madd_epi16(p, ones)
                };
                let s01 = _mm256_add_epi32(signed_group(0), signed_group(1));
                let s23 = _mm256_add_epi32(signed_group(2), signed_group(3));
                let s45 = _mm256_add_epi32(signed_group(4), signed_group(5));
                let s67 = _mm256_add_epi32(signed_group(6), signed_group(7));
                _mm256_add_epi32(_mm256_add_epi32(s01, s23), _mm256_add_epi32(s45, s67))
            } else {
                let lo = _mm256_add_epi16(_mm256_add_epi16(group(0), group(1)), _mm256_add_epi16(group(2), group(3)));
                let hi = _mm256_add_epi16(_mm256_add_epi16(group(4), group(5)), _mm256_add_epi16(group(6), group(7)));
                _mm256_add_epi32(_mm256_madd_epi16(lo, ones), _mm256_madd_epi16(hi, ones))
            };
            let isum = _mm256_cvtepi32_ps(_mm256_sub_epi32(s, off_sum));
            acc[r] = _mm256_fmadd_ps(isum, _mm256_mul_ps(_mm256_set1_ps(w.d), da), acc[r]);
            if MIN {
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(w.m), _mm256_castsi256_ps(slot8), acc[r]);
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        _mm256_storeu_ps(out.as_mut_ptr().add(r * WIDTH), *a);
    }
}

/// Unpacks raw 32-value blocks with AVX2 enabled.
///
/// # Safety
/// The CPU must support `avx2`.
#[target_feature(enable = "avx2")]
pub unsafe fn unpack_rows32(kind: Kind32, data: &[u8], block_bytes: usize, out: &mut [Unpacked32]) {
    super::unpacked32::unpack_all32(kind, data, block_bytes, out);
}
