//! Tiled matrix-matrix products (prefill): each task unpacks a panel of weight
//! rows once into a per-thread buffer (no second resident copy of the model:
//! `PANEL_ROWS` rows at a time, ~10-60 KB) and runs the tier's 8-row tile
//! kernel over every tile of tokens, writing `[n_tok, n_out]` directly.
//! The tiers are one list, [`tiled_kernel`].

use super::act_tiles::ActTiles;
use super::shared_out::SharedOut;
use super::unpacked::{UnpackKind, UnpackedBlock};
use super::Isa;
use crate::GgmlType;

/// Weight rows one task unpacks and owns (a multiple of the tile's 8 rows).
pub const PANEL_ROWS: usize = 32;

/// Fewest tokens for which a product takes the tiled path; fewer go through
/// the per-row kernels (decode).
pub const MIN_TOKENS: usize = 4;

/// Rows per tile-kernel call.
pub const TILE_ROWS: usize = 8;

/// One tier's tiled kernel for one K-quant format.
#[derive(Clone, Copy)]
pub struct TiledKernel {
    pub kind: UnpackKind,
    /// Tokens per tile (the tier's vector lanes).
    pub width: usize,
    /// Unpacks raw blocks (`block_bytes` each) into `out`, vectorized for the tier.
    pub unpack: fn(UnpackKind, &[u8], usize, &mut [UnpackedBlock]),
    /// `out[r * width + t]` for 8 rows and one activation tile.
    pub tile: fn(&[&[UnpackedBlock]; TILE_ROWS], &[u32], &mut [f32]),
}

impl std::fmt::Debug for TiledKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TiledKernel({:?} x{})", self.kind, self.width)
    }
}

/// The tiled kernel for weights of `ty` on `isa`, if that tier has one.
pub fn tiled_kernel(ty: GgmlType, isa: Isa) -> Option<TiledKernel> {
    let kind = UnpackKind::of(ty)?;
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni => Some(TiledKernel {
            kind,
            width: super::avx512vnni::WIDTH,
            // SAFETY: this tier is only chosen when the CPU has avx512f/bw/vnni.
            unpack: |k, d, b, o| unsafe { super::avx512vnni::unpack_rows(k, d, b, o) },
            tile: |r, t, o| unsafe { super::avx512vnni::tile_8x16(r, t, o) },
        }),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => Some(TiledKernel {
            kind,
            width: super::avx2_tiled::WIDTH,
            // SAFETY: this tier is only chosen when the CPU has avx2 and fma.
            unpack: |k, d, b, o| unsafe { super::avx2_tiled::unpack_rows(k, d, b, o) },
            tile: |r, t, o| unsafe { super::avx2_tiled::tile_8x8(r, t, o) },
        }),
        _ => {
            let _ = kind; // no tiled tier on this target yet
            None
        }
    }
}

/// `out[n_tok, n_out] = acts · Wᵀ` with the weights' raw rows in `data`
/// (`row_bytes` each, `n_blocks` blocks of `block_bytes`).
pub fn matmul_tiled(
    tk: &TiledKernel,
    data: &[u8],
    n_out: usize,
    row_bytes: usize,
    tiles: &ActTiles,
    n_tok: usize,
    out: &mut [f32],
) {
    assert_eq!(out.len(), n_tok * n_out);
    assert!(tiles.width == tk.width && tiles.n_tiles * tk.width >= n_tok);
    let n_blocks = tiles.n_blocks;
    let block_bytes = row_bytes / n_blocks.max(1);
    let shared = SharedOut::new(out);
    let panel = |p: usize| {
        thread_local! {
            static PANEL: std::cell::RefCell<Vec<UnpackedBlock>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let first = p * PANEL_ROWS;
        let n_rows = PANEL_ROWS.min(n_out - first);
        PANEL.with_borrow_mut(|buf| {
            // [n_rows, n_blocks] unpacked blocks
            buf.resize(n_rows * n_blocks, UnpackedBlock::default());
            (tk.unpack)(tk.kind, &data[first * row_bytes..(first + n_rows) * row_bytes], block_bytes, buf);
            let mut result = [0.0f32; TILE_ROWS * 16];
            let result = &mut result[..TILE_ROWS * tk.width];
            for tile in 0..tiles.n_tiles {
                let act = tiles.tile(tile);
                let t0 = tile * tk.width;
                let n_t = tk.width.min(n_tok - t0);
                for r0 in (0..n_rows).step_by(TILE_ROWS) {
                    let n_r = TILE_ROWS.min(n_rows - r0);
                    // Tail rows repeat the last real row; their results are dropped.
                    let rows: [&[UnpackedBlock]; TILE_ROWS] = std::array::from_fn(|i| {
                        let r = r0 + i.min(n_r - 1);
                        &buf[r * n_blocks..(r + 1) * n_blocks]
                    });
                    (tk.tile)(&rows, act, result);
                    for t in 0..n_t {
                        let dst = (t0 + t) * n_out + first + r0;
                        for r in 0..n_r {
                            // SAFETY: row first + r0 + r belongs to this task only, and
                            // (t0 + t, row) is inside out (asserted above).
                            unsafe { shared.set(dst + r, result[r * tk.width + t]) };
                        }
                    }
                }
            }
        });
    };
    let n_panels = n_out.div_ceil(PANEL_ROWS);
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        (0..n_panels).into_par_iter().for_each(panel);
    }
    #[cfg(not(feature = "parallel"))]
    (0..n_panels).for_each(panel);
}
