//! Q8_K: the activation format for K-quant weights. 256 values, an f32 scale,
//! i8 quants and the sums of each 16 quants (`bsums`, 292 bytes); the sums let a
//! kernel fold a weight block's mins in with 16 multiplies instead of 256.

use super::scalar_math::{nearest_int, signed_absmax};
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ8K {
    pub d: f32,
    pub qs: [i8; 256],
    pub bsums: [i16; 16],
}
const _: () = assert!(std::mem::size_of::<BlockQ8K>() == 292);

impl QuantBlock for BlockQ8K {
    const TYPE: GgmlType = GgmlType::Q8_K;

    fn dequantize(&self, out: &mut [f32]) {
        for (o, &q) in out.iter_mut().zip(&self.qs) {
            *o = self.d * q as f32;
        }
    }

    /// `quantize_row_q8_K_ref`: scale -127/(signed value of largest magnitude),
    /// round half to even. An all-zero block gets zero sums (ggml leaves them unset).
    fn quantize(x: &[f32]) -> Self {
        let (amax, max) = signed_absmax(x);
        let mut block = BlockQ8K { d: 0.0, qs: [0; 256], bsums: [0; 16] };
        if amax == 0.0 {
            return block;
        }
        let iscale = -127.0 / max;
        for (q, &v) in block.qs.iter_mut().zip(x) {
            *q = nearest_int(iscale * v).min(127) as i8;
        }
        block.fill_bsums();
        block.d = 1.0 / iscale;
        block
    }
}

impl BlockQ8K {
    pub fn fill_bsums(&mut self) {
        for (j, s) in self.bsums.iter_mut().enumerate() {
            *s = self.qs[16 * j..16 * j + 16].iter().map(|&q| q as i16).sum();
        }
    }
}
