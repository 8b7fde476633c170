//! Q4_K rows interleaved eight at a time, for decode's matrix-vector product.
//!
//! A row-at-a-time Q4_K kernel spends most of its work on things other than
//! multiplying: splitting nibbles, broadcasting one sub-block scale per 32
//! values, widening and summing each row's lanes. With eight rows side by
//! side, one 32-byte load holds 4 bytes (8 quants) of each of the 8 rows, the
//! 4 activation bytes they meet are one broadcast, and every scale, min and
//! f16 factor is one vector for all 8 rows. Each lane then computes one row
//! exactly as [`unpacked::dot_fast`](super::unpacked::dot_fast) does (same
//! exact integer sums, same fused float epilogue), so decode and the tiled
//! prefill give the same numbers.
//!
//! The interleaved copy is made once at load and is the only copy the model
//! reads from then on (prefill's tiled path unpacks its panels straight from
//! it); the host may drop the file's pages for those tensors
//! ([`WeightMatrix::interleaved_source`]).
//!
//! Layout of one group of 8 rows, per 256-value block (8 × 144 = 1152 bytes,
//! the same bytes as the 8 plain blocks, permuted):
//!
//! ```text
//! [0, 16)      d     of rows 0..8   (f16)
//! [16, 32)     dmin  of rows 0..8   (f16)
//! [32, 128)    scales: 3 words w = 0..3; word w of row r at 32 + 32w + 4r
//! [128, 1152)  qs: 32 groups k of 4 bytes; row r's qs[4k..4k+4] at 128 + 32k + 4r
//! ```
//!
//! A matrix's groups are stored one after another, each `[n_blocks, 1152]`;
//! the last one is padded with copies of the last row. A model's copies share
//! one allocation (`WeightMatrix::interleave_together`), so that huge pages
//! cover them whole.
//!
//! [`WeightMatrix::interleaved_source`]: super::WeightMatrix::interleaved_source

use super::unpacked::UnpackedBlock;
use crate::quant::BlockQ8K;

/// Rows per interleaved group (the 8 lanes of a 256-bit register).
pub const GROUP_ROWS: usize = 8;
/// Bytes of one Q4_K block.
pub const BLOCK_BYTES: usize = 144;
/// Bytes of one block of a group.
pub const GROUP_BLOCK_BYTES: usize = GROUP_ROWS * BLOCK_BYTES;

/// Where byte `i` of row `r`'s block goes inside the group's block.
#[inline(always)]
fn position(r: usize, i: usize) -> usize {
    match i {
        0..2 => 2 * r + i,
        2..4 => 16 + 2 * r + (i - 2),
        4..16 => 32 + 32 * ((i - 4) / 4) + 4 * r + (i - 4) % 4,
        _ => 128 + 32 * ((i - 16) / 4) + 4 * r + (i - 16) % 4,
    }
}

/// Interleaves 8 plain rows (`src`, `[8, n_blocks, 144]`) into `dst` (same size).
pub fn interleave_group(src: &[u8], n_blocks: usize, dst: &mut [u8]) {
    let row_bytes = n_blocks * BLOCK_BYTES;
    assert!(src.len() == GROUP_ROWS * row_bytes && dst.len() == src.len());
    for b in 0..n_blocks {
        let out = &mut dst[b * GROUP_BLOCK_BYTES..(b + 1) * GROUP_BLOCK_BYTES];
        for r in 0..GROUP_ROWS {
            let block = &src[r * row_bytes + b * BLOCK_BYTES..][..BLOCK_BYTES];
            for (i, &byte) in block.iter().enumerate() {
                out[position(r, i)] = byte;
            }
        }
    }
}

/// Copies row `r`'s block `b` out of an interleaved group (`[n_blocks, 1152]`).
#[inline(always)]
pub fn block_of(group: &[u8], r: usize, b: usize, out: &mut [u8; BLOCK_BYTES]) {
    let src = &group[b * GROUP_BLOCK_BYTES..(b + 1) * GROUP_BLOCK_BYTES];
    for (i, o) in out.iter_mut().enumerate() {
        *o = src[position(r, i)];
    }
}

/// Bytes of the interleaved copy of `n_out` rows (the last group padded).
pub fn interleaved_len(n_out: usize, row_bytes: usize) -> usize {
    n_out.div_ceil(GROUP_ROWS) * GROUP_ROWS * row_bytes
}

/// Writes `[n_out, row_bytes]` plain rows `data` into `out`
/// ([`interleaved_len`] bytes) interleaved by groups of 8; the last group is
/// padded with copies of the last row, so every row is read through the
/// group kernel.
pub fn interleave_matrix_into(data: &[u8], n_out: usize, row_bytes: usize, out: &mut [u8]) {
    assert!(n_out > 0 && data.len() == n_out * row_bytes && row_bytes.is_multiple_of(BLOCK_BYTES));
    assert_eq!(out.len(), interleaved_len(n_out, row_bytes));
    let n_blocks = row_bytes / BLOCK_BYTES;
    let group_bytes = GROUP_ROWS * row_bytes;
    let mut padded = Vec::new();
    for (g, dst) in out.chunks_exact_mut(group_bytes).enumerate() {
        let first = g * GROUP_ROWS;
        let src = if first + GROUP_ROWS <= n_out {
            &data[first * row_bytes..][..group_bytes]
        } else {
            padded.clear();
            for r in first..first + GROUP_ROWS {
                let r = r.min(n_out - 1);
                padded.extend_from_slice(&data[r * row_bytes..(r + 1) * row_bytes]);
            }
            &padded[..]
        };
        interleave_group(src, n_blocks, dst);
    }
}

/// [`interleave_matrix_into`] a new buffer.
pub fn interleave_matrix(data: &[u8], n_out: usize, row_bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; interleaved_len(n_out, row_bytes)];
    interleave_matrix_into(data, n_out, row_bytes, &mut out);
    out
}

/// A tier's kernels over interleaved groups.
#[derive(Clone, Copy)]
pub struct GroupKernel {
    /// Decode: the group's 8 rows · one activation row.
    pub dot: GroupDotFn,
    /// Prefill: the group's 8 rows unpacked for the tiled kernels.
    pub unpack: GroupUnpackFn,
}

/// The group kernels for weights of `ty` on `isa`, where that tier has them:
/// the one list of interleaved formats and tiers.
pub fn group_kernel(ty: crate::GgmlType, isa: super::Isa) -> Option<GroupKernel> {
    #[cfg(target_arch = "x86_64")]
    {
        use super::x86_interleaved as x86;
        use super::Isa;
        // SAFETY (every closure): a tier is only chosen when `Isa::detect`
        // found its features (avx512f/bw/vl/vnni with avx2/fma/f16c; avx2, fma, f16c).
        let unpack: GroupUnpackFn = |g, n, o| unsafe { x86::unpack_group_q4_k(g, n, o) };
        match (ty, isa) {
            (crate::GgmlType::Q4_K, Isa::Avx512Vnni) => {
                Some(GroupKernel { dot: |g, a, o| unsafe { x86::group_dot_q4_k_vnni(g, a, o) }, unpack })
            }
            (crate::GgmlType::Q4_K, Isa::Avx2) => {
                Some(GroupKernel { dot: |g, a, o| unsafe { x86::group_dot_q4_k_avx2(g, a, o) }, unpack })
            }
            _ => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (ty, isa);
        None
    }
}

/// Unpacks one group (`[n_blocks, 1152]`) into its 8 rows' blocks (`out`:
/// `[8, n_blocks]`), each equal to `unpacked::unpack_q4_k` of the plain row.
pub type GroupUnpackFn = fn(group: &[u8], n_blocks: usize, out: &mut [UnpackedBlock]);

/// The scalar definition of [`GroupUnpackFn`].
pub fn unpack_group_scalar(group: &[u8], n_blocks: usize, out: &mut [UnpackedBlock]) {
    let mut block = [0u8; BLOCK_BYTES];
    for r in 0..GROUP_ROWS {
        for b in 0..n_blocks {
            block_of(group, r, b, &mut block);
            super::unpacked::unpack_q4_k(&block, &mut out[r * n_blocks + b]);
        }
    }
}

/// A matrix-vector kernel over one interleaved group: `out[r]` = row r · `a`
/// for the group's 8 rows, equal to `unpacked::dot_fast` bit for bit.
pub type GroupDotFn = fn(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]);

/// The scalar definition of [`GroupDotFn`] (tests compare every tier with it).
pub fn group_dot_scalar(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    let mut block = [0u8; BLOCK_BYTES];
    let mut unpacked = super::unpacked::UnpackedBlock::default();
    for (r, o) in out.iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for (b, ab) in a.iter().enumerate() {
            block_of(group, r, b, &mut block);
            super::unpacked::unpack_q4_k(&block, &mut unpacked);
            let (isum, msum) = super::unpacked::block_sums(&unpacked, ab);
            acc = super::unpacked::epilogue(acc, isum, msum, &unpacked, ab.d);
        }
        *o = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_lands_once_and_comes_back() {
        let n_blocks = 3;
        let src: Vec<u8> = (0..GROUP_ROWS * n_blocks * BLOCK_BYTES).map(|i| (i * 7 % 251) as u8).collect();
        let mut dst = vec![0u8; src.len()];
        interleave_group(&src, n_blocks, &mut dst);
        let mut seen = vec![false; GROUP_BLOCK_BYTES];
        for r in 0..GROUP_ROWS {
            for i in 0..BLOCK_BYTES {
                assert!(!std::mem::replace(&mut seen[position(r, i)], true));
            }
        }
        for r in 0..GROUP_ROWS {
            for b in 0..n_blocks {
                let mut block = [0u8; BLOCK_BYTES];
                block_of(&dst, r, b, &mut block);
                assert_eq!(&block[..], &src[(r * n_blocks + b) * BLOCK_BYTES..][..BLOCK_BYTES]);
            }
        }
    }
}
