//! Q8_1: Q8_0 plus `s = d * sum(qs)` (36 bytes); the activation format for the
//! formats with a min (Q4_1, Q5_1), whose offset term needs the sum.

use super::scalar_math::{signed_absmax, F16Bytes};
use super::QuantBlock;
use crate::gguf::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ8_1 {
    pub d: F16Bytes,
    pub s: F16Bytes,
    pub qs: [i8; 32],
}
const _: () = assert!(std::mem::size_of::<BlockQ8_1>() == 36);

impl QuantBlock for BlockQ8_1 {
    const TYPE: GgmlType = GgmlType::Q8_1;

    fn dequantize(&self, out: &mut [f32]) {
        let d = self.d.to_f32();
        for (o, &q) in out.iter_mut().zip(&self.qs) {
            *o = q as f32 * d;
        }
    }

    /// `quantize_row_q8_1_ref`.
    fn quantize(x: &[f32]) -> Self {
        let (amax, _) = signed_absmax(x);
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut qs = [0i8; 32];
        let mut sum = 0i32;
        for (q, &v) in qs.iter_mut().zip(x) {
            *q = (v * id).round() as i8;
            sum += *q as i32;
        }
        BlockQ8_1 { d: F16Bytes::from_f32(d), s: F16Bytes::from_f32(sum as f32 * d), qs }
    }
}
