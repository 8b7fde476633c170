//! Q6_K: 256 values in 16 sub-blocks of 16 with i8 scales and an f16 `d`;
//! 6-bit quants offset by 32: x = d·sc·(q − 32) (210 bytes). Per 128-value half:
//! ql[l] holds values l (low nibble) and l+64 (high), ql[l+32] values l+32 and
//! l+96; qh[l] holds the top two bits of l, l+32, l+64, l+96 at bits 0, 2, 4, 6.

use super::kquant_search::{make_qx_quants_rmse1, GROUP_MAX_EPS};
use super::q8_k::BlockQ8K;
use super::scalar_math::{nearest_int, F16Bytes};
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ6K {
    pub ql: [u8; 128],
    pub qh: [u8; 64],
    pub scales: [i8; 16],
    pub d: F16Bytes,
}
const _: () = assert!(std::mem::size_of::<BlockQ6K>() == 210);

impl BlockQ6K {
    /// The unsigned 6-bit quant of element i (0..256), before the −32 offset.
    #[inline]
    pub fn quant(&self, i: usize) -> u8 {
        let (half, r) = (i / 128, i % 128);
        let (quarter, l) = (r / 32, r % 32);
        let ql = self.ql[half * 64 + l + 32 * (quarter & 1)];
        let low = if quarter < 2 { ql & 0xF } else { ql >> 4 };
        let high = (self.qh[half * 32 + l] >> (2 * quarter)) & 3;
        low | (high << 4)
    }
}

impl QuantBlock for BlockQ6K {
    const TYPE: GgmlType = GgmlType::Q6_K;

    /// ggml's `dequantize_row_q6_K` loop: per 128-value half, four values per
    /// `l` from two `ql` bytes and one `qh` byte.
    fn dequantize(&self, out: &mut [f32]) {
        let d = self.d.to_f32();
        for half in 0..2 {
            let (ql, qh) = (&self.ql[64 * half..64 * half + 64], &self.qh[32 * half..32 * half + 32]);
            let sc = &self.scales[8 * half..8 * half + 8];
            let y = &mut out[128 * half..128 * half + 128];
            for l in 0..32 {
                let is = l / 16;
                let [q1, q2, q3, q4] = quarter_quants(ql, qh, l);
                y[l] = d * sc[is] as f32 * q1 as f32;
                y[l + 32] = d * sc[is + 2] as f32 * q2 as f32;
                y[l + 64] = d * sc[is + 4] as f32 * q3 as f32;
                y[l + 96] = d * sc[is + 6] as f32 * q4 as f32;
            }
        }
    }

    /// `quantize_row_q6_K_ref`.
    fn quantize(x: &[f32]) -> Self {
        let mut l = [0i8; 256];
        let mut scales = [0f32; 16];
        let (mut max_scale, mut max_abs_scale) = (0.0f32, 0.0f32);
        for ib in 0..16 {
            let scale = make_qx_quants_rmse1(32, &x[16 * ib..16 * ib + 16], &mut l[16 * ib..16 * ib + 16]);
            scales[ib] = scale;
            if scale.abs() > max_abs_scale {
                max_abs_scale = scale.abs();
                max_scale = scale;
            }
        }
        let mut block = BlockQ6K { ql: [0; 128], qh: [0; 64], scales: [0; 16], d: F16Bytes::from_f32(0.0) };
        if max_abs_scale < GROUP_MAX_EPS {
            return block;
        }
        let iscale = -128.0 / max_scale;
        block.d = F16Bytes::from_f32(1.0 / iscale);
        for (s, &scale) in block.scales.iter_mut().zip(&scales) {
            *s = nearest_int(iscale * scale).min(127) as i8;
        }
        for j in 0..16 {
            let d = block.d.to_f32() * block.scales[j] as f32;
            if d == 0.0 {
                continue;
            }
            for i in 16 * j..16 * j + 16 {
                l[i] = (nearest_int(x[i] / d).clamp(-32, 31) + 32) as i8;
            }
        }
        for half in 0..2 {
            let (ql, qh) = (&mut block.ql[64 * half..64 * half + 64], &mut block.qh[32 * half..32 * half + 32]);
            let lh = &l[128 * half..128 * half + 128];
            for i in 0..32 {
                let q = [lh[i] as u8, lh[i + 32] as u8, lh[i + 64] as u8, lh[i + 96] as u8];
                ql[i] = (q[0] & 0xF) | ((q[2] & 0xF) << 4);
                ql[i + 32] = (q[1] & 0xF) | ((q[3] & 0xF) << 4);
                qh[i] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6);
            }
        }
        block
    }
}

/// The signed quants (−32..=31) of values l, l+32, l+64 and l+96 of a
/// 128-value half, from its `ql` (64 bytes) and `qh` (32 bytes).
#[inline]
fn quarter_quants(ql: &[u8], qh: &[u8], l: usize) -> [i32; 4] {
    [
        ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32,
        ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32,
        ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32,
        ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32,
    ]
}

/// Q6_K weights · Q8_K activations: integer sums per 16-value group.
pub fn vec_dot(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let mut group = [0i32; 16];
        for half in 0..2 {
            let (ql, qh) = (&wb.ql[64 * half..64 * half + 64], &wb.qh[32 * half..32 * half + 32]);
            let acts = &ab.qs[128 * half..128 * half + 128];
            let g = &mut group[8 * half..8 * half + 8];
            for l in 0..32 {
                let is = l / 16;
                let [q1, q2, q3, q4] = quarter_quants(ql, qh, l);
                g[is] += q1 * acts[l] as i32;
                g[is + 2] += q2 * acts[l + 32] as i32;
                g[is + 4] += q3 * acts[l + 64] as i32;
                g[is + 6] += q4 * acts[l + 96] as i32;
            }
        }
        let sumi: i32 = group.iter().zip(&wb.scales).map(|(&g, &s)| g * s as i32).sum();
        sum += ab.d * wb.d.to_f32() * sumi as f32;
    }
    sum
}
