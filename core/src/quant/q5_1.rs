//! Q5_1: 32 values, f16 scale and min, 5-bit quants: x = d*q + m (24 bytes).
//! Bit layout as Q5_0.

use super::q8_1::BlockQ8_1;
use super::scalar_math::F16Bytes;
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ5_1 {
    pub d: F16Bytes,
    pub m: F16Bytes,
    pub qh: [u8; 4],
    pub qs: [u8; 16],
}
const _: () = assert!(std::mem::size_of::<BlockQ5_1>() == 24);

impl BlockQ5_1 {
    /// The 5-bit unsigned quant of element j (0..32).
    #[inline]
    pub fn quant(&self, j: usize) -> u8 {
        let qh = u32::from_le_bytes(self.qh);
        let nibble = if j < 16 { self.qs[j] & 0xF } else { self.qs[j - 16] >> 4 };
        nibble | ((((qh >> j) & 1) as u8) << 4)
    }
}

impl QuantBlock for BlockQ5_1 {
    const TYPE: GgmlType = GgmlType::Q5_1;

    fn dequantize(&self, out: &mut [f32]) {
        let (d, m) = (self.d.to_f32(), self.m.to_f32());
        for (j, o) in out.iter_mut().enumerate().take(32) {
            *o = self.quant(j) as f32 * d + m;
        }
    }

    /// `quantize_row_q5_1_ref` (no clamp before the cast, as there).
    fn quantize(x: &[f32]) -> Self {
        let (mut min, mut max) = (f32::MAX, -f32::MAX);
        for &v in x {
            if v < min {
                min = v;
            }
            if v > max {
                max = v;
            }
        }
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let (mut qs, mut qh) = ([0u8; 16], 0u32);
        for j in 0..16 {
            let lo = ((x[j] - min) * id + 0.5) as u8 as u32;
            let hi = ((x[j + 16] - min) * id + 0.5) as u8 as u32;
            qs[j] = ((lo & 0xF) | ((hi & 0xF) << 4)) as u8;
            qh |= ((lo & 0x10) >> 4) << j;
            qh |= ((hi & 0x10) >> 4) << (j + 16);
        }
        BlockQ5_1 { d: F16Bytes::from_f32(d), m: F16Bytes::from_f32(min), qh: qh.to_le_bytes(), qs }
    }
}

/// Q5_1 weights · Q8_1 activations.
pub fn vec_dot(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let sumi: i32 = (0..32).map(|j| wb.quant(j) as i32 * ab.qs[j] as i32).sum();
        sum += sumi as f32 * (wb.d.to_f32() * ab.d.to_f32()) + wb.m.to_f32() * ab.s.to_f32();
    }
    sum
}
