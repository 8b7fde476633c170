//! Q8_0: 32 values, one f16 scale, i8 quants (34 bytes). Also the activation
//! format for Q4_0, Q5_0 and Q8_0 weights.

use super::scalar_math::{signed_absmax, F16Bytes};
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ8_0 {
    pub d: F16Bytes,
    pub qs: [i8; 32],
}
const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);

impl QuantBlock for BlockQ8_0 {
    const TYPE: GgmlType = GgmlType::Q8_0;

    fn dequantize(&self, out: &mut [f32]) {
        let d = self.d.to_f32();
        for (o, &q) in out.iter_mut().zip(&self.qs) {
            *o = q as f32 * d;
        }
    }

    /// `quantize_row_q8_0_ref`: d = amax/127, q = roundf(x/d) (ties away from zero).
    fn quantize(x: &[f32]) -> Self {
        let (d, qs) = quantize_32_ref(x);
        BlockQ8_0 { d: F16Bytes::from_f32(d), qs }
    }
}

/// The shared core of the Q8_0 and Q8_1 references: the f32 scale (before its
/// f16 rounding, which Q8_1's sum term uses) and the quants.
pub(super) fn quantize_32_ref(x: &[f32]) -> (f32, [i8; 32]) {
    let (amax, _) = signed_absmax(x);
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut qs = [0i8; 32];
    for (q, &v) in qs.iter_mut().zip(x) {
        *q = (v * id).round() as i8;
    }
    (d, qs)
}

/// The activation quantizer of llama.cpp's CPU backend (ggml-cpu's x86
/// `quantize_row_q8_0`/`q8_1`), which differs from the reference in two ways:
/// `id = 127 / amax` rather than `1 / d`, and ties rounded to even. Matching it
/// (on every ISA) is what lets fuselm's logits track llama.cpp's: with the
/// reference's rounding, a handful of quants per row move by one and a model's
/// greedy choice can flip on near-ties. Returns the f32 scale, the quants and
/// their sum.
pub fn quantize_32_activation(x: &[f32]) -> (f32, [i8; 32], i32) {
    let (amax, _) = signed_absmax(&x[..32]);
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let mut qs = [0i8; 32];
    let mut sum = 0;
    for (q, &v) in qs.iter_mut().zip(x) {
        let r = (v * id).round_ties_even() as i32;
        *q = r as i8;
        sum += r;
    }
    (d, qs, sum)
}

impl BlockQ8_0 {
    /// Quantizes an activation block ([`quantize_32_activation`]).
    pub fn quantize_activation(x: &[f32]) -> Self {
        let (d, qs, _) = quantize_32_activation(x);
        BlockQ8_0 { d: F16Bytes::from_f32(d), qs }
    }
}

/// Q8_0 weights · Q8_0 activations.
pub fn vec_dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let sumi: i32 = wb.qs.iter().zip(&ab.qs).map(|(&x, &y)| x as i32 * y as i32).sum();
        sum += sumi as f32 * (wb.d.to_f32() * ab.d.to_f32());
    }
    sum
}
