//! Q2_K: 256 values in 16 sub-blocks of 16, each with a 4-bit scale and 4-bit
//! min (one byte), scaled by f16 `d` and `dmin`; 2-bit quants:
//! x = d·sc·q − dmin·m (84 bytes). Packing as Q3_K's low bits.

use super::kquant_search::make_qkx2_quants;
use super::q8_k::BlockQ8K;
use super::scalar_math::{nearest_int, F16Bytes};
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ2K {
    pub scales: [u8; 16],
    pub qs: [u8; 64],
    pub d: F16Bytes,
    pub dmin: F16Bytes,
}
const _: () = assert!(std::mem::size_of::<BlockQ2K>() == 84);

impl BlockQ2K {
    /// The 2-bit quant of element i (0..256).
    #[inline]
    pub fn quant(&self, i: usize) -> u8 {
        let (half, r) = (i / 128, i % 128);
        (self.qs[32 * half + r % 32] >> (2 * (r / 32))) & 3
    }
}

impl QuantBlock for BlockQ2K {
    const TYPE: GgmlType = GgmlType::Q2_K;

    fn dequantize(&self, out: &mut [f32]) {
        let (d, dmin) = (self.d.to_f32(), self.dmin.to_f32());
        for (i, o) in out.iter_mut().enumerate().take(256) {
            let sc = self.scales[i / 16];
            *o = d * (sc & 0xF) as f32 * self.quant(i) as f32 - dmin * (sc >> 4) as f32;
        }
    }

    /// `quantize_row_q2_K_ref`.
    fn quantize(x: &[f32]) -> Self {
        const Q4SCALE: f32 = 15.0;
        let mut l = [0u8; 256];
        let mut l_aux = [0u8; 16];
        let mut weights = [0f32; 16];
        let (mut scales, mut mins) = ([0f32; 16], [0f32; 16]);
        let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
        for j in 0..16 {
            let xs = &x[16 * j..16 * j + 16];
            for (w, &v) in weights.iter_mut().zip(xs) {
                *w = v.abs();
            }
            (scales[j], mins[j]) =
                make_qkx2_quants(3, xs, &weights, &mut l[16 * j..16 * j + 16], &mut l_aux, -0.5, 0.1, 15, true);
            max_scale = if scales[j] > max_scale { scales[j] } else { max_scale };
            max_min = if mins[j] > max_min { mins[j] } else { max_min };
        }
        let mut block =
            BlockQ2K { scales: [0; 16], qs: [0; 64], d: F16Bytes::from_f32(0.0), dmin: F16Bytes::from_f32(0.0) };
        if max_scale > 0.0 {
            let iscale = Q4SCALE / max_scale;
            for (s, &scale) in block.scales.iter_mut().zip(&scales) {
                *s = nearest_int(iscale * scale) as u8;
            }
            block.d = F16Bytes::from_f32(max_scale / Q4SCALE);
        }
        if max_min > 0.0 {
            let iscale = Q4SCALE / max_min;
            for (s, &min) in block.scales.iter_mut().zip(&mins) {
                *s |= (nearest_int(iscale * min) << 4) as u8;
            }
            block.dmin = F16Bytes::from_f32(max_min / Q4SCALE);
        }
        for j in 0..16 {
            let d = block.d.to_f32() * (block.scales[j] & 0xF) as f32;
            if d == 0.0 {
                continue;
            }
            let dm = block.dmin.to_f32() * (block.scales[j] >> 4) as f32;
            for i in 16 * j..16 * j + 16 {
                l[i] = nearest_int((x[i] + dm) / d).clamp(0, 3) as u8;
            }
        }
        for half in 0..2 {
            for i in 0..32 {
                let b = 128 * half + i;
                block.qs[32 * half + i] = l[b] | (l[b + 32] << 2) | (l[b + 64] << 4) | (l[b + 96] << 6);
            }
        }
        block
    }
}

/// Q2_K weights · Q8_K activations: integer sums per 16-value group, mins via
/// the activation block sums.
pub fn vec_dot(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let mut group = [0i32; 16];
        for half in 0..2 {
            let qs = &wb.qs[32 * half..32 * half + 32];
            for shift in 0..4 {
                let acts = &ab.qs[128 * half + 32 * shift..128 * half + 32 * shift + 32];
                for l in 0..32 {
                    group[8 * half + 2 * shift + l / 16] += ((qs[l] >> (2 * shift)) & 3) as i32 * acts[l] as i32;
                }
            }
        }
        let (mut sumi, mut summ) = (0i32, 0i32);
        for j in 0..16 {
            sumi += (wb.scales[j] & 0xF) as i32 * group[j];
            summ += (wb.scales[j] >> 4) as i32 * ab.bsums[j] as i32;
        }
        sum += ab.d * wb.d.to_f32() * sumi as f32 - ab.d * wb.dmin.to_f32() * summ as f32;
    }
    sum
}
