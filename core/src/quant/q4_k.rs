//! Q4_K: 256 values in 8 sub-blocks of 32; each sub-block has a 6-bit scale and
//! min, scaled by the block's f16 `d` and `dmin`: x = d·sc·q − dmin·m (144 bytes).
//! Within each 64-value chunk, the low nibbles of 32 bytes hold the first 32
//! values and the high nibbles the next 32.

use super::kquant_search::{make_qkx2_quants, pack_scale_min_k4, scale_min_k4, unpack_scales_mins_k4};
use super::q8_k::BlockQ8K;
use super::scalar_math::{nearest_int, F16Bytes};
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ4K {
    pub d: F16Bytes,
    pub dmin: F16Bytes,
    pub scales: [u8; 12],
    pub qs: [u8; 128],
}
const _: () = assert!(std::mem::size_of::<BlockQ4K>() == 144);

impl BlockQ4K {
    /// The eight (scale, min) pairs.
    pub fn scales_mins(&self) -> ([u8; 8], [u8; 8]) {
        scales_mins_k4(&self.scales)
    }

    /// The 4-bit quant of element i (0..256).
    #[inline]
    pub fn quant(&self, i: usize) -> u8 {
        let (chunk, r) = (i / 64, i % 64);
        let byte = self.qs[chunk * 32 + r % 32];
        if r < 32 {
            byte & 0xF
        } else {
            byte >> 4
        }
    }
}

impl QuantBlock for BlockQ4K {
    const TYPE: GgmlType = GgmlType::Q4_K;

    /// ggml's `dequantize_row_q4_K` loop: per 64-value chunk, the low nibbles
    /// then the high nibbles, each with its sub-block's d·sc and dmin·m.
    fn dequantize(&self, out: &mut [f32]) {
        let (d, dmin) = (self.d.to_f32(), self.dmin.to_f32());
        let (sc, mn) = self.scales_mins();
        for chunk in 0..4 {
            let qs = &self.qs[32 * chunk..32 * chunk + 32];
            let (lo, hi) = out[64 * chunk..64 * chunk + 64].split_at_mut(32);
            let (d1, m1) = (d * sc[2 * chunk] as f32, dmin * mn[2 * chunk] as f32);
            let (d2, m2) = (d * sc[2 * chunk + 1] as f32, dmin * mn[2 * chunk + 1] as f32);
            for ((l, h), &q) in lo.iter_mut().zip(hi.iter_mut()).zip(qs) {
                *l = d1 * (q & 0xF) as f32 - m1;
                *h = d2 * (q >> 4) as f32 - m2;
            }
        }
    }

    /// `quantize_row_q4_K_ref`.
    fn quantize(x: &[f32]) -> Self {
        let (d, dmin, scales, l) = quantize_k4_levels(x, 15, -1.0, 20);
        let mut qs = [0u8; 128];
        for chunk in 0..4 {
            for i in 0..32 {
                qs[chunk * 32 + i] = l[chunk * 64 + i] | (l[chunk * 64 + 32 + i] << 4);
            }
        }
        BlockQ4K { d, dmin, scales, qs }
    }
}

/// The shared part of the Q4_K (nmax 15) and Q5_K (nmax 31) reference
/// quantizers: a weighted scale/min search per 32-value sub-block, then 6-bit
/// scales and mins and the levels (0..=nmax) requantized against them.
/// Returns (d, dmin, packed scales, levels).
pub(super) fn quantize_k4_levels(
    x: &[f32],
    nmax: i32,
    rmin: f32,
    nstep: i32,
) -> (F16Bytes, F16Bytes, [u8; 12], [u8; 256]) {
    let mut l = [0u8; 256];
    let mut l_aux = [0u8; 32];
    let mut weights = [0f32; 32];
    let (mut scales, mut mins) = ([0f32; 8], [0f32; 8]);
    let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
    for j in 0..8 {
        let xs = &x[32 * j..32 * j + 32];
        let mut sum_x2 = 0.0f32;
        for &v in xs {
            sum_x2 += v * v;
        }
        let av_x = (sum_x2 / 32.0).sqrt();
        for (w, &v) in weights.iter_mut().zip(xs) {
            *w = av_x + v.abs();
        }
        (scales[j], mins[j]) =
            make_qkx2_quants(nmax, xs, &weights, &mut l[32 * j..32 * j + 32], &mut l_aux, rmin, 0.1, nstep, false);
        max_scale = if scales[j] > max_scale { scales[j] } else { max_scale };
        max_min = if mins[j] > max_min { mins[j] } else { max_min };
    }
    let (d, dmin, packed) = pack_k4_block(x, &scales, &mins, max_scale, max_min, nmax, &mut l);
    (d, dmin, packed, l)
}

/// The part of the Q4_K and Q5_K reference quantizers after the per-sub-block
/// search: quantize scales and mins to 6 bits, then requantize each value
/// against them (into `l`, 0..=nmax). Returns (d, dmin, packed scales).
fn pack_k4_block(
    x: &[f32],
    scales: &[f32; 8],
    mins: &[f32; 8],
    max_scale: f32,
    max_min: f32,
    nmax: i32,
    l: &mut [u8; 256],
) -> (F16Bytes, F16Bytes, [u8; 12]) {
    let inv_scale = if max_scale > 0.0 { 63.0 / max_scale } else { 0.0 };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let (mut ls, mut lm) = ([0u8; 8], [0u8; 8]);
    for j in 0..8 {
        // ggml stores nearest_int into a uint8_t, then clamps to 63.
        ls[j] = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        lm[j] = (nearest_int(inv_min * mins[j]) as u8).min(63);
    }
    let packed = pack_scale_min_k4(&ls, &lm);
    let d = F16Bytes::from_f32(max_scale / 63.0);
    let dmin = F16Bytes::from_f32(max_min / 63.0);
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, &packed);
        let dj = d.to_f32() * sc as f32;
        if dj == 0.0 {
            continue;
        }
        let dm = dmin.to_f32() * m as f32;
        for i in 32 * j..32 * j + 32 {
            l[i] = nearest_int((x[i] + dm) / dj).clamp(0, nmax) as u8;
        }
    }
    (d, dmin, packed)
}

/// The eight 6-bit (scale, min) pairs of a Q4_K or Q5_K block, as bytes.
pub(crate) fn scales_mins_k4(packed: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let (sc, mn) = unpack_scales_mins_k4(packed);
    let bytes = |w: [u32; 2]| (w[0] as u64 | (w[1] as u64) << 32).to_le_bytes();
    (bytes(sc), bytes(mn))
}

/// Q4_K weights · Q8_K activations. Integer sums per sub-block; mins folded in
/// through the activation block sums.
pub fn vec_dot(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let (sc, mn) = wb.scales_mins();
        let mut sumi = 0i32;
        for chunk in 0..4 {
            let qs = &wb.qs[32 * chunk..32 * chunk + 32];
            let (a_lo, a_hi) = ab.qs[64 * chunk..64 * chunk + 64].split_at(32);
            let (mut s_lo, mut s_hi) = (0i32, 0i32);
            for i in 0..32 {
                s_lo += (qs[i] & 0xF) as i32 * a_lo[i] as i32;
                s_hi += (qs[i] >> 4) as i32 * a_hi[i] as i32;
            }
            sumi += sc[2 * chunk] as i32 * s_lo + sc[2 * chunk + 1] as i32 * s_hi;
        }
        let summ: i32 = (0..8).map(|j| mn[j] as i32 * (ab.bsums[2 * j] as i32 + ab.bsums[2 * j + 1] as i32)).sum();
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}
