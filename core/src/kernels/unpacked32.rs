//! Q4_0, Q5_0 and Q8_0 weight blocks unpacked for the tiled kernels, and the
//! fast set's arithmetic for them, defined once here in scalar code.
//!
//! A 32-value block dotted with a Q8_0 activation block is one exact integer
//! sum and one float step:
//!
//! ```text
//! isum = Σ_i q_i · a_i − off · Σ_i a_i      (q_i ≥ 0: the quant plus `off`)
//! out += isum · (dw · da)                   (f32, a fused multiply-add)
//! ```
//!
//! `off` is 8 (Q4_0), 16 (Q5_0) or 128 (Q8_0, whose signed quants are stored
//! plus 128 so that they are a valid unsigned `vpdpbusd` operand). Every tiled
//! tier equals [`dot_fast32`] bit for bit; the exact set sums floats in
//! another order.

use crate::quant::{BlockQ4_0, BlockQ5_0, BlockQ8_0};
use crate::GgmlType;

/// One 32-value block of one weight row, unpacked (36 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Unpacked32 {
    /// Quants plus the format's offset, in element order.
    pub q: [u8; 32],
    pub d: f32,
}

/// The 32-value formats the tiled kernels read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind32 {
    Q4_0,
    Q5_0,
    Q8_0,
}

impl Kind32 {
    pub fn of(ty: GgmlType) -> Option<Kind32> {
        Some(match ty {
            GgmlType::Q4_0 => Kind32::Q4_0,
            GgmlType::Q5_0 => Kind32::Q5_0,
            GgmlType::Q8_0 => Kind32::Q8_0,
            _ => return None,
        })
    }

    /// What the stored quants exceed the signed values by.
    pub fn offset(self) -> i32 {
        match self {
            Kind32::Q4_0 => 8,
            Kind32::Q5_0 => 16,
            Kind32::Q8_0 => 128,
        }
    }
}

/// Unpacks consecutive raw blocks (`block_bytes` each) of `data` into `out`.
#[inline(always)]
pub fn unpack_all32(kind: Kind32, data: &[u8], block_bytes: usize, out: &mut [Unpacked32]) {
    // Plain `for` loops, as in `unpacked::unpack_all` (for_each would not
    // inherit the caller's target features).
    match kind {
        Kind32::Q4_0 => {
            for (raw, o) in data.chunks_exact(block_bytes).zip(out) {
                let b: &BlockQ4_0 = bytemuck::from_bytes(raw);
                for j in 0..16 {
                    o.q[j] = b.qs[j] & 0xF;
                    o.q[j + 16] = b.qs[j] >> 4;
                }
                o.d = b.d.to_f32();
            }
        }
        Kind32::Q5_0 => {
            for (raw, o) in data.chunks_exact(block_bytes).zip(out) {
                let b: &BlockQ5_0 = bytemuck::from_bytes(raw);
                let qh = u32::from_le_bytes(b.qh);
                for j in 0..16 {
                    o.q[j] = (b.qs[j] & 0xF) | ((((qh >> j) & 1) as u8) << 4);
                    o.q[j + 16] = (b.qs[j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
                }
                o.d = b.d.to_f32();
            }
        }
        Kind32::Q8_0 => {
            for (raw, o) in data.chunks_exact(block_bytes).zip(out) {
                let b: &BlockQ8_0 = bytemuck::from_bytes(raw);
                for j in 0..32 {
                    o.q[j] = (b.qs[j] as u8) ^ 0x80; // q + 128
                }
                o.d = b.d.to_f32();
            }
        }
    }
}

/// The fast set's dot product of one unpacked row and one activation row:
/// the reference every 32-value tiled kernel must equal bit for bit.
pub fn dot_fast32(w: &[Unpacked32], a: &[BlockQ8_0], kind: Kind32) -> f32 {
    dot_fast32_with(w, a, kind, true)
}

/// [`dot_fast32`] with a fused (`fused`) or separately rounded float step,
/// `acc + isum · (dw · da)` (see `unpacked::epilogue_unfused`).
pub fn dot_fast32_with(w: &[Unpacked32], a: &[BlockQ8_0], kind: Kind32, fused: bool) -> f32 {
    let off = kind.offset();
    let mut acc = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let mut dot = 0i32;
        let mut sum = 0i32;
        for i in 0..32 {
            dot += wb.q[i] as i32 * ab.qs[i] as i32;
            sum += ab.qs[i] as i32;
        }
        let isum = dot - off * sum;
        let scale = wb.d * ab.d.to_f32();
        acc = if fused { (isum as f32).mul_add(scale, acc) } else { isum as f32 * scale + acc };
    }
    acc
}
