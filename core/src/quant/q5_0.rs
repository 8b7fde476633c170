//! Q5_0: 32 values, f16 scale, 5-bit quants offset by 16 (22 bytes). The low
//! four bits are nibbles as in Q4_0; bit j of the little-endian u32 `qh` is the
//! fifth bit of element j.

use super::q8_0::BlockQ8_0;
use super::scalar_math::{signed_absmax, trunc_to_i32, F16Bytes};
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ5_0 {
    pub d: F16Bytes,
    pub qh: [u8; 4],
    pub qs: [u8; 16],
}
const _: () = assert!(std::mem::size_of::<BlockQ5_0>() == 22);

impl BlockQ5_0 {
    /// The 5-bit unsigned quant of element j (0..32).
    #[inline]
    pub fn quant(&self, j: usize) -> u8 {
        let qh = u32::from_le_bytes(self.qh);
        let nibble = if j < 16 { self.qs[j] & 0xF } else { self.qs[j - 16] >> 4 };
        nibble | ((((qh >> j) & 1) as u8) << 4)
    }
}

impl QuantBlock for BlockQ5_0 {
    const TYPE: GgmlType = GgmlType::Q5_0;

    fn dequantize(&self, out: &mut [f32]) {
        let d = self.d.to_f32();
        for (j, o) in out.iter_mut().enumerate().take(32) {
            *o = (self.quant(j) as i32 - 16) as f32 * d;
        }
    }

    /// `quantize_row_q5_0_ref`: d = (signed value of largest magnitude) / -16.
    fn quantize(x: &[f32]) -> Self {
        let (_, max) = signed_absmax(x);
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let (mut qs, mut qh) = ([0u8; 16], 0u32);
        for j in 0..16 {
            let lo = trunc_to_i32(x[j] * id + 16.5).min(31) as u32;
            let hi = trunc_to_i32(x[j + 16] * id + 16.5).min(31) as u32;
            qs[j] = ((lo & 0xF) | ((hi & 0xF) << 4)) as u8;
            qh |= ((lo & 0x10) >> 4) << j;
            qh |= ((hi & 0x10) >> 4) << (j + 16);
        }
        BlockQ5_0 { d: F16Bytes::from_f32(d), qh: qh.to_le_bytes(), qs }
    }
}

/// Q5_0 weights · Q8_0 activations.
pub fn vec_dot(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let sumi: i32 = (0..32).map(|j| (wb.quant(j) as i32 - 16) * ab.qs[j] as i32).sum();
        sum += sumi as f32 * (wb.d.to_f32() * ab.d.to_f32());
    }
    sum
}
