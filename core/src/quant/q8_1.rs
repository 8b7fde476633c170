//! Q8_1: Q8_0 plus `s = d * sum(qs)` (36 bytes); the activation format for the
//! formats with a min (Q4_1, Q5_1), whose offset term needs the sum.

use super::q8_0::{quantize_32_activation, quantize_32_ref};
use super::scalar_math::F16Bytes;
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ8_1 {
    pub d: F16Bytes,
    pub s: F16Bytes,
    pub qs: [i8; 32],
}
const _: () = assert!(std::mem::size_of::<BlockQ8_1>() == 36);

impl BlockQ8_1 {
    /// Quantizes an activation block as llama.cpp's CPU backend does (see
    /// [`quantize_32_activation`]), with `s = d·Σq`.
    pub fn quantize_activation(x: &[f32]) -> Self {
        let (d, qs, sum) = quantize_32_activation(x);
        BlockQ8_1 { d: F16Bytes::from_f32(d), s: F16Bytes::from_f32(sum as f32 * d), qs }
    }
}

impl QuantBlock for BlockQ8_1 {
    const TYPE: GgmlType = GgmlType::Q8_1;

    fn dequantize(&self, out: &mut [f32]) {
        let d = self.d.to_f32();
        for (o, &q) in out.iter_mut().zip(&self.qs) {
            *o = q as f32 * d;
        }
    }

    /// `quantize_row_q8_1_ref`: Q8_0's quants and scale, plus `s = d·Σq`.
    fn quantize(x: &[f32]) -> Self {
        let (d, qs) = quantize_32_ref(x);
        let sum: i32 = qs.iter().map(|&q| q as i32).sum();
        BlockQ8_1 { d: F16Bytes::from_f32(d), s: F16Bytes::from_f32(sum as f32 * d), qs }
    }
}
