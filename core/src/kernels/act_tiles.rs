//! Q8_K activations transposed for the tiled kernels: tokens go in the vector
//! lanes, so one weight group (4 bytes, broadcast) multiplies `width` tokens
//! per instruction, and each weight row is read once per tile of tokens.
//! Built once per matrix product (shared by every thread and weight row);
//! padding tokens are zero and contribute nothing.

use crate::quant::BlockQ8K;

/// u32 slots per (tile, block): 64 quant groups + 8 `bsums` pairs + `d`, each
/// `width` lanes wide.
pub const SLOTS_PER_LANE: usize = 64 + 8 + 1;

/// `[n_tiles, n_blocks, SLOTS_PER_LANE, width]` u32: for lane (token) t of a tile,
/// slot `4k + g` holds quants `16k + 4g .. +4` of the block (4 i8), slot `64 + p`
/// the pair `bsums[2p], bsums[2p+1]` (two i16), slot 72 `d` (f32 bits).
#[derive(Default, Debug)]
pub struct ActTiles {
    pub width: usize,
    pub n_tiles: usize,
    pub n_blocks: usize,
    pub data: Vec<u32>,
}

impl ActTiles {
    /// Transposes `n_rows` rows of `n_blocks` Q8_K blocks into tiles `width` tokens wide.
    pub fn build(&mut self, q8k: &[BlockQ8K], n_rows: usize, n_blocks: usize, width: usize) {
        self.width = width;
        self.n_blocks = n_blocks;
        self.n_tiles = n_rows.div_ceil(width);
        let per_block = SLOTS_PER_LANE * width;
        self.data.clear();
        self.data.resize(self.n_tiles * n_blocks * per_block, 0);
        for (t, row) in q8k.chunks_exact(n_blocks).take(n_rows).enumerate() {
            let (tile, lane) = (t / width, t % width);
            for (b, block) in row.iter().enumerate() {
                let dst = &mut self.data[(tile * n_blocks + b) * per_block..][..per_block];
                let qs: &[u8] = bytemuck::cast_slice(&block.qs);
                for (slot, group) in qs.chunks_exact(4).enumerate() {
                    dst[slot * width + lane] = u32::from_le_bytes([group[0], group[1], group[2], group[3]]);
                }
                for p in 0..8 {
                    let (lo, hi) = (block.bsums[2 * p] as u16 as u32, block.bsums[2 * p + 1] as u16 as u32);
                    dst[(64 + p) * width + lane] = lo | (hi << 16);
                }
                dst[72 * width + lane] = block.d.to_bits();
            }
        }
    }

    /// One tile: `[n_blocks, SLOTS_PER_LANE, width]`.
    pub fn tile(&self, i: usize) -> &[u32] {
        let len = self.n_blocks * SLOTS_PER_LANE * self.width;
        &self.data[i * len..(i + 1) * len]
    }
}
