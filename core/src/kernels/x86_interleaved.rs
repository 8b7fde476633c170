//! Decode's Q4_K, Q5_K and Q6_K kernels over 8 interleaved rows
//! (`interleaved.rs`), one row per 32-bit lane of a 256-bit register: AVX2
//! (`vpmaddubsw`), AVX-512 VNNI and AVX-VNNI (`vpdpbusd` on 256-bit
//! registers, `x86_dot.rs`); and
//! the tiled prefill's unpack of a group (8x8 transposes of 4-byte words).
//! Q5_K is Q4_K with a fifth bit per quant from the rows' `qh` words (one
//! 16-bit shift per chunk and step, then a shift and mask per nibble).
//!
//! Per block and group: the 8 rows' scales (and Q4_K's mins) come out of
//! their words with shifts and masks, each 32-byte load of quants meets one
//! broadcast of 4 activation bytes, and a sub-block scale is applied once per
//! 16 or 32 values for all 8 rows (`vpmulld`). No horizontal sums. The float
//! epilogue is `unpacked::epilogue` in every lane, so the result equals
//! `unpacked::dot_fast` bit for bit (`core/tests/interleaved_kernels.rs`).
//!
//! Measured on a 2-core Zen 5 VM, one thread, same runs: Q4_K 512 x 2048 in
//! cache, per-row AVX2 kernel ~21 GB/s, this one ~39 (AVX2) / ~44 (VNNI),
//! from DRAM 13-15 vs 20-22; Q6_K 1536 x 8960 in cache, per-row AVX-512 ~32,
//! this one 33 / 42, from DRAM 16.7 vs 27-29.

#![allow(clippy::missing_safety_doc)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::interleaved::GROUP_ROWS;
use super::unpacked::{set_k4_scales, UnpackedBlock};
use super::x86_dot::{Avx2Pairs, Avx512VlDot, AvxVnniDot, ByteDot};
use crate::quant::q4_k::scales_mins_k4;
use crate::quant::BlockQ8K;

/// Bytes of one block of an interleaved Q4_K group (8 x 144).
const Q4K_GROUP_BLOCK: usize = 1152;
/// Bytes of one block of an interleaved Q5_K group (8 x 176), and the
/// offsets of its `qh` and `qs` words.
const Q5K_GROUP_BLOCK: usize = 1408;
const Q5K_QH: usize = 128;
const Q5K_QS: usize = 384;
/// Bytes of one block of an interleaved Q6_K group (8 x 210).
const Q6K_GROUP_BLOCK: usize = 1680;
/// The 8 rows' f16 factors at `p` (a group block's 16-byte field), as f32.
#[inline(always)]
pub(super) unsafe fn f16_row_factors(p: *const u8) -> [f32; GROUP_ROWS] {
    let mut out = [0.0f32; GROUP_ROWS];
    _mm256_storeu_ps(out.as_mut_ptr(), _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)));
    out
}

/// The sub-block products of one 64-value chunk for 8 rows: low nibbles ·
/// activations 0..32 and high nibbles · activations 32..64, as i32 lanes.
#[inline(always)]
unsafe fn chunk_sums<D: ByteDot>(q: *const u8, act: *const i32) -> (__m256i, __m256i) {
    let low_mask = _mm256_set1_epi8(0x0F);
    let (mut lo, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    if D::VNNI {
        // High nibbles stay in place (values 16·q): the sum is 16× and is
        // shifted back exactly. 4·240·128 per step, 8 steps: far from overflow.
        let high_mask = _mm256_set1_epi8(0xF0u8 as i8);
        for j in 0..8 {
            let v = _mm256_loadu_si256(q.add(32 * j) as *const __m256i);
            lo = D::dpbusd(lo, _mm256_and_si256(v, low_mask), _mm256_set1_epi32(act.add(j).read_unaligned()));
            hi = D::dpbusd(hi, _mm256_and_si256(v, high_mask), _mm256_set1_epi32(act.add(8 + j).read_unaligned()));
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

/// [`chunk_sums`] for Q5_K's chunk `c`: each nibble joined with its fifth
/// bit, bit `2c` (low nibbles) or `2c + 1` (high) of the row's `qh` byte.
/// AVX2: i16 sums of 4 steps, |4·2·31·128| = 31744, then widened; VNNI:
/// `vpdpbusd` straight into i32 lanes (quants 0..31 are its unsigned operand).
#[inline(always)]
unsafe fn chunk_sums_q5<D: ByteDot>(q: *const u8, qh: *const u8, c: usize, act: *const i32) -> (__m256i, __m256i) {
    let (low_mask, fifth, ones) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(0x10), _mm256_set1_epi16(1));
    // 16-bit shifts by at most 6 (and 4 back up): the bits kept never cross bytes.
    let down = _mm_cvtsi32_si128(2 * c as i32);
    let (mut lo, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    let (mut lo16, mut hi16) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    for j in 0..8 {
        let v = _mm256_loadu_si256(q.add(32 * j) as *const __m256i);
        let h = _mm256_srl_epi16(_mm256_loadu_si256(qh.add(32 * j) as *const __m256i), down);
        let l = _mm256_or_si256(_mm256_and_si256(v, low_mask), _mm256_and_si256(_mm256_slli_epi16::<4>(h), fifth));
        let u = _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16::<4>(v), low_mask),
            _mm256_and_si256(_mm256_slli_epi16::<3>(h), fifth),
        );
        let (a_lo, a_hi) =
            (_mm256_set1_epi32(act.add(j).read_unaligned()), _mm256_set1_epi32(act.add(8 + j).read_unaligned()));
        if D::VNNI {
            lo = D::dpbusd(lo, l, a_lo);
            hi = D::dpbusd(hi, u, a_hi);
            continue;
        }
        lo16 = _mm256_add_epi16(lo16, _mm256_maddubs_epi16(l, a_lo));
        hi16 = _mm256_add_epi16(hi16, _mm256_maddubs_epi16(u, a_hi));
        if j % 4 == 3 {
            lo = _mm256_add_epi32(lo, _mm256_madd_epi16(lo16, ones));
            hi = _mm256_add_epi32(hi, _mm256_madd_epi16(hi16, ones));
            (lo16, hi16) = (_mm256_setzero_si256(), _mm256_setzero_si256());
        }
    }
    (lo, hi)
}

/// Q4_K (`Q5 = false`) or Q5_K (`Q5 = true`): the same scales,
/// mins and epilogue; Q5_K's quants carry a fifth bit.
#[inline(always)]
unsafe fn group_dot<D: ByteDot, const Q5: bool>(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    let group_block = if Q5 { Q5K_GROUP_BLOCK } else { Q4K_GROUP_BLOCK };
    assert!(group.len() >= a.len() * group_block);
    let (m6, m4, m_hi) = (_mm256_set1_epi32(63), _mm256_set1_epi32(0x0F), _mm256_set1_epi32(0x30));
    let mut acc = _mm256_setzero_ps();
    for (b, ab) in a.iter().enumerate() {
        let base = group.as_ptr().add(b * group_block);
        super::prefetch::ahead(base, group_block);
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
            let (lo, hi) = if Q5 {
                chunk_sums_q5::<D>(base.add(Q5K_QS + 256 * c), base.add(Q5K_QH), c, act.add(16 * c))
            } else {
                chunk_sums::<D>(base.add(128 + 256 * c), act.add(16 * c))
            };
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

/// The 8 rows of `v` (row r: 8 words, lane k = slot k's word of row r) from
/// 8 slots (slot k: lane r = row r's word): an 8x8 transpose of 32-bit words.
#[inline(always)]
pub(super) unsafe fn transpose_8x8(v: [__m256i; 8]) -> [__m256i; 8] {
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
    unpack_group_k4::<false>(group, n_blocks, out)
}

/// [`unpack_group_q4_k`] for Q5_K (`[n_blocks, 1408]`), equal to plain
/// `unpack_q5_k` of each row.
///
/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn unpack_group_q5_k(group: &[u8], n_blocks: usize, out: &mut [UnpackedBlock]) {
    unpack_group_k4::<true>(group, n_blocks, out)
}

#[inline(always)]
unsafe fn unpack_group_k4<const Q5: bool>(group: &[u8], n_blocks: usize, out: &mut [UnpackedBlock]) {
    let (group_block, qs) = if Q5 { (Q5K_GROUP_BLOCK, Q5K_QS) } else { (Q4K_GROUP_BLOCK, 128) };
    assert!(group.len() >= n_blocks * group_block && out.len() >= GROUP_ROWS * n_blocks);
    let (low_mask, fifth) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(0x10));
    for b in 0..n_blocks {
        let src = group.as_ptr().add(b * group_block);
        let (d, dmin) = (f16_row_factors(src), f16_row_factors(src.add(16)));
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
        // Q5_K: each row's 32 qh bytes (zeros for Q4_K: no fifth bits).
        let qh = if Q5 {
            transpose_8x8(std::array::from_fn(|j| _mm256_loadu_si256(src.add(Q5K_QH + 32 * j) as *const __m256i)))
        } else {
            [_mm256_setzero_si256(); 8]
        };
        for c in 0..4 {
            let slots: [__m256i; 8] =
                std::array::from_fn(|j| _mm256_loadu_si256(src.add(qs + 32 * (8 * c + j)) as *const __m256i));
            let down = _mm_cvtsi32_si128(2 * c as i32);
            for (r, v) in transpose_8x8(slots).into_iter().enumerate() {
                let q = out[r * n_blocks + b].q.as_mut_ptr().add(64 * c);
                let (mut l, mut u) =
                    (_mm256_and_si256(v, low_mask), _mm256_and_si256(_mm256_srli_epi16::<4>(v), low_mask));
                if Q5 {
                    let h = _mm256_srl_epi16(qh[r], down);
                    l = _mm256_or_si256(l, _mm256_and_si256(_mm256_slli_epi16::<4>(h), fifth));
                    u = _mm256_or_si256(u, _mm256_and_si256(_mm256_slli_epi16::<3>(h), fifth));
                }
                _mm256_storeu_si256(q as *mut __m256i, l);
                _mm256_storeu_si256(q.add(32) as *mut __m256i, u);
            }
        }
    }
}

/// The 8 rows' i8 scale `k` of a Q6_K group block (`base`), sign-extended.
#[inline(always)]
unsafe fn q6_k_scale(base: *const u8, k: usize) -> __m256i {
    let word = _mm256_loadu_si256(base.add(16 + 32 * (k / 4)) as *const __m256i);
    let byte = match k % 4 {
        0 => _mm256_slli_epi32::<24>(word),
        1 => _mm256_slli_epi32::<16>(word),
        2 => _mm256_slli_epi32::<8>(word),
        _ => word,
    };
    _mm256_srai_epi32::<24>(byte)
}

/// The four quarters' 6-bit quants of values 4j..4j+4 of a half, 8 rows:
/// the low or high nibble of `ql_a` (`ql[64h + 4j]`, quarters 0, 2) or
/// `ql_b` (`ql[64h + 32 + 4j]`, quarters 1, 3), with 2 bits of `qh`
/// (`qh[32h + 4j]`) above it. 16-bit shifts: bits crossing into the other
/// byte are masked off.
#[inline(always)]
unsafe fn q6_k_quarters(ql_a: __m256i, ql_b: __m256i, qh: __m256i) -> [__m256i; 4] {
    let (m4, m_hi) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(0x30));
    let join = |low: __m256i, high: __m256i| _mm256_or_si256(_mm256_and_si256(low, m4), _mm256_and_si256(high, m_hi));
    [
        join(ql_a, _mm256_slli_epi16::<4>(qh)),
        join(ql_b, _mm256_slli_epi16::<2>(qh)),
        join(_mm256_srli_epi16::<4>(ql_a), qh),
        join(_mm256_srli_epi16::<4>(ql_b), _mm256_srli_epi16::<2>(qh)),
    ]
}

/// Offset of step j of half h's three words in a Q6_K group block.
const fn q6_k_step(h: usize, j: usize) -> usize {
    144 + 768 * h + 96 * j
}

/// Reads each block front to back (see `interleaved.rs`); per half and
/// 16-value scale group, 4 steps of 3 loads feed the 4 quarters' sums, so
/// only those 4 sums are live (holding all 16 scales and 8 sums at once
/// spilled).
#[inline(always)]
unsafe fn group_dot_q6<D: ByteDot>(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    assert!(group.len() >= a.len() * Q6K_GROUP_BLOCK);
    let ones = _mm256_set1_epi16(1);
    let mut acc = _mm256_setzero_ps();
    for (b, ab) in a.iter().enumerate() {
        let base = group.as_ptr().add(b * Q6K_GROUP_BLOCK);
        super::prefetch::ahead(base, Q6K_GROUP_BLOCK);
        let d = _mm256_cvtph_ps(_mm_loadu_si128(base as *const __m128i));
        let act = ab.qs.as_ptr() as *const i32;
        let (mut isum, mut msum) = (_mm256_setzero_si256(), _mm256_setzero_si256());
        for h in 0..2 {
            for g in 0..2 {
                let mut sums = [_mm256_setzero_si256(); 4];
                let mut pairs = [_mm256_setzero_si256(); 4];
                for j in 4 * g..4 * g + 4 {
                    let at = base.add(q6_k_step(h, j));
                    let word = |w: usize| _mm256_loadu_si256(at.add(32 * w) as *const __m256i);
                    for (quarter, q) in q6_k_quarters(word(0), word(1), word(2)).into_iter().enumerate() {
                        let x = _mm256_set1_epi32(act.add(32 * h + 8 * quarter + j).read_unaligned());
                        if D::VNNI {
                            sums[quarter] = D::dpbusd(sums[quarter], q, x);
                        } else if j % 2 == 0 {
                            pairs[quarter] = _mm256_maddubs_epi16(q, x);
                        } else {
                            // i16 sums of 2 steps: |2·2·63·128| = 32256 fits.
                            let p = _mm256_add_epi16(pairs[quarter], _mm256_maddubs_epi16(q, x));
                            sums[quarter] = _mm256_add_epi32(sums[quarter], _mm256_madd_epi16(p, ones));
                        }
                    }
                }
                for (quarter, sum) in sums.into_iter().enumerate() {
                    // Values 16g..16g+16 of the quarter: scale k.
                    let k = 8 * h + 2 * quarter + g;
                    let sc = q6_k_scale(base, k);
                    isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(sum, sc));
                    // The −32 offset of every quant through the activation group sums.
                    msum = _mm256_add_epi32(msum, _mm256_mullo_epi32(sc, _mm256_set1_epi32(ab.bsums[k] as i32)));
                }
            }
        }
        let msum = _mm256_slli_epi32::<5>(msum);
        let t = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), d, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), d));
        acc = _mm256_fmadd_ps(t, _mm256_set1_ps(ab.d), acc);
    }
    _mm256_storeu_ps(out.as_mut_ptr(), acc);
}

/// One `#[target_feature]` wrapper per tier of a generic group kernel.
macro_rules! tier_wrappers {
    ($($name:ident = $kernel:ident::<$($arg:tt),*> if $features:literal;)*) => {$(
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn $name(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
            $kernel::<$($arg),*>(group, a, out)
        }
    )*};
}

tier_wrappers! {
    group_dot_q4_k_avx2 = group_dot::<Avx2Pairs, false> if "avx2,fma,f16c";
    group_dot_q4_k_avxvnni = group_dot::<AvxVnniDot, false> if "avxvnni,avx2,fma,f16c";
    group_dot_q4_k_vnni = group_dot::<Avx512VlDot, false> if "avx512f,avx512vl,avx512vnni,avx2,fma,f16c";
    group_dot_q5_k_avx2 = group_dot::<Avx2Pairs, true> if "avx2,fma,f16c";
    group_dot_q5_k_avxvnni = group_dot::<AvxVnniDot, true> if "avxvnni,avx2,fma,f16c";
    group_dot_q5_k_vnni = group_dot::<Avx512VlDot, true> if "avx512f,avx512vl,avx512vnni,avx2,fma,f16c";
    group_dot_q6_k_avx2 = group_dot_q6::<Avx2Pairs> if "avx2,fma,f16c";
    group_dot_q6_k_avxvnni = group_dot_q6::<AvxVnniDot> if "avxvnni,avx2,fma,f16c";
    group_dot_q6_k_vnni = group_dot_q6::<Avx512VlDot> if "avx512f,avx512vl,avx512vnni,avx2,fma,f16c";
}

/// Unpacks one interleaved Q6_K group (`[n_blocks, 1680]`) into its 8 rows'
/// [`UnpackedBlock`]s (`out`: `[8, n_blocks]`), equal to plain `unpack_q6_k`.
///
/// # Safety
/// The CPU must support `avx2`, `fma` and `f16c`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn unpack_group_q6_k(group: &[u8], n_blocks: usize, out: &mut [UnpackedBlock]) {
    assert!(group.len() >= n_blocks * Q6K_GROUP_BLOCK && out.len() >= GROUP_ROWS * n_blocks);
    for b in 0..n_blocks {
        let src = group.as_ptr().add(b * Q6K_GROUP_BLOCK);
        let d = f16_row_factors(src);
        for r in 0..GROUP_ROWS {
            let o = &mut out[r * n_blocks + b];
            for w in 0..4 {
                let word = std::slice::from_raw_parts(src.add(16 + 32 * w + 4 * r), 4);
                for (i, &s) in word.iter().enumerate() {
                    o.sc[4 * w + i] = s as i8 as i32;
                    o.mc[4 * w + i] = 32 * s as i8 as i16;
                }
            }
            o.dw = d[r];
            o.dm = d[r];
        }
        // Word w (ql_a, ql_b, qh) of steps 0..8: one row's 32 bytes of it.
        let word_of_steps = |h: usize, w: usize| -> [__m256i; 8] {
            let words =
                std::array::from_fn(|j| _mm256_loadu_si256(src.add(q6_k_step(h, j) + 32 * w) as *const __m256i));
            transpose_8x8(words)
        };
        for h in 0..2 {
            let (ql_a, ql_b, qh) = (word_of_steps(h, 0), word_of_steps(h, 1), word_of_steps(h, 2));
            for r in 0..GROUP_ROWS {
                let q = out[r * n_blocks + b].q.as_mut_ptr().add(128 * h);
                for (quarter, v) in q6_k_quarters(ql_a[r], ql_b[r], qh[r]).into_iter().enumerate() {
                    _mm256_storeu_si256(q.add(32 * quarter) as *mut __m256i, v);
                }
            }
        }
    }
}
