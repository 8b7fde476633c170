//! AVX2 and AVX-VNNI tiled kernels: the AVX-512 VNNI tile's design
//! (`avx512vnni.rs`) on 8 token lanes, for CPUs without AVX-512. On AVX2 a
//! broadcast weight group times 8 tokens is `vpmaddubsw` (u8 weights 0..63 x
//! i8 activations, pair sums at most 63·128·2, so two of them add in i16
//! without saturating), and `vpmaddwd` with the group's scale widens to i32
//! and applies the scale in the same instruction; with VNNI (`x86_dot.rs`)
//! four `vpdpbusd` sum a 16-value group in i32 and one `vpmulld` scales it.
//! AVX2's pair sums need 16 registers for 4 rows x 8 tokens, so an 8-row
//! call runs two passes over the tile; VNNI's single chain per row fits all
//! 8 rows in one pass (TinyLlama stand-in pp256 on a 2-core Xeon: the same
//! within noise, 81-85 vs 81-84 t/s at 1 thread). Results equal
//! `unpacked::dot_fast` bit for bit on every tier. Callers guarantee the
//! CPU has the wrapper's features.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::act_tiles::{SLOTS_32, SLOTS_PER_LANE};
use super::tiled::TILE_ROWS;
use super::unpacked::UnpackedBlock;
use super::unpacked32::{Kind32, Unpacked32};
use super::x86_dot::{Avx2Pairs, Avx512VlDot, AvxVnniDot, ByteDot};

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
    tile_passes::<Avx2Pairs>(rows, tile, out)
}

/// [`tile_8x8`] with `vpdpbusd`.
///
/// # Safety
/// As for [`tile_8x8`], and the CPU must support `avxvnni`.
#[target_feature(enable = "avxvnni,avx2,fma")]
pub unsafe fn tile_8x8_avxvnni(rows: &[&[UnpackedBlock]; TILE_ROWS], tile: &[u32], out: &mut [f32]) {
    tile_passes::<AvxVnniDot>(rows, tile, out)
}

#[inline(always)]
unsafe fn tile_passes<D: ByteDot>(rows: &[&[UnpackedBlock]; TILE_ROWS], tile: &[u32], out: &mut [f32]) {
    let n_blocks = rows[0].len();
    assert!(tile.len() >= n_blocks * SLOTS_PER_LANE * WIDTH && out.len() >= TILE_ROWS * WIDTH);
    assert!(rows.iter().all(|r| r.len() == n_blocks));
    if D::VNNI {
        // One `vpdpbusd` chain per row keeps 8 rows' sums within 16 registers.
        return tile_rows::<D, TILE_ROWS>(rows, tile, out);
    }
    for pass in 0..TILE_ROWS / PASS_ROWS {
        let pass_rows: [&[UnpackedBlock]; PASS_ROWS] = std::array::from_fn(|i| rows[pass * PASS_ROWS + i]);
        tile_rows::<D, PASS_ROWS>(&pass_rows, tile, &mut out[pass * PASS_ROWS * WIDTH..(pass + 1) * PASS_ROWS * WIDTH]);
    }
}

#[inline(always)]
unsafe fn tile_rows<D: ByteDot, const ROWS: usize>(rows: &[&[UnpackedBlock]; ROWS], tile: &[u32], out: &mut [f32]) {
    let n_blocks = rows[0].len();
    let mut acc = [_mm256_setzero_ps(); ROWS];
    for b in 0..n_blocks {
        let at = tile.as_ptr().add(b * SLOTS_PER_LANE * WIDTH);
        let w: [&UnpackedBlock; ROWS] = std::array::from_fn(|r| rows[r].get_unchecked(b));
        let mut isum = [_mm256_setzero_si256(); ROWS];
        for k in 0..16 {
            let a0 = _mm256_loadu_si256(at.add((4 * k) * WIDTH) as *const _);
            let a1 = _mm256_loadu_si256(at.add((4 * k + 1) * WIDTH) as *const _);
            let a2 = _mm256_loadu_si256(at.add((4 * k + 2) * WIDTH) as *const _);
            let a3 = _mm256_loadu_si256(at.add((4 * k + 3) * WIDTH) as *const _);
            for r in 0..ROWS {
                let q = w[r].q.as_ptr().add(16 * k) as *const i32;
                let group = |g: usize| _mm256_set1_epi32(q.add(g).read_unaligned());
                if D::VNNI {
                    let s = D::dpbusd(_mm256_setzero_si256(), group(0), a0);
                    let s = D::dpbusd(D::dpbusd(D::dpbusd(s, group(1), a1), group(2), a2), group(3), a3);
                    isum[r] = _mm256_add_epi32(isum[r], _mm256_mullo_epi32(s, _mm256_set1_epi32(w[r].sc[k])));
                    continue;
                }
                let p01 = _mm256_add_epi16(_mm256_maddubs_epi16(group(0), a0), _mm256_maddubs_epi16(group(1), a1));
                let p23 = _mm256_add_epi16(_mm256_maddubs_epi16(group(2), a2), _mm256_maddubs_epi16(group(3), a3));
                let sc = _mm256_set1_epi16(w[r].sc[k] as i16);
                let s = _mm256_add_epi32(_mm256_madd_epi16(p01, sc), _mm256_madd_epi16(p23, sc));
                isum[r] = _mm256_add_epi32(isum[r], s);
            }
        }
        let da = _mm256_loadu_ps(at.add(72 * WIDTH) as *const f32);
        for r in 0..ROWS {
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
    tile32_kind::<Avx2Pairs>(rows, tile, out, kind)
}

/// [`tile32_8x8`] with AVX-VNNI's `vpdpbusd`.
///
/// # Safety
/// As for [`tile32_8x8`], and the CPU must support `avxvnni`.
#[target_feature(enable = "avxvnni,avx2,fma")]
pub unsafe fn tile32_8x8_avxvnni(rows: &[&[Unpacked32]; TILE_ROWS], tile: &[u32], out: &mut [f32], kind: Kind32) {
    tile32_kind::<AvxVnniDot>(rows, tile, out, kind)
}

/// [`tile32_8x8`] with AVX-512 VNNI's 256-bit `vpdpbusd`: the AVX-512
/// tier's tile for the formats with a min, whose 16-token tile it lacks.
///
/// # Safety
/// As for [`tile32_8x8`], and the CPU must support `avx512f`, `avx512vl`
/// and `avx512vnni`.
#[target_feature(enable = "avx512f,avx512vl,avx512vnni,avx2,fma")]
pub unsafe fn tile32_8x8_avx512vl(rows: &[&[Unpacked32]; TILE_ROWS], tile: &[u32], out: &mut [f32], kind: Kind32) {
    tile32_kind::<Avx512VlDot>(rows, tile, out, kind)
}

#[inline(always)]
unsafe fn tile32_kind<D: ByteDot>(rows: &[&[Unpacked32]; TILE_ROWS], tile: &[u32], out: &mut [f32], kind: Kind32) {
    if kind.has_min() {
        tile32::<D, true, false>(rows, tile, out, 0)
    } else if kind == Kind32::Q8_0 {
        tile32::<D, false, true>(rows, tile, out, 0)
    } else {
        tile32::<D, false, false>(rows, tile, out, kind.offset())
    }
}

/// [`tile32_8x8`] for formats with a min (`MIN`: slot 8 holds the
/// activations' `s`, met by `m` after the scaled sum), an offset, or Q8_0's
/// signed quants (`SIGNED`, offset 0: Σ w·a directly).
#[inline(always)]
unsafe fn tile32<D: ByteDot, const MIN: bool, const SIGNED: bool>(
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
            let s = if D::VNNI {
                // i32 sums throughout: no saturation for any quant.
                let mut s = _mm256_setzero_si256();
                for g in 0..8 {
                    let a = _mm256_loadu_si256(at.add(g * WIDTH) as *const _);
                    let w = _mm256_set1_epi32(q.add(g).read_unaligned());
                    s = if SIGNED {
                        let w = _mm256_xor_si256(w, flip);
                        D::dpbusd(s, _mm256_abs_epi8(w), _mm256_sign_epi8(a, w))
                    } else {
                        D::dpbusd(s, w, a)
                    };
                }
                s
            } else if SIGNED {
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
