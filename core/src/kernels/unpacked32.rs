//! Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 weight blocks unpacked for the tiled
//! kernels, and the fast set's arithmetic for them, defined once here in
//! scalar code.
//!
//! A 32-value block dotted with a Q8_0 (Q8_1 for Q4_1/Q5_1) activation block
//! is one exact integer sum and one or two float steps:
//!
//! ```text
//! isum = Σ_i q_i · a_i − off · Σ_i a_i      (q_i ≥ 0: the quant plus `off`)
//! out += isum · (dw · da)                   (f32, a fused multiply-add)
//! out += m · s                              (Q4_1/Q5_1: the min times the
//!                                            activation's s = da·Σ a_i, fused)
//! ```
//!
//! `off` is 8 (Q4_0), 16 (Q5_0), 0 (Q4_1, Q5_1: unsigned quants with a min)
//! or 128 (Q8_0, whose signed quants are stored plus 128 so that they are a
//! valid unsigned `vpdpbusd` operand). Every tiled tier equals [`dot_fast32`]
//! bit for bit; the exact set sums floats in another order.

use crate::quant::{BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ5_1, BlockQ8_0, BlockQ8_1};
use crate::GgmlType;

/// One 32-value block of one weight row, unpacked (40 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Unpacked32 {
    /// Quants plus the format's offset, in element order.
    pub q: [u8; 32],
    pub d: f32,
    /// The block's min (Q4_1, Q5_1); 0 for the other formats.
    pub m: f32,
}

/// The 32-value formats the tiled kernels read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind32 {
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
}

impl Kind32 {
    pub fn of(ty: GgmlType) -> Option<Kind32> {
        Some(match ty {
            GgmlType::Q4_0 => Kind32::Q4_0,
            GgmlType::Q4_1 => Kind32::Q4_1,
            GgmlType::Q5_0 => Kind32::Q5_0,
            GgmlType::Q5_1 => Kind32::Q5_1,
            GgmlType::Q8_0 => Kind32::Q8_0,
            _ => return None,
        })
    }

    /// What the stored quants exceed the signed values by.
    pub fn offset(self) -> i32 {
        match self {
            Kind32::Q4_0 => 8,
            Kind32::Q5_0 => 16,
            Kind32::Q4_1 | Kind32::Q5_1 => 0,
            Kind32::Q8_0 => 128,
        }
    }

    /// Whether blocks carry a min, met by Q8_1 activations' `s`.
    pub fn has_min(self) -> bool {
        matches!(self, Kind32::Q4_1 | Kind32::Q5_1)
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
                set_nibbles(&b.qs, 0, b.d.to_f32(), 0.0, o);
            }
        }
        Kind32::Q4_1 => {
            for (raw, o) in data.chunks_exact(block_bytes).zip(out) {
                let b: &BlockQ4_1 = bytemuck::from_bytes(raw);
                set_nibbles(&b.qs, 0, b.d.to_f32(), b.m.to_f32(), o);
            }
        }
        Kind32::Q5_0 => {
            for (raw, o) in data.chunks_exact(block_bytes).zip(out) {
                let b: &BlockQ5_0 = bytemuck::from_bytes(raw);
                set_nibbles(&b.qs, u32::from_le_bytes(b.qh), b.d.to_f32(), 0.0, o);
            }
        }
        Kind32::Q5_1 => {
            for (raw, o) in data.chunks_exact(block_bytes).zip(out) {
                let b: &BlockQ5_1 = bytemuck::from_bytes(raw);
                set_nibbles(&b.qs, u32::from_le_bytes(b.qh), b.d.to_f32(), b.m.to_f32(), o);
            }
        }
        Kind32::Q8_0 => {
            for (raw, o) in data.chunks_exact(block_bytes).zip(out) {
                let b: &BlockQ8_0 = bytemuck::from_bytes(raw);
                for j in 0..32 {
                    o.q[j] = (b.qs[j] as u8) ^ 0x80; // q + 128
                }
                o.d = b.d.to_f32();
                o.m = 0.0;
            }
        }
    }
}

/// One block of a 4- or 5-bit format unpacked: value j is nibble j of `qs`
/// (low nibbles first) with bit j of `qh` as its fifth bit (`qh` 0 for the
/// 4-bit formats); also used by the interleaved groups' unpack.
#[inline(always)]
pub(crate) fn set_nibbles(qs: &[u8; 16], qh: u32, d: f32, m: f32, out: &mut Unpacked32) {
    for j in 0..16 {
        out.q[j] = (qs[j] & 0xF) | ((((qh >> j) & 1) as u8) << 4);
        out.q[j + 16] = (qs[j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
    }
    out.d = d;
    out.m = m;
}

/// An activation block of the 32-value formats: Q8_0, or Q8_1 with `s`.
pub trait Act32 {
    fn quants(&self) -> &[i8; 32];
    fn scale(&self) -> f32;
    /// `d·Σ q` as stored (f16), met by a weight block's min; no min meets Q8_0.
    fn sum_term(&self) -> f32;
}

impl Act32 for BlockQ8_0 {
    fn quants(&self) -> &[i8; 32] {
        &self.qs
    }
    fn scale(&self) -> f32 {
        self.d.to_f32()
    }
    fn sum_term(&self) -> f32 {
        0.0
    }
}

impl Act32 for BlockQ8_1 {
    fn quants(&self) -> &[i8; 32] {
        &self.qs
    }
    fn scale(&self) -> f32 {
        self.d.to_f32()
    }
    fn sum_term(&self) -> f32 {
        self.s.to_f32()
    }
}

/// The fast set's dot product of one unpacked row and one activation row:
/// the reference every 32-value tiled kernel must equal bit for bit.
pub fn dot_fast32<A: Act32>(w: &[Unpacked32], a: &[A], kind: Kind32) -> f32 {
    dot_fast32_with(w, a, kind, true)
}

/// [`dot_fast32`] with fused (`fused`) or separately rounded float steps,
/// `acc + isum · (dw · da)` then `acc + m · s` (see `unpacked::epilogue_unfused`).
pub fn dot_fast32_with<A: Act32>(w: &[Unpacked32], a: &[A], kind: Kind32, fused: bool) -> f32 {
    let off = kind.offset();
    let mut acc = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let mut dot = 0i32;
        let mut sum = 0i32;
        for (&q, &x) in wb.q.iter().zip(ab.quants()) {
            dot += q as i32 * x as i32;
            sum += x as i32;
        }
        let isum = dot - off * sum;
        let scale = wb.d * ab.scale();
        acc = if fused { (isum as f32).mul_add(scale, acc) } else { isum as f32 * scale + acc };
        if kind.has_min() {
            let s = ab.sum_term();
            acc = if fused { wb.m.mul_add(s, acc) } else { wb.m * s + acc };
        }
    }
    acc
}
