//! K-quant weight blocks unpacked for the tiled (matrix-matrix) kernels, and
//! the fast kernel set's arithmetic, defined once here in scalar code.
//!
//! Every K-quant block dotted with a Q8_K activation block reduces to two
//! exact integer sums and one float epilogue:
//!
//! ```text
//! isum = Σ_k sc_k · Σ_{i in k} q_i · a_i      (k: 16 groups of 16 values)
//! msum = Σ_k mc_k · bsum_k                     (bsum_k: the activation's group sums)
//! out += da · (dw · isum − dm · msum)          (f32, fused multiply-adds)
//! ```
//!
//! Q4_K/Q5_K: `sc` the 6-bit scale, `mc` the 6-bit min, `dw = d`, `dm = dmin`;
//! Q6_K: `sc` the i8 scale, `mc = 32·sc` (the −32 offset), `dw = dm = d`;
//! Q2_K: `sc` the 4-bit scale, `mc` the 4-bit min, `dw = d`, `dm = dmin`;
//! Q3_K: quants stored plus 4 (0..7), `sc` the signed 6-bit scale, `mc = 4·sc`,
//! `dw = dm = d`.
//! The tiled kernels of every tier and the scalar [`dot_fast_with`] compute the
//! epilogue in this order with the same roundings (fused multiply-adds on x86
//! and aarch64, each operation rounded on wasm: [`epilogue_unfused`]), so they agree bit for bit;
//! they differ from the exact set (llama.cpp's per-pair kernels) only in the
//! order of float additions.

use crate::quant::{BlockQ2K, BlockQ3K, BlockQ4K, BlockQ5K, BlockQ6K, BlockQ8K};
use crate::GgmlType;

/// One 256-value block of one weight row, unpacked. 384 bytes, cache-line aligned.
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
pub struct UnpackedBlock {
    /// Quants in element order, 0..=63 (a valid unsigned `vpdpbusd` operand).
    pub q: [u8; 256],
    /// Integer scale of each 16-value group.
    pub sc: [i32; 16],
    /// Coefficient of each activation group sum (`bsums`).
    pub mc: [i16; 16],
    pub dw: f32,
    pub dm: f32,
    _pad: [u8; 24],
}
const _: () = assert!(std::mem::size_of::<UnpackedBlock>() == 384);

impl Default for UnpackedBlock {
    fn default() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}

/// The K-quant formats the tiled kernels read (an enum rather than a function
/// pointer so that the unpack loops inline into each tier's target features).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnpackKind {
    Q2K,
    Q3K,
    Q4K,
    Q5K,
    Q6K,
}

impl UnpackKind {
    pub fn of(ty: GgmlType) -> Option<UnpackKind> {
        Some(match ty {
            GgmlType::Q2_K => UnpackKind::Q2K,
            GgmlType::Q3_K => UnpackKind::Q3K,
            GgmlType::Q4_K => UnpackKind::Q4K,
            GgmlType::Q5_K => UnpackKind::Q5K,
            GgmlType::Q6_K => UnpackKind::Q6K,
            _ => return None,
        })
    }
}

/// Unpacks consecutive raw blocks (`block_bytes` each) of `data` into `out`.
#[inline(always)]
pub fn unpack_all(kind: UnpackKind, data: &[u8], block_bytes: usize, out: &mut [UnpackedBlock]) {
    // Plain `for` loops: `for_each` folds in a generic function of its own,
    // compiled without the caller's target features (the loops then ran as
    // SSE2 code, 3x slower).
    match kind {
        UnpackKind::Q2K => {
            for (b, o) in data.chunks_exact(block_bytes).zip(out) {
                unpack_q2_k(b, o);
            }
        }
        UnpackKind::Q3K => {
            for (b, o) in data.chunks_exact(block_bytes).zip(out) {
                unpack_q3_k(b, o);
            }
        }
        UnpackKind::Q4K => {
            for (b, o) in data.chunks_exact(block_bytes).zip(out) {
                unpack_q4_k(b, o);
            }
        }
        UnpackKind::Q5K => {
            for (b, o) in data.chunks_exact(block_bytes).zip(out) {
                unpack_q5_k(b, o);
            }
        }
        UnpackKind::Q6K => {
            for (b, o) in data.chunks_exact(block_bytes).zip(out) {
                unpack_q6_k(b, o);
            }
        }
    }
}

#[inline(always)]
pub(crate) fn set_k4_scales(scales: &[u8; 8], mins: &[u8; 8], out: &mut UnpackedBlock) {
    for k in 0..16 {
        out.sc[k] = scales[k / 2] as i32;
        out.mc[k] = mins[k / 2] as i16;
    }
}

// The loops below are written per 32-byte run so that they vectorize inside
// the kernels' target-feature functions (they are `#[inline(always)]`).

#[inline(always)]
pub fn unpack_q4_k(bytes: &[u8], out: &mut UnpackedBlock) {
    let b: &BlockQ4K = bytemuck::from_bytes(bytes);
    for chunk in 0..4 {
        let qs = &b.qs[32 * chunk..32 * chunk + 32];
        let (lo, hi) = out.q[64 * chunk..64 * chunk + 64].split_at_mut(32);
        for i in 0..32 {
            lo[i] = qs[i] & 0xF;
            hi[i] = qs[i] >> 4;
        }
    }
    let (sc, mn) = b.scales_mins();
    set_k4_scales(&sc, &mn, out);
    out.dw = b.d.to_f32();
    out.dm = b.dmin.to_f32();
}

#[inline(always)]
pub fn unpack_q5_k(bytes: &[u8], out: &mut UnpackedBlock) {
    let b: &BlockQ5K = bytemuck::from_bytes(bytes);
    for chunk in 0..4 {
        let qs = &b.qs[32 * chunk..32 * chunk + 32];
        let (lo, hi) = out.q[64 * chunk..64 * chunk + 64].split_at_mut(32);
        for i in 0..32 {
            let h = b.qh[i] >> (2 * chunk);
            lo[i] = (qs[i] & 0xF) | ((h & 1) << 4);
            hi[i] = (qs[i] >> 4) | ((h & 2) << 3);
        }
    }
    let (sc, mn) = b.scales_mins();
    set_k4_scales(&sc, &mn, out);
    out.dw = b.d.to_f32();
    out.dm = b.dmin.to_f32();
}

#[inline(always)]
pub fn unpack_q6_k(bytes: &[u8], out: &mut UnpackedBlock) {
    let b: &BlockQ6K = bytemuck::from_bytes(bytes);
    for half in 0..2 {
        let (ql, qh) = (&b.ql[64 * half..64 * half + 64], &b.qh[32 * half..32 * half + 32]);
        let y = &mut out.q[128 * half..128 * half + 128];
        for l in 0..32 {
            y[l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
            y[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
            y[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            y[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        }
    }
    for k in 0..16 {
        out.sc[k] = b.scales[k] as i32;
        out.mc[k] = 32 * b.scales[k] as i16;
    }
    let d = b.d.to_f32();
    out.dw = d;
    out.dm = d;
}

#[inline(always)]
pub fn unpack_q2_k(bytes: &[u8], out: &mut UnpackedBlock) {
    let b: &BlockQ2K = bytemuck::from_bytes(bytes);
    // Element 128·half + 32·j + l is bits 2j..2j+2 of qs[32·half + l].
    for half in 0..2 {
        let qs = &b.qs[32 * half..32 * half + 32];
        let y = &mut out.q[128 * half..128 * half + 128];
        for j in 0..4 {
            for l in 0..32 {
                y[32 * j + l] = (qs[l] >> (2 * j)) & 3;
            }
        }
    }
    for k in 0..16 {
        out.sc[k] = (b.scales[k] & 0xF) as i32;
        out.mc[k] = (b.scales[k] >> 4) as i16;
    }
    out.dw = b.d.to_f32();
    out.dm = b.dmin.to_f32();
}

#[inline(always)]
pub fn unpack_q3_k(bytes: &[u8], out: &mut UnpackedBlock) {
    let b: &BlockQ3K = bytemuck::from_bytes(bytes);
    // Element 128·half + 32·j + l: bits 2j..2j+2 of qs[32·half + l], plus 4
    // when bit 4·half + j of hmask[l] is set (the quant is that minus 4).
    for half in 0..2 {
        let qs = &b.qs[32 * half..32 * half + 32];
        let y = &mut out.q[128 * half..128 * half + 128];
        for j in 0..4 {
            let bit = 4 * half + j;
            for l in 0..32 {
                y[32 * j + l] = ((qs[l] >> (2 * j)) & 3) | (((b.hmask[l] >> bit) & 1) << 2);
            }
        }
    }
    for (k, sc) in b.signed_scales().into_iter().enumerate() {
        out.sc[k] = sc as i32;
        out.mc[k] = 4 * sc as i16;
    }
    let d = b.d.to_f32();
    out.dw = d;
    out.dm = d;
}

/// The two exact integer sums of one block pair.
#[inline(always)]
pub fn block_sums(w: &UnpackedBlock, a: &BlockQ8K) -> (i32, i32) {
    let mut isum = 0i32;
    let mut msum = 0i32;
    for k in 0..16 {
        let mut s = 0i32;
        for i in 16 * k..16 * k + 16 {
            s += w.q[i] as i32 * a.qs[i] as i32;
        }
        isum += w.sc[k] * s;
        msum += w.mc[k] as i32 * a.bsums[k] as i32;
    }
    (isum, msum)
}

/// The fast set's epilogue for one block: `acc + da·(dw·isum − dm·msum)`.
#[inline(always)]
pub fn epilogue(acc: f32, isum: i32, msum: i32, w: &UnpackedBlock, da: f32) -> f32 {
    let t = (-(msum as f32)).mul_add(w.dm, isum as f32 * w.dw);
    t.mul_add(da, acc)
}

/// The epilogue with separate roundings, for tiers without a deterministic
/// fused multiply-add (wasm: `f32x4.relaxed_madd` fuses on some CPUs only):
/// `acc + da·(dw·isum − dm·msum)`, each product and sum rounded.
#[inline(always)]
pub fn epilogue_unfused(acc: f32, isum: i32, msum: i32, w: &UnpackedBlock, da: f32) -> f32 {
    let t = isum as f32 * w.dw - msum as f32 * w.dm;
    t * da + acc
}

/// The fast set's dot product of one unpacked weight row and one activation
/// row: the reference every tiled kernel must equal bit for bit, with the
/// fused epilogue or (`fused` false) [`epilogue_unfused`].
pub fn dot_fast_with(w: &[UnpackedBlock], a: &[BlockQ8K], fused: bool) -> f32 {
    let mut acc = 0.0f32;
    for (wb, ab) in w.iter().zip(a) {
        let (isum, msum) = block_sums(wb, ab);
        acc = if fused { epilogue(acc, isum, msum, wb, ab.d) } else { epilogue_unfused(acc, isum, msum, wb, ab.d) };
    }
    acc
}

/// [`dot_fast_with`] with the fused epilogue (the x86 and NEON tiers).
pub fn dot_fast(w: &[UnpackedBlock], a: &[BlockQ8K]) -> f32 {
    dot_fast_with(w, a, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::QuantBlock;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// The unpacked form dotted in the fast order is within float rounding of
    /// the format's reference dot (which sums in another order).
    fn check<B: QuantBlock + bytemuck::Pod>(vec_dot: fn(&[B], &[BlockQ8K]) -> f32) {
        let mut seed = 7u64;
        let n = 4;
        let x: Vec<f32> = (0..256 * n).map(|_| lcg(&mut seed)).collect();
        let y: Vec<f32> = (0..256 * n).map(|_| lcg(&mut seed)).collect();
        let w: Vec<B> = x.chunks(256).map(B::quantize).collect();
        let a: Vec<BlockQ8K> = y.chunks(256).map(BlockQ8K::quantize).collect();
        let kind = UnpackKind::of(B::TYPE).unwrap();
        let mut u = vec![UnpackedBlock::default(); n];
        unpack_all(kind, bytemuck::cast_slice(&w), std::mem::size_of::<B>(), &mut u);
        let (fast, exact) = (dot_fast(&u, &a), vec_dot(&w, &a));
        assert!((fast - exact).abs() <= 1e-4 * exact.abs().max(1.0), "{:?}: {fast} vs {exact}", B::TYPE);
    }

    #[test]
    fn unpacked_k_quants_dot_like_their_reference() {
        check::<BlockQ2K>(crate::quant::q2_k::vec_dot);
        check::<BlockQ3K>(crate::quant::q3_k::vec_dot);
        check::<BlockQ4K>(crate::quant::q4_k::vec_dot);
        check::<BlockQ5K>(crate::quant::q5_k::vec_dot);
        check::<BlockQ6K>(crate::quant::q6_k::vec_dot);
    }
}
