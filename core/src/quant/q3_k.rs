//! Q3_K: 256 values in 16 sub-blocks of 16 with 6-bit signed scales (offset 32,
//! packed in 12 bytes) and an f16 `d`; 3-bit quants = 2 low bits in `qs` plus a
//! high bit in `hmask`, offset by 4: x = d·(sc − 32)·(q − 4) (110 bytes).

use super::kquant_search::make_q3_quants_rmse;
use super::q8_k::BlockQ8K;
use super::scalar_math::{nearest_int, F16Bytes};
use super::QuantBlock;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ3K {
    pub hmask: [u8; 32],
    pub qs: [u8; 64],
    pub scales: [u8; 12],
    pub d: F16Bytes,
}
const _: () = assert!(std::mem::size_of::<BlockQ3K>() == 110);

impl BlockQ3K {
    /// The sixteen signed scales (already minus 32). Scale j has its low
    /// nibble in byte j (j < 8, low half) or j − 8 (high half) and its top
    /// two bits in byte 8 + j % 4 at bit 2·(j / 4); four at a time in u32 words.
    #[inline]
    pub fn signed_scales(&self) -> [i8; 16] {
        signed_scales(&self.scales)
    }

    /// The signed 3-bit quant of element i (0..256), in -4..=3.
    #[inline]
    pub fn quant(&self, i: usize) -> i8 {
        let (half, r) = (i / 128, i % 128);
        let (shift, l) = (2 * (r / 32), r % 32);
        let low = (self.qs[32 * half + l] >> shift) & 3;
        let high_set = self.hmask[l] & (1 << (4 * half + r / 32)) != 0;
        low as i8 - if high_set { 0 } else { 4 }
    }
}

/// [`BlockQ3K::signed_scales`] of a block's 12 scale bytes (also read out of
/// interleaved groups, `kernels/interleaved.rs`).
#[inline]
pub fn signed_scales(scales: &[u8; 12]) -> [i8; 16] {
    const LOW: u32 = 0x0F0F_0F0F;
    const TOP: u32 = 0x0303_0303;
    let word = |i: usize| u32::from_le_bytes(scales[4 * i..4 * i + 4].try_into().expect("4 bytes"));
    let (a0, a1, a2) = (word(0), word(1), word(2));
    let words = [
        (a0 & LOW) | ((a2 & TOP) << 4),
        (a1 & LOW) | (((a2 >> 2) & TOP) << 4),
        ((a0 >> 4) & LOW) | (((a2 >> 4) & TOP) << 4),
        ((a1 >> 4) & LOW) | (((a2 >> 6) & TOP) << 4),
    ];
    let mut out = [0i8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(words) {
        for (b, byte) in o.iter_mut().zip(w.to_le_bytes()) {
            *b = (byte as i32 - 32) as i8;
        }
    }
    out
}

impl QuantBlock for BlockQ3K {
    const TYPE: GgmlType = GgmlType::Q3_K;

    fn dequantize(&self, out: &mut [f32]) {
        let d = self.d.to_f32();
        let sc = self.signed_scales();
        for (i, o) in out.iter_mut().enumerate().take(256) {
            *o = d * sc[i / 16] as f32 * self.quant(i) as f32;
        }
    }

    /// `quantize_row_q3_K_ref`.
    fn quantize(x: &[f32]) -> Self {
        let mut l = [0i8; 256];
        let mut scales = [0f32; 16];
        let (mut max_scale, mut amax) = (0.0f32, 0.0f32);
        for j in 0..16 {
            scales[j] = make_q3_quants_rmse(4, &x[16 * j..16 * j + 16], &mut l[16 * j..16 * j + 16]);
            if scales[j].abs() > amax {
                amax = scales[j].abs();
                max_scale = scales[j];
            }
        }
        let mut block = BlockQ3K { hmask: [0; 32], qs: [0; 64], scales: [0; 12], d: F16Bytes::from_f32(0.0) };
        if max_scale != 0.0 {
            let iscale = -32.0 / max_scale;
            for (j, &scale) in scales.iter().enumerate() {
                // ggml stores nearest_int into an int8_t before clamping.
                let q = ((nearest_int(iscale * scale) as i8).clamp(-32, 31) + 32) as u8;
                if j < 8 {
                    block.scales[j] = q & 0xF;
                } else {
                    block.scales[j - 8] |= (q & 0xF) << 4;
                }
                block.scales[j % 4 + 8] |= (q >> 4) << (2 * (j / 4));
            }
            block.d = F16Bytes::from_f32(1.0 / iscale);
        }
        let sc = block.signed_scales();
        for j in 0..16 {
            let d = block.d.to_f32() * sc[j] as f32;
            if d == 0.0 {
                continue;
            }
            for i in 16 * j..16 * j + 16 {
                l[i] = (nearest_int(x[i] / d).clamp(-4, 3) + 4) as i8;
            }
        }
        for (j, lj) in l.iter_mut().enumerate() {
            if *lj > 3 {
                block.hmask[j % 32] |= 1 << (j / 32);
                *lj -= 4;
            }
        }
        for half in 0..2 {
            for i in 0..32 {
                let b = 128 * half + i;
                block.qs[32 * half + i] = (l[b] | (l[b + 32] << 2) | (l[b + 64] << 4) | (l[b + 96] << 6)) as u8;
            }
        }
        block
    }
}

/// Q3_K weights · Q8_K activations: integer sums per 16-value group.
pub fn vec_dot(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let sc = wb.signed_scales();
        let mut group = [0i32; 16];
        for half in 0..2 {
            let qs = &wb.qs[32 * half..32 * half + 32];
            for shift in 0..4 {
                let acts = &ab.qs[128 * half + 32 * shift..128 * half + 32 * shift + 32];
                let high = 1u8 << (4 * half + shift);
                for l in 0..32 {
                    let q = ((qs[l] >> (2 * shift)) & 3) as i32 - if wb.hmask[l] & high != 0 { 0 } else { 4 };
                    group[8 * half + 2 * shift + l / 16] += q * acts[l] as i32;
                }
            }
        }
        let sumi: i32 = group.iter().zip(&sc).map(|(&g, &s)| g * s as i32).sum();
        sum += ab.d * wb.d.to_f32() * sumi as f32;
    }
    sum
}

#[cfg(test)]
mod scale_tests {
    use super::*;
    use crate::sampler::Rng;

    /// The scales one at a time, as the format describes them.
    fn signed_scales_one_by_one(b: &BlockQ3K) -> [i8; 16] {
        let mut out = [0i8; 16];
        for (j, o) in out.iter_mut().enumerate() {
            let low = if j < 8 { b.scales[j] & 0xF } else { b.scales[j - 8] >> 4 };
            let high = (b.scales[8 + j % 4] >> (2 * (j / 4))) & 3;
            *o = ((low | (high << 4)) as i32 - 32) as i8;
        }
        out
    }

    #[test]
    fn scales_unpacked_by_words_equal_the_format() {
        let mut rng = Rng::new(3);
        let mut block = BlockQ3K { hmask: [0; 32], qs: [0; 64], scales: [0; 12], d: F16Bytes::from_f32(1.0) };
        for round in 0..2000 {
            for s in block.scales.iter_mut() {
                *s = match round {
                    0 => 0,
                    1 => 0xFF,
                    _ => (rng.next_f64() * 256.0) as u8,
                };
            }
            assert_eq!(block.signed_scales(), signed_scales_one_by_one(&block), "{:?}", block.scales);
        }
    }
}
