//! Q4_0: 32 values, f16 scale, 4-bit quants offset by 8 (18 bytes).
//! Element j < 16 is the low nibble of qs[j], element j + 16 the high nibble.

use super::q8_0::BlockQ8_0;
use super::scalar_math::{signed_absmax, trunc_to_i32, F16Bytes};
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ4_0 {
    pub d: F16Bytes,
    pub qs: [u8; 16],
}
const _: () = assert!(std::mem::size_of::<BlockQ4_0>() == 18);

impl QuantBlock for BlockQ4_0 {
    const TYPE: GgmlType = GgmlType::Q4_0;

    fn dequantize(&self, out: &mut [f32]) {
        let d = self.d.to_f32();
        for (j, &q) in self.qs.iter().enumerate() {
            out[j] = ((q & 0xF) as i32 - 8) as f32 * d;
            out[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }

    /// `quantize_row_q4_0_ref`: d = (signed value of largest magnitude) / -8.
    fn quantize(x: &[f32]) -> Self {
        let (_, max) = signed_absmax(x);
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut qs = [0u8; 16];
        for (j, q) in qs.iter_mut().enumerate() {
            let lo = trunc_to_i32(x[j] * id + 8.5).min(15) as u8;
            let hi = trunc_to_i32(x[j + 16] * id + 8.5).min(15) as u8;
            *q = lo | (hi << 4);
        }
        BlockQ4_0 { d: F16Bytes::from_f32(d), qs }
    }
}

/// Q4_0 weights · Q8_0 activations.
pub fn vec_dot(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for j in 0..16 {
            sumi += ((wb.qs[j] & 0xF) as i32 - 8) * ab.qs[j] as i32;
            sumi += ((wb.qs[j] >> 4) as i32 - 8) * ab.qs[j + 16] as i32;
        }
        sum += sumi as f32 * (wb.d.to_f32() * ab.d.to_f32());
    }
    sum
}
