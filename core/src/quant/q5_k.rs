//! Q5_K: Q4_K's layout plus one high bit per value (`qh`, 176 bytes). In chunk c
//! (64 values), bit 2c of qh[i] is the fifth bit of value 64c+i and bit 2c+1 that
//! of value 64c+32+i.

use super::q4_k::{quantize_k4_levels, scales_mins_k4};
use super::q8_k::BlockQ8K;
use super::scalar_math::F16Bytes;
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ5K {
    pub d: F16Bytes,
    pub dmin: F16Bytes,
    pub scales: [u8; 12],
    pub qh: [u8; 32],
    pub qs: [u8; 128],
}
const _: () = assert!(std::mem::size_of::<BlockQ5K>() == 176);

impl BlockQ5K {
    pub fn scales_mins(&self) -> ([u8; 8], [u8; 8]) {
        scales_mins_k4(&self.scales)
    }

    /// The 5-bit quant of element i (0..256).
    #[inline]
    pub fn quant(&self, i: usize) -> u8 {
        let (chunk, r) = (i / 64, i % 64);
        let byte = self.qs[chunk * 32 + r % 32];
        let low = if r < 32 { byte & 0xF } else { byte >> 4 };
        let bit = 2 * chunk + usize::from(r >= 32);
        low | (((self.qh[r % 32] >> bit) & 1) << 4)
    }
}

impl QuantBlock for BlockQ5K {
    const TYPE: GgmlType = GgmlType::Q5_K;

    /// ggml's `dequantize_row_q5_K` loop: Q4_K's, plus the fifth bit from `qh`.
    fn dequantize(&self, out: &mut [f32]) {
        let (d, dmin) = (self.d.to_f32(), self.dmin.to_f32());
        let (sc, mn) = self.scales_mins();
        for chunk in 0..4 {
            let qs = &self.qs[32 * chunk..32 * chunk + 32];
            let (lo, hi) = out[64 * chunk..64 * chunk + 64].split_at_mut(32);
            let (d1, m1) = (d * sc[2 * chunk] as f32, dmin * mn[2 * chunk] as f32);
            let (d2, m2) = (d * sc[2 * chunk + 1] as f32, dmin * mn[2 * chunk + 1] as f32);
            for (i, &q) in qs.iter().enumerate() {
                let h = self.qh[i] >> (2 * chunk);
                lo[i] = d1 * ((q & 0xF) | ((h & 1) << 4)) as f32 - m1;
                hi[i] = d2 * ((q >> 4) | ((h & 2) << 3)) as f32 - m2;
            }
        }
    }

    /// `quantize_row_q5_K_ref`.
    fn quantize(x: &[f32]) -> Self {
        let (d, dmin, packed, l) = quantize_k4_levels(x, 31, -0.5, 15);
        let (mut qs, mut qh) = ([0u8; 128], [0u8; 32]);
        for chunk in 0..4 {
            for i in 0..32 {
                let (lo, hi) = (l[chunk * 64 + i], l[chunk * 64 + 32 + i]);
                qh[i] |= ((lo >> 4) << (2 * chunk)) | ((hi >> 4) << (2 * chunk + 1));
                qs[chunk * 32 + i] = (lo & 0xF) | ((hi & 0xF) << 4);
            }
        }
        BlockQ5K { d, dmin, scales: packed, qh, qs }
    }
}

/// Q5_K weights · Q8_K activations.
pub fn vec_dot(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let (sc, mn) = wb.scales_mins();
        let mut sumi = 0i32;
        for chunk in 0..4 {
            let qs = &wb.qs[32 * chunk..32 * chunk + 32];
            let (a_lo, a_hi) = ab.qs[64 * chunk..64 * chunk + 64].split_at(32);
            let (mut s_lo, mut s_hi) = (0i32, 0i32);
            for i in 0..32 {
                let h = wb.qh[i] >> (2 * chunk);
                s_lo += ((qs[i] & 0xF) | ((h & 1) << 4)) as i32 * a_lo[i] as i32;
                s_hi += ((qs[i] >> 4) | ((h & 2) << 3)) as i32 * a_hi[i] as i32;
            }
            sumi += sc[2 * chunk] as i32 * s_lo + sc[2 * chunk + 1] as i32 * s_hi;
        }
        let summ: i32 = (0..8).map(|j| mn[j] as i32 * (ab.bsums[2 * j] as i32 + ab.bsums[2 * j + 1] as i32)).sum();
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}
