//! Q4_1: 32 values, f16 scale and min, 4-bit quants: x = d*q + m (20 bytes).

use super::q8_1::BlockQ8_1;
use super::scalar_math::{trunc_to_i32, F16Bytes};
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ4_1 {
    pub d: F16Bytes,
    pub m: F16Bytes,
    pub qs: [u8; 16],
}
const _: () = assert!(std::mem::size_of::<BlockQ4_1>() == 20);

impl QuantBlock for BlockQ4_1 {
    const TYPE: GgmlType = GgmlType::Q4_1;

    fn dequantize(&self, out: &mut [f32]) {
        let (d, m) = (self.d.to_f32(), self.m.to_f32());
        for (j, &q) in self.qs.iter().enumerate() {
            out[j] = (q & 0xF) as f32 * d + m;
            out[j + 16] = (q >> 4) as f32 * d + m;
        }
    }

    /// `quantize_row_q4_1_ref`.
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
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut qs = [0u8; 16];
        for (j, q) in qs.iter_mut().enumerate() {
            let lo = trunc_to_i32((x[j] - min) * id + 0.5).min(15) as u8;
            let hi = trunc_to_i32((x[j + 16] - min) * id + 0.5).min(15) as u8;
            *q = lo | (hi << 4);
        }
        BlockQ4_1 { d: F16Bytes::from_f32(d), m: F16Bytes::from_f32(min), qs }
    }
}

/// Q4_1 weights · Q8_1 activations: d_w·d_a·Σq·a + m_w·s_a.
pub fn vec_dot(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for j in 0..16 {
            sumi += (wb.qs[j] & 0xF) as i32 * ab.qs[j] as i32;
            sumi += (wb.qs[j] >> 4) as i32 * ab.qs[j + 16] as i32;
        }
        sum += sumi as f32 * (wb.d.to_f32() * ab.d.to_f32()) + wb.m.to_f32() * ab.s.to_f32();
    }
    sum
}
