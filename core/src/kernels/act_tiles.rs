//! Q8_K (and Q8_0) activations transposed for the tiled kernels: tokens go in the vector
//! lanes, so one weight group (4 bytes, broadcast) multiplies `width` tokens
//! per instruction, and each weight row is read once per tile of tokens.
//! Built once per matrix product (shared by every thread and weight row);
//! padding tokens are zero and contribute nothing.

use crate::quant::{BlockQ8K, BlockQ8_0, BlockQ8_1};

/// u32 slots per (tile, Q8_K block): 64 quant groups + 8 `bsums` pairs + `d`,
/// each `width` lanes wide.
pub const SLOTS_PER_LANE: usize = 64 + 8 + 1;

/// u32 slots per (tile, Q8_0 or Q8_1 block): 8 quant groups, the sum of the
/// 32 quants (i32; Q8_1: its `s` as f32, for the weights' min) and `d` (f32),
/// each `width` lanes wide.
pub const SLOTS_32: usize = 8 + 1 + 1;

/// `[n_tiles, n_blocks, SLOTS_PER_LANE, width]` u32: for lane (token) t of a tile,
/// slot `4k + g` holds quants `16k + 4g .. +4` of the block (4 i8), slot `64 + p`
/// the pair `bsums[2p], bsums[2p+1]` (two i16), slot 72 `d` (f32 bits).
#[derive(Default, Debug)]
pub struct ActTiles {
    pub width: usize,
    pub n_tiles: usize,
    pub n_blocks: usize,
    /// Slots per block: [`SLOTS_PER_LANE`] or [`SLOTS_32`].
    pub slots: usize,
    pub data: Vec<u32>,
}

impl ActTiles {
    /// Transposes `n_rows` rows of `n_blocks` Q8_K blocks into tiles `width` tokens wide.
    pub fn build(&mut self, q8k: &[BlockQ8K], n_rows: usize, n_blocks: usize, width: usize) {
        self.fill(q8k, n_rows, n_blocks, width, SLOTS_PER_LANE, |block, lane| {
            lane.put_groups(bytemuck::cast_slice(&block.qs));
            for p in 0..8 {
                let (lo, hi) = (block.bsums[2 * p] as u16 as u32, block.bsums[2 * p + 1] as u16 as u32);
                lane.set(64 + p, lo | (hi << 16));
            }
            lane.set(72, block.d.to_bits());
        });
    }

    /// Transposes `n_rows` rows of `n_blocks` Q8_0 blocks into tiles `width` tokens wide.
    pub fn build_q8_0(&mut self, q8_0: &[BlockQ8_0], n_rows: usize, n_blocks: usize, width: usize) {
        self.fill(q8_0, n_rows, n_blocks, width, SLOTS_32, |block, lane| {
            lane.put_groups(bytemuck::cast_slice(&block.qs));
            let sum: i32 = block.qs.iter().map(|&q| q as i32).sum();
            lane.set(8, sum as u32);
            lane.set(9, block.d.to_f32().to_bits());
        });
    }

    /// Transposes `n_rows` rows of `n_blocks` Q8_1 blocks into tiles `width`
    /// tokens wide: `SLOTS_32` slots with `s` in place of the quants' sum
    /// (the formats with a min have no offset to subtract).
    pub fn build_q8_1(&mut self, q8_1: &[BlockQ8_1], n_rows: usize, n_blocks: usize, width: usize) {
        self.fill(q8_1, n_rows, n_blocks, width, SLOTS_32, |block, lane| {
            lane.put_groups(bytemuck::cast_slice(&block.qs));
            lane.set(8, block.s.to_f32().to_bits());
            lane.set(9, block.d.to_f32().to_bits());
        });
    }

    /// Sizes the tiles and calls `put(block, lane)` for every block of every
    /// row, `lane` being that token's lane of the block's slots.
    fn fill<B>(
        &mut self,
        rows: &[B],
        n_rows: usize,
        n_blocks: usize,
        width: usize,
        slots: usize,
        put: impl Fn(&B, &mut Lane<'_>) + Sync + Send,
    ) where
        B: Sync,
    {
        let per_block = self.reset(n_rows, n_blocks, width, slots);
        // Tiles are disjoint runs of `data`: one task each.
        crate::parallel::for_each_chunk(&mut self.data, n_blocks * per_block, |tile, data| {
            for lane in 0..width.min(n_rows - tile * width) {
                let row = &rows[(tile * width + lane) * n_blocks..][..n_blocks];
                for (block, dst) in row.iter().zip(data.chunks_exact_mut(per_block)) {
                    put(block, &mut Lane { dst, width, lane });
                }
            }
        });
    }

    /// Sizes and zeroes the tiles; returns the u32 count per (tile, block).
    fn reset(&mut self, n_rows: usize, n_blocks: usize, width: usize, slots: usize) -> usize {
        self.width = width;
        self.n_blocks = n_blocks;
        self.slots = slots;
        self.n_tiles = n_rows.div_ceil(width);
        self.data.clear();
        self.data.resize(self.n_tiles * n_blocks * slots * width, 0);
        slots * width
    }

    /// One tile: `[n_blocks, slots, width]`.
    pub fn tile(&self, i: usize) -> &[u32] {
        let len = self.n_blocks * self.slots * self.width;
        &self.data[i * len..(i + 1) * len]
    }
}

/// One token's lane of one block's slots (`[slots, width]`).
struct Lane<'a> {
    dst: &'a mut [u32],
    width: usize,
    lane: usize,
}

impl Lane<'_> {
    #[inline]
    fn set(&mut self, slot: usize, value: u32) {
        self.dst[slot * self.width + self.lane] = value;
    }

    /// The block's quants, 4 bytes per slot, into slots `0..qs.len() / 4`.
    #[inline]
    fn put_groups(&mut self, qs: &[u8]) {
        for (slot, group) in qs.chunks_exact(4).enumerate() {
            self.set(slot, u32::from_le_bytes([group[0], group[1], group[2], group[3]]));
        }
    }
}
