//! Rows interleaved eight at a time, for decode's matrix-vector product:
//! the K-quants Q2_K..Q6_K and the 32-value Q4_1, Q5_0 and Q8_0.
//!
//! A row-at-a-time kernel spends most of its work on things other
//! than multiplying: splitting nibbles, broadcasting one sub-block scale per
//! 16 or 32 values, widening and summing each row's lanes. With eight rows
//! side by side, one 32-byte load holds 4 bytes of each of the 8 rows, the 4
//! activation bytes they meet are one broadcast, and every scale, min and f16
//! factor is one vector for all 8 rows. Each lane then computes one row
//! exactly as [`unpacked::dot_fast`](super::unpacked::dot_fast) (or
//! [`unpacked32::dot_fast32`](super::unpacked32::dot_fast32)) does (same
//! exact integer sums, same fused float epilogue), so decode and the tiled
//! prefill give the same numbers.
//!
//! The interleaved copy is made once at load and is the only copy the model
//! reads from then on (prefill's tiled path unpacks its panels straight from
//! it); the host may drop the file's pages for those tensors
//! ([`WeightMatrix::interleaved_source`]).
//!
//! Layout of one group of 8 rows, per block of 256 (K-quants) or 32 values
//! (Q4_1: d, m, 4 quant words; Q5_0: d, the `qh` words, 4 quant words; Q8_0: d, 8 quant words; 8 blocks' bytes,
//! permuted: every field of the 8 rows side by side, in 4-byte words where
//! the field allows):
//!
//! ```text
//! Q4_K (8 x 144 = 1152 bytes)            Q6_K (8 x 210 = 1680 bytes)
//! [0, 16)      d of rows 0..8 (f16)      [0, 16)       d of rows 0..8 (f16)
//! [16, 32)     dmin of rows 0..8 (f16)   [16, 144)     scales: 4 words
//! [32, 128)    scales: 3 words           [144, 1680)   per half h, per step j:
//! [128, 1152)  qs: 32 words                            ql[64h+4j], ql[64h+32+4j],
//!                                                      qh[32h+4j] (one word each)
//! ```
//!
//! ```text
//! Q2_K (8 x 84 = 672 bytes)              Q3_K (8 x 110 = 880 bytes)
//! [0, 16)      d of rows 0..8 (f16)      [0, 16)       d of rows 0..8 (f16)
//! [16, 32)     dmin of rows 0..8 (f16)   [16, 112)     scales: 3 words
//! [32, 160)    scales: 4 words           [112, 880)    per step w: hmask[4w],
//! [160, 672)   qs: 16 words                            qs[4w], qs[32 + 4w]
//! ```
//!
//! ```text
//! Q5_K (8 x 176 = 1408 bytes)
//! [0, 128)     d, dmin, scales as Q4_K
//! [128, 384)   qh: 8 words (each read by all four 64-value chunks, from L1)
//! [384, 1408)  qs: 32 words
//! ```
//!
//! A word's 8 copies fill one 32-byte slot (row r at +4r), and the slots lie
//! in the order the group kernel reads them: a kernel that jumped back and
//! forth inside a block (Q6_K's ql, then qh, then ql again) defeated the
//! hardware prefetcher and streamed at a third of the speed. A matrix's groups are stored one after another,
//! each `[n_blocks, group block]`; the last one is padded with copies of the
//! last row. A model's copies share one allocation
//! (`WeightMatrix::interleave_together`), so that huge pages cover them whole.
//!
//! [`WeightMatrix::interleaved_source`]: super::WeightMatrix::interleaved_source

use super::unpacked::{self, UnpackKind, UnpackedBlock};
use super::unpacked32::Unpacked32;
use crate::quant::{BlockQ8K, BlockQ8_0, BlockQ8_1};
use crate::GgmlType;

/// Rows per interleaved group (the 8 lanes of a 256-bit register).
pub const GROUP_ROWS: usize = 8;

/// The formats stored interleaved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupFormat {
    Q2K,
    Q3K,
    Q4K,
    Q5K,
    Q6K,
    Q4_1,
    Q5_0,
    Q8_0,
}

impl GroupFormat {
    pub fn of(ty: GgmlType) -> Option<GroupFormat> {
        Some(match ty {
            GgmlType::Q2_K => GroupFormat::Q2K,
            GgmlType::Q3_K => GroupFormat::Q3K,
            GgmlType::Q4_K => GroupFormat::Q4K,
            GgmlType::Q5_K => GroupFormat::Q5K,
            GgmlType::Q6_K => GroupFormat::Q6K,
            GgmlType::Q4_1 => GroupFormat::Q4_1,
            GgmlType::Q5_0 => GroupFormat::Q5_0,
            GgmlType::Q8_0 => GroupFormat::Q8_0,
            _ => return None,
        })
    }

    /// Bytes of one plain block.
    pub fn block_bytes(self) -> usize {
        match self {
            GroupFormat::Q2K => 84,
            GroupFormat::Q3K => 110,
            GroupFormat::Q4K => 144,
            GroupFormat::Q5K => 176,
            GroupFormat::Q6K => 210,
            GroupFormat::Q4_1 => 20,
            GroupFormat::Q5_0 => 22,
            GroupFormat::Q8_0 => 34,
        }
    }

    /// Bytes of one block of a group.
    pub fn group_block_bytes(self) -> usize {
        GROUP_ROWS * self.block_bytes()
    }

    /// The K-quant unpacking of the format (None for 32-value blocks).
    fn unpack_kind(self) -> Option<UnpackKind> {
        Some(match self {
            GroupFormat::Q2K => UnpackKind::Q2K,
            GroupFormat::Q3K => UnpackKind::Q3K,
            GroupFormat::Q4K => UnpackKind::Q4K,
            GroupFormat::Q5K => UnpackKind::Q5K,
            GroupFormat::Q6K => UnpackKind::Q6K,
            GroupFormat::Q4_1 | GroupFormat::Q5_0 | GroupFormat::Q8_0 => return None,
        })
    }

    /// Where byte `i` of row `r`'s block goes inside the group's block.
    #[inline(always)]
    fn position(self, r: usize, i: usize) -> usize {
        // A field of 4-byte words at `start`: word w of row r at start + 32w + 4r.
        let words = |start: usize, offset: usize| start + 32 * (offset / 4) + 4 * r + offset % 4;
        match self {
            // Plain Q2_K: scales [0, 16), qs [16, 80), d [80, 82), dmin [82, 84).
            GroupFormat::Q2K => match i {
                0..16 => words(32, i),
                16..80 => words(160, i - 16),
                80..82 => 2 * r + (i - 80),
                _ => 16 + 2 * r + (i - 82),
            },
            // Plain Q3_K: hmask [0, 32), qs [32, 96), scales [96, 108), d [108, 110).
            // Per step w (values 4w..4w+4 of each 32), the three words the
            // kernel reads together: hmask[4w], qs[4w], qs[32 + 4w].
            GroupFormat::Q3K => {
                let step = |w: usize, word: usize| 112 + 96 * w + 32 * word;
                match i {
                    0..32 => step(i / 4, 0) + 4 * r + i % 4,
                    32..96 => step((i - 32) % 32 / 4, 1 + (i - 32) / 32) + 4 * r + i % 4,
                    96..108 => words(16, i - 96),
                    _ => 2 * r + (i - 108),
                }
            }
            // Plain Q4_1: d [0, 2), m [2, 4), qs [4, 20).
            GroupFormat::Q4_1 => match i {
                0..2 => 2 * r + i,
                2..4 => 16 + 2 * r + (i - 2),
                _ => words(32, i - 4),
            },
            // Plain Q8_0: d [0, 2), qs [2, 34).
            GroupFormat::Q8_0 => match i {
                0..2 => 2 * r + i,
                _ => words(16, i - 2),
            },
            // Plain Q5_0: d [0, 2), qh [2, 6), qs [6, 22).
            GroupFormat::Q5_0 => match i {
                0..2 => 2 * r + i,
                2..6 => words(16, i - 2),
                _ => words(48, i - 6),
            },
            GroupFormat::Q4K => match i {
                0..2 => 2 * r + i,
                2..4 => 16 + 2 * r + (i - 2),
                4..16 => words(32, i - 4),
                _ => words(128, i - 16),
            },
            // Plain Q5_K: d, dmin, scales as Q4_K; qh [16, 48), qs [48, 176).
            GroupFormat::Q5K => match i {
                0..2 => 2 * r + i,
                2..4 => 16 + 2 * r + (i - 2),
                4..16 => words(32, i - 4),
                16..48 => words(128, i - 16),
                _ => words(384, i - 48),
            },
            // Plain Q6_K: ql [0, 128), qh [128, 192), scales [192, 208), d [208, 210).
            // Per half h and step j (values 4j..4j+4 of each quarter), the
            // three words the kernel reads together: ql[64h + 4j],
            // ql[64h + 32 + 4j], qh[32h + 4j], in the order read.
            GroupFormat::Q6K => {
                let step = |h: usize, j: usize, word: usize| 144 + 768 * h + 96 * j + 32 * word;
                match i {
                    0..128 => step(i / 64, i % 32 / 4, i % 64 / 32) + 4 * r + i % 4,
                    128..192 => step((i - 128) / 32, (i - 128) % 32 / 4, 2) + 4 * r + i % 4,
                    192..208 => words(16, i - 192),
                    _ => 2 * r + (i - 208),
                }
            }
        }
    }

    /// The plain block's fields as (start, end, piece size): f16 factors move
    /// as 2 bytes, everything else as 4-byte words (each lands whole, see
    /// `position`).
    fn pieces(self) -> &'static [(usize, usize, usize)] {
        match self {
            GroupFormat::Q2K => &[(0, 80, 4), (80, 84, 2)],
            GroupFormat::Q3K => &[(0, 108, 4), (108, 110, 2)],
            GroupFormat::Q4K => &[(0, 4, 2), (4, 144, 4)],
            GroupFormat::Q5K => &[(0, 4, 2), (4, 176, 4)],
            GroupFormat::Q4_1 => &[(0, 4, 2), (4, 20, 4)],
            GroupFormat::Q5_0 => &[(0, 2, 2), (2, 22, 4)],
            GroupFormat::Q8_0 => &[(0, 2, 2), (2, 34, 4)],
            GroupFormat::Q6K => &[(0, 208, 4), (208, 210, 2)],
        }
    }
}

/// Interleaves 8 plain rows (`src`, `[8, n_blocks, block]`) into `dst` (same
/// size), a word or an f16 at a time (byte by byte, loading Qwen2.5-1.5B took
/// 2.5 s longer).
pub fn interleave_group(format: GroupFormat, src: &[u8], n_blocks: usize, dst: &mut [u8]) {
    let (block_bytes, group_block) = (format.block_bytes(), format.group_block_bytes());
    let row_bytes = n_blocks * block_bytes;
    assert!(src.len() == GROUP_ROWS * row_bytes && dst.len() == src.len());
    for b in 0..n_blocks {
        let out = &mut dst[b * group_block..(b + 1) * group_block];
        let blocks: [&[u8]; GROUP_ROWS] =
            std::array::from_fn(|r| &src[r * row_bytes + b * block_bytes..][..block_bytes]);
        for &(start, end, size) in format.pieces() {
            for i in (start..end).step_by(size) {
                // The 8 rows' copies of a piece lie side by side from row 0's place.
                let at = format.position(0, i);
                for (r, block) in blocks.iter().enumerate() {
                    // Fixed-size copies: moves, not memmove calls.
                    if size == 4 {
                        out[at + 4 * r..at + 4 * r + 4].copy_from_slice(&block[i..i + 4]);
                    } else {
                        out[at + 2 * r..at + 2 * r + 2].copy_from_slice(&block[i..i + 2]);
                    }
                }
            }
        }
    }
}

/// Copies row `r`'s block `b` out of an interleaved group (`[n_blocks, group block]`),
/// a word or an f16 at a time.
pub fn block_of(format: GroupFormat, group: &[u8], r: usize, b: usize, out: &mut [u8]) {
    let group_block = format.group_block_bytes();
    let src = &group[b * group_block..(b + 1) * group_block];
    for &(start, end, size) in format.pieces() {
        for i in (start..end).step_by(size) {
            let at = format.position(r, i);
            // Fixed-size copies: moves, not memmove calls.
            if size == 4 {
                out[i..i + 4].copy_from_slice(&src[at..at + 4]);
            } else {
                out[i..i + 2].copy_from_slice(&src[at..at + 2]);
            }
        }
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
pub fn interleave_matrix_into(format: GroupFormat, data: &[u8], n_out: usize, row_bytes: usize, out: &mut [u8]) {
    assert!(n_out > 0 && data.len() == n_out * row_bytes && row_bytes.is_multiple_of(format.block_bytes()));
    assert_eq!(out.len(), interleaved_len(n_out, row_bytes));
    let n_blocks = row_bytes / format.block_bytes();
    let group_bytes = GROUP_ROWS * row_bytes;
    let fill = |g: usize, dst: &mut [u8]| {
        let first = g * GROUP_ROWS;
        if first + GROUP_ROWS <= n_out {
            interleave_group(format, &data[first * row_bytes..][..group_bytes], n_blocks, dst);
        } else {
            let padded: Vec<u8> = (first..first + GROUP_ROWS)
                .flat_map(|r| &data[r.min(n_out - 1) * row_bytes..][..row_bytes])
                .copied()
                .collect();
            interleave_group(format, &padded, n_blocks, dst);
        }
    };
    // Copying is bound by memory and page faults (~1 GB for Qwen2.5-1.5B):
    // every thread helps where there are threads.
    crate::parallel::for_each_chunk(out, group_bytes, fill);
}

/// [`interleave_matrix_into`] a new buffer.
pub fn interleave_matrix(format: GroupFormat, data: &[u8], n_out: usize, row_bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; interleaved_len(n_out, row_bytes)];
    interleave_matrix_into(format, data, n_out, row_bytes, &mut out);
    out
}

/// A tier's kernels over interleaved groups of one format.
#[derive(Clone, Copy)]
pub struct GroupKernel {
    pub format: GroupFormat,
    /// Decode: the group's 8 rows · one activation row.
    pub dot: GroupDot,
    /// Prefill: the group's 8 rows unpacked for the tiled kernels.
    pub unpack: GroupUnpack,
}

/// A group kernel's decode product, typed by the activations it reads.
#[derive(Clone, Copy)]
pub enum GroupDot {
    /// K-quants against Q8_K.
    Q8K(GroupDotFn),
    /// Q5_0 against Q8_0.
    Q8_0(fn(group: &[u8], a: &[BlockQ8_0], out: &mut [f32; GROUP_ROWS])),
    /// Q4_1 against Q8_1.
    Q8_1(fn(group: &[u8], a: &[BlockQ8_1], out: &mut [f32; GROUP_ROWS])),
}

/// A group kernel's unpack for the tiled path, typed by the unpacked block.
#[derive(Clone, Copy)]
pub enum GroupUnpack {
    KQuant(GroupUnpackFn),
    Block32(fn(group: &[u8], n_blocks: usize, out: &mut [Unpacked32])),
}

/// The group kernels for weights of `ty` on `isa`, where that tier has them:
/// the one list of interleaved formats and tiers.
pub fn group_kernel(ty: GgmlType, isa: super::Isa) -> Option<GroupKernel> {
    #[cfg(target_arch = "x86_64")]
    {
        use super::x86_interleaved as x86;
        use super::x86_interleaved_q2_q3 as x86_low;
        use super::Isa;
        let format = GroupFormat::of(ty)?;
        // SAFETY (every closure): a tier is only chosen when `Isa::detect`
        // found its features (avx512f/bw/vl/vnni or avxvnni, with avx2/fma/f16c;
        // avx2, fma, f16c). The 32-value formats (Q4_1 against Q8_1, Q5_0
        // against Q8_0): AVX2 only, which the VNNI tiers run too.
        let x86 = isa.has_avx2_fma();
        use super::x86_interleaved_32 as x86_32;
        match (format, isa) {
            (GroupFormat::Q4_1, _) if x86 => {
                return Some(GroupKernel {
                    format,
                    dot: GroupDot::Q8_1(|g, a, o| unsafe { x86_32::group_dot_q4_1_avx2(g, a, o) }),
                    unpack: GroupUnpack::Block32(|g, n, o| unsafe { x86_32::unpack_group_q4_1(g, n, o) }),
                })
            }
            (GroupFormat::Q8_0, _) if x86 => {
                return Some(GroupKernel {
                    format,
                    dot: GroupDot::Q8_0(|g, a, o| unsafe { x86_32::group_dot_q8_0_avx2(g, a, o) }),
                    unpack: GroupUnpack::Block32(|g, n, o| unsafe { x86_32::unpack_group_q8_0(g, n, o) }),
                })
            }
            (GroupFormat::Q5_0, _) if x86 => {
                return Some(GroupKernel {
                    format,
                    dot: GroupDot::Q8_0(|g, a, o| unsafe { x86_32::group_dot_q5_0_avx2(g, a, o) }),
                    unpack: GroupUnpack::Block32(|g, n, o| unsafe { x86_32::unpack_group_q5_0(g, n, o) }),
                })
            }
            _ => {}
        }
        // Q2_K and Q3_K have AVX2 kernels only (their i16 sums take every
        // scale as one `vpmaddwd`); the VNNI tiers run them too.
        let (dot, unpack): (GroupDotFn, GroupUnpackFn) = match (format, isa) {
            (GroupFormat::Q2K, _) if x86 => (
                |g, a, o| unsafe { x86_low::group_dot_q2_k_avx2(g, a, o) },
                |g, n, o| unsafe { x86_low::unpack_group_q2_k(g, n, o) },
            ),
            (GroupFormat::Q3K, _) if x86 => (
                |g, a, o| unsafe { x86_low::group_dot_q3_k_avx2(g, a, o) },
                |g, n, o| unsafe { x86_low::unpack_group_q3_k(g, n, o) },
            ),
            (GroupFormat::Q4K, Isa::Avx512Vnni) => (
                |g, a, o| unsafe { x86::group_dot_q4_k_vnni(g, a, o) },
                |g, n, o| unsafe { x86::unpack_group_q4_k(g, n, o) },
            ),
            (GroupFormat::Q4K, Isa::Avx2) => (
                |g, a, o| unsafe { x86::group_dot_q4_k_avx2(g, a, o) },
                |g, n, o| unsafe { x86::unpack_group_q4_k(g, n, o) },
            ),
            (GroupFormat::Q4K, Isa::AvxVnni) => (
                |g, a, o| unsafe { x86::group_dot_q4_k_avxvnni(g, a, o) },
                |g, n, o| unsafe { x86::unpack_group_q4_k(g, n, o) },
            ),
            (GroupFormat::Q5K, Isa::Avx512Vnni) => (
                |g, a, o| unsafe { x86::group_dot_q5_k_vnni(g, a, o) },
                |g, n, o| unsafe { x86::unpack_group_q5_k(g, n, o) },
            ),
            (GroupFormat::Q5K, Isa::Avx2) => (
                |g, a, o| unsafe { x86::group_dot_q5_k_avx2(g, a, o) },
                |g, n, o| unsafe { x86::unpack_group_q5_k(g, n, o) },
            ),
            (GroupFormat::Q5K, Isa::AvxVnni) => (
                |g, a, o| unsafe { x86::group_dot_q5_k_avxvnni(g, a, o) },
                |g, n, o| unsafe { x86::unpack_group_q5_k(g, n, o) },
            ),
            (GroupFormat::Q6K, Isa::Avx512Vnni) => (
                |g, a, o| unsafe { x86::group_dot_q6_k_vnni(g, a, o) },
                |g, n, o| unsafe { x86::unpack_group_q6_k(g, n, o) },
            ),
            (GroupFormat::Q6K, Isa::Avx2) => (
                |g, a, o| unsafe { x86::group_dot_q6_k_avx2(g, a, o) },
                |g, n, o| unsafe { x86::unpack_group_q6_k(g, n, o) },
            ),
            (GroupFormat::Q6K, Isa::AvxVnni) => (
                |g, a, o| unsafe { x86::group_dot_q6_k_avxvnni(g, a, o) },
                |g, n, o| unsafe { x86::unpack_group_q6_k(g, n, o) },
            ),
            _ => return None,
        };
        Some(GroupKernel { format, dot: GroupDot::Q8K(dot), unpack: GroupUnpack::KQuant(unpack) })
    }
    #[cfg(target_arch = "aarch64")]
    {
        use super::neon_interleaved as neon;
        use super::Isa;
        let format = GroupFormat::of(ty)?;
        // SAFETY (every closure): the dotprod tiers are only chosen when
        // `Isa::detect` found dotprod. Prefill unpacks the groups in scalar
        // code (no NEON transposes yet).
        let (dot, unpack): (GroupDotFn, GroupUnpackFn) = match (format, isa) {
            (GroupFormat::Q4K, Isa::NeonDotprod | Isa::NeonI8mm) => (
                |g, a, o| unsafe { neon::group_dot_q4_k_dotprod(g, a, o) },
                |g, n, o| unpack_group_scalar(GroupFormat::Q4K, g, n, o),
            ),
            (GroupFormat::Q6K, Isa::NeonDotprod | Isa::NeonI8mm) => (
                |g, a, o| unsafe { neon::group_dot_q6_k_dotprod(g, a, o) },
                |g, n, o| unpack_group_scalar(GroupFormat::Q6K, g, n, o),
            ),
            _ => return None,
        };
        Some(GroupKernel { format, dot: GroupDot::Q8K(dot), unpack: GroupUnpack::KQuant(unpack) })
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = (ty, isa);
        None
    }
}

/// Unpacks one group (`[n_blocks, group block]`) into its 8 rows' blocks
/// (`out`: `[8, n_blocks]`), each equal to `unpacked::unpack_all` of the plain row.
pub type GroupUnpackFn = fn(group: &[u8], n_blocks: usize, out: &mut [UnpackedBlock]);

/// The scalar definition of [`GroupUnpackFn`] (K-quant formats), and the
/// NEON tier's unpack: each group block back into its 8 plain blocks (the
/// inverse of [`interleave_group`], a piece's place found once for all 8
/// rows), then `unpack_all` of each. On x86 (SSE2 build, 2-core Xeon) it
/// costs 25-26 ns per Q4_K block against 49 for `unpack_all` of plain rows,
/// 32 against 9 for Q6_K (row by row through `block_of`: 80 and 129).
pub fn unpack_group_scalar(format: GroupFormat, group: &[u8], n_blocks: usize, out: &mut [UnpackedBlock]) {
    let kind = format.unpack_kind().expect("a K-quant group format");
    let (block_bytes, group_block) = (format.block_bytes(), format.group_block_bytes());
    assert!(group.len() >= n_blocks * group_block && out.len() >= GROUP_ROWS * n_blocks);
    let mut blocks = [[0u8; 256]; GROUP_ROWS];
    for b in 0..n_blocks {
        let src = &group[b * group_block..(b + 1) * group_block];
        for &(start, end, size) in format.pieces() {
            for i in (start..end).step_by(size) {
                // The 8 rows' copies of a piece lie side by side from row 0's place.
                let at = format.position(0, i);
                for (r, block) in blocks.iter_mut().enumerate() {
                    if size == 4 {
                        block[i..i + 4].copy_from_slice(&src[at + 4 * r..at + 4 * r + 4]);
                    } else {
                        block[i..i + 2].copy_from_slice(&src[at + 2 * r..at + 2 * r + 2]);
                    }
                }
            }
        }
        for (r, block) in blocks.iter().enumerate() {
            let o = std::slice::from_mut(&mut out[r * n_blocks + b]);
            unpacked::unpack_all(kind, &block[..block_bytes], block_bytes, o);
        }
    }
}

/// A matrix-vector kernel over one interleaved group: `out[r]` = row r · `a`
/// for the group's 8 rows, equal to `unpacked::dot_fast` bit for bit.
pub type GroupDotFn = fn(group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]);

/// The scalar definition of [`GroupDotFn`] (K-quant formats; tests compare every tier with it).
pub fn group_dot_scalar(format: GroupFormat, group: &[u8], a: &[BlockQ8K], out: &mut [f32; GROUP_ROWS]) {
    let mut rows = vec![UnpackedBlock::default(); GROUP_ROWS * a.len()];
    unpack_group_scalar(format, group, a.len(), &mut rows);
    for (r, o) in out.iter_mut().enumerate() {
        *o = unpacked::dot_fast(&rows[r * a.len()..(r + 1) * a.len()], a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_lands_once_and_comes_back() {
        for format in [
            GroupFormat::Q2K,
            GroupFormat::Q3K,
            GroupFormat::Q4K,
            GroupFormat::Q5K,
            GroupFormat::Q6K,
            GroupFormat::Q4_1,
            GroupFormat::Q5_0,
            GroupFormat::Q8_0,
        ] {
            let (n_blocks, block_bytes) = (3, format.block_bytes());
            let src: Vec<u8> = (0..GROUP_ROWS * n_blocks * block_bytes).map(|i| (i * 7 % 251) as u8).collect();
            let mut dst = vec![0u8; src.len()];
            interleave_group(format, &src, n_blocks, &mut dst);
            let mut seen = vec![false; format.group_block_bytes()];
            for r in 0..GROUP_ROWS {
                for i in 0..block_bytes {
                    assert!(!std::mem::replace(&mut seen[format.position(r, i)], true), "{format:?} {r} {i}");
                }
            }
            for r in 0..GROUP_ROWS {
                for b in 0..n_blocks {
                    let mut block = vec![0u8; block_bytes];
                    block_of(format, &dst, r, b, &mut block);
                    assert_eq!(&block[..], &src[(r * n_blocks + b) * block_bytes..][..block_bytes]);
                }
            }
        }
    }
}
