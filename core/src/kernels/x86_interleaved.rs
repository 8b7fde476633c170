//! Decode's Q4_K kernel over 8 interleaved rows (`interleaved.rs`), one row
//! per 32-bit lane of a 256-bit register: AVX2 (`vpmaddubsw`) and AVX-512
//! VNNI (`vpdpbusd` on 256-bit registers); and the tiled prefill's unpack of
//! a group (an 8x8 transpose of 4-byte words per 64 values).
//!
//! Per block and group: the 8 rows' scales and mins come out of three words
//! with shifts and masks, each 32-byte load of quants meets one broadcast of
//! 4 activation bytes per nibble half, and the sub-block scale is applied once
//! per 32 values for all 8 rows (`vpmulld`). No horizontal sums. The float
//! epilogue is `unpacked::epilogue` in every lane, so the result equals
//! `unpacked::dot_fast` bit for bit (`core/tests/interleaved_kernels.rs`).
//!
//! Measured on a 2-core Zen 5 VM, 512 x 2048 Q4_K rows in cache, one thread,
//! same run: per-row AVX2 kernel ~21 GB/s, this one ~39 (AVX2) / ~44 (VNNI);
//! from DRAM 13-15 vs 20-22 GB/s.

#![allow(clippy::missing_safety_doc)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::interleaved::{GROUP_BLOCK_BYTES, GROUP_ROWS};
use super::unpacked::{set_k4_scales, UnpackedBlock};
use crate::quant::q4_k::scales_mins_k4;
use crate::quant::BlockQ8K;

/// The sub-block products of one 64-value chunk for 8 rows: low nibbles ·
/// activations 0..32 and high nibbles · activations 32..64, as i32 lanes.
#[inline(always)]
unsafe fn chunk_sums<const VNNI: bool>(q: *const u8, act: *const i32) -> (__m256i, __m256i) {
    let low_mask = _mm256_set1_epi8(0x0F);
    let (mut lo, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    if VNNI {
        // High nibbles stay in place (values 16·q): the sum is 16× and is
        // shifted back exactly. 4·240·128 per step, 8 steps: far from overflow.
        let high_mask = _mm256_set1_epi8(0xF0u8 as i8);
        for j in 0..8 {
            let v = _mm256_loadu_si256(q.add(32 * j) as *const __m256i);
            lo = _mm256_dpbusd_epi32(lo, _mm256_and_si256(v, low_mask), _mm256_set1_epi32(act.add(j).read_unaligned()));
            hi = _mm256_dpbusd_epi32(
                hi,
                _mm256_and_si256(v, high_mask),
                _mm256_set1_epi32(act.add(8 + j).read_unaligned()),
            );
        }
        (lo, _mm256_srai_epi32::<4>(hi))
    } else {
        // i16 sums of 8 pairs: |8·2·15·128| = 30720 fits without saturating.
        for j in 0..8 {
            let v = _mm256_loadu_si256(q.add(32 * j) as *const __m256i);
            let (l, h) = (_mm256_and_si256(v, low_mask), _mm256_and_si256(_mm256_srli_epi16::<4>(v), low_mask));
            lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(l, _mm256_set1_epi32(act.add(j).read_unaligned())));
            hi = _mm256_add_epi16(hi, _mm256_maddubs_epi16(h, _mm256_set1_epi32(act.add(8 + j).read_unaligned())));
        }
        let ones = _mm256_set1_epi16(1);
        (_mm256_madd_epi16(lo, ones), _mm256_madd_epi16(hi, ones))
    }
}

#[inline(always)]
unsafe fn group_dot<const VNNI: bool>(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    assert!(group.len() >= a.len() * GROUP_BLOCK_BYTES);
    let (m6, m4, m_hi) = (_mm256_set1_epi32(63), _mm256_set1_epi32(0x0F), _mm256_set1_epi32(0x30));
    let mut acc = _mm256_setzero_ps();
    for (b, ab) in a.iter().enumerate() {
        let base = group.as_ptr().add(b * GROUP_BLOCK_BYTES);
        let dw = _mm256_cvtph_ps(_mm_loadu_si128(base as *const __m128i));
        let dm = _mm256_cvtph_ps(_mm_loadu_si128(base.add(16) as *const __m128i));
        let w: [__m256i; 3] = std::array::from_fn(|i| _mm256_loadu_si256(base.add(32 + 32 * i) as *const __m256i));
        // The 6-bit scale/min packing of `q4_k::scales_mins_k4`, per lane:
        // j < 4: w0 / w1 byte j; j >= 4: w2's nibble plus w0 / w1's top 2 bits.
        macro_rules! field {
            ($v:expr, $shift:literal, $mask:expr) => {
                _mm256_and_si256(_mm256_srli_epi32::<$shift>($v), $mask)
            };
        }
        let sc = [
            _mm256_and_si256(w[0], m6),
            field!(w[0], 8, m6),
            field!(w[0], 16, m6),
            field!(w[0], 24, m6),
            _mm256_or_si256(_mm256_and_si256(w[2], m4), field!(w[0], 2, m_hi)),
            _mm256_or_si256(field!(w[2], 8, m4), field!(w[0], 10, m_hi)),
            _mm256_or_si256(field!(w[2], 16, m4), field!(w[0], 18, m_hi)),
            _mm256_or_si256(field!(w[2], 24, m4), field!(w[0], 26, m_hi)),
        ];
        let mn = [
            _mm256_and_si256(w[1], m6),
            field!(w[1], 8, m6),
            field!(w[1], 16, m6),
            field!(w[1], 24, m6),
            _mm256_or_si256(field!(w[2], 4, m4), field!(w[1], 2, m_hi)),
            _mm256_or_si256(field!(w[2], 12, m4), field!(w[1], 10, m_hi)),
            _mm256_or_si256(field!(w[2], 20, m4), field!(w[1], 18, m_hi)),
            _mm256_or_si256(field!(w[2], 28, m4), field!(w[1], 26, m_hi)),
        ];
        let act = ab.qs.as_ptr() as *const i32;
        let mut isum = _mm256_setzero_si256();
        for c in 0..4 {
            let (lo, hi) = chunk_sums::<VNNI>(base.add(128 + 256 * c), act.add(16 * c));
            isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(lo, sc[2 * c]));
            isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(hi, sc[2 * c + 1]));
        }
        // The mins through the activation group sums, 2 groups of 16 per min.
        let mut msum = _mm256_setzero_si256();
        for (j, m) in mn.iter().enumerate() {
            let pair = ab.bsums[2 * j] as i32 + ab.bsums[2 * j + 1] as i32;
            msum = _mm256_add_epi32(msum, _mm256_mullo_epi32(*m, _mm256_set1_epi32(pair)));
        }
        // unpacked::epilogue per lane: fma(-msum, dm, isum·dw), then fma(t, da, acc).
        let t = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), dm, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), dw));
        acc = _mm256_fmadd_ps(t, _mm256_set1_ps(ab.d), acc);
    }
    _mm256_storeu_ps(out.as_mut_ptr(), acc);
}

/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn group_dot_q4_k_avx2(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    group_dot::<false>(group, a, out)
}

/// # Safety
/// The CPU must support `avx512f`, `avx512vl`, `avx512vnni`, `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx512f,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn group_dot_q4_k_vnni(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    group_dot::<true>(group, a, out)
}

/// The 8 rows of `v` (row r: 8 words, lane k = slot k's word of row r) from
/// 8 slots (slot k: lane r = row r's word): an 8x8 transpose of 32-bit words.
#[inline(always)]
unsafe fn transpose_8x8(v: [__m256i; 8]) -> [__m256i; 8] {
    let a: [__m256i; 8] = std::array::from_fn(|i| {
        let (x, y) = (v[2 * (i / 2)], v[2 * (i / 2) + 1]);
        if i % 2 == 0 {
            _mm256_unpacklo_epi32(x, y)
        } else {
            _mm256_unpackhi_epi32(x, y)
        }
    });
    // b[0..4] from slots 0-3, b[4..8] from slots 4-7; b[j] holds rows j and j + 4.
    let b: [__m256i; 8] = std::array::from_fn(|i| {
        let (base, j) = (4 * (i / 4), i % 4);
        let (x, y) = (a[base + j / 2], a[base + 2 + j / 2]);
        if j % 2 == 0 {
            _mm256_unpacklo_epi64(x, y)
        } else {
            _mm256_unpackhi_epi64(x, y)
        }
    });
    std::array::from_fn(|r| {
        if r < 4 {
            _mm256_permute2x128_si256::<0x20>(b[r], b[4 + r])
        } else {
            _mm256_permute2x128_si256::<0x31>(b[r - 4], b[r])
        }
    })
}

/// Unpacks one interleaved group (`[n_blocks, 1152]`) into its 8 rows'
/// [`UnpackedBlock`]s (`out`: `[8, n_blocks]`), equal to plain `unpack_q4_k`
/// of each row: quants by an 8x8 word transpose per 64 values, scales and
/// f16 factors per row. For the tiled path's panels.
///
/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn unpack_group_q4_k(group: &[u8], n_blocks: usize, out: &mut [UnpackedBlock]) {
    assert!(group.len() >= n_blocks * GROUP_BLOCK_BYTES && out.len() >= GROUP_ROWS * n_blocks);
    let low_mask = _mm256_set1_epi8(0x0F);
    for b in 0..n_blocks {
        let src = group.as_ptr().add(b * GROUP_BLOCK_BYTES);
        let mut d = [0.0f32; GROUP_ROWS];
        let mut dmin = [0.0f32; GROUP_ROWS];
        _mm256_storeu_ps(d.as_mut_ptr(), _mm256_cvtph_ps(_mm_loadu_si128(src as *const __m128i)));
        _mm256_storeu_ps(dmin.as_mut_ptr(), _mm256_cvtph_ps(_mm_loadu_si128(src.add(16) as *const __m128i)));
        for r in 0..GROUP_ROWS {
            let o = &mut out[r * n_blocks + b];
            let mut scales = [0u8; 12];
            for (w, word) in scales.chunks_exact_mut(4).enumerate() {
                word.copy_from_slice(std::slice::from_raw_parts(src.add(32 + 32 * w + 4 * r), 4));
            }
            let (sc, mn) = scales_mins_k4(&scales);
            set_k4_scales(&sc, &mn, o);
            o.dw = d[r];
            o.dm = dmin[r];
        }
        for c in 0..4 {
            let slots: [__m256i; 8] =
                std::array::from_fn(|j| _mm256_loadu_si256(src.add(128 + 32 * (8 * c + j)) as *const __m256i));
            for (r, qs) in transpose_8x8(slots).into_iter().enumerate() {
                let q = out[r * n_blocks + b].q.as_mut_ptr().add(64 * c);
                _mm256_storeu_si256(q as *mut __m256i, _mm256_and_si256(qs, low_mask));
                _mm256_storeu_si256(q.add(32) as *mut __m256i, _mm256_and_si256(_mm256_srli_epi16::<4>(qs), low_mask));
            }
        }
    }
}
