//! Tiled matrix-matrix products (prefill): each task unpacks a panel of weight
//! rows once into a per-thread buffer (no second resident copy of the model:
//! `PANEL_ROWS` rows at a time: 96 KB for rows of 2048 K-quant values, 264 KB
//! for 5632, in L2) and runs the tier's 8-row tile
//! kernel over every tile of tokens, writing `[n_tok, n_out]` directly.
//! The tiers are one list, [`tiled_kernel`].

use super::act_tiles::ActTiles;
use super::interleaved::{GroupUnpack, GROUP_ROWS};
use super::shared_out::SharedOut;
use super::unpacked::{UnpackKind, UnpackedBlock};
use super::unpacked32::{Kind32, Unpacked32};
use super::Isa;
use crate::GgmlType;

/// Weight rows one task unpacks and owns (a multiple of the tile's 8 rows
/// and of an interleaved group's).
pub const PANEL_ROWS: usize = 32;
const _: () = assert!(PANEL_ROWS.is_multiple_of(GROUP_ROWS));

/// Fewest tokens for which a product takes the tiled path; fewer go through
/// the per-row kernels (decode, short turns). Unpacking the weights costs about
/// as much as 3 tokens of per-row products: measured on TinyLlama-1.1B, 1
/// thread, per-row 32 t/s at any length; tiled 23/34/44 t/s (AVX-512) and
/// 27/40/53 (AVX2) at 4/6/8 tokens.
pub const MIN_TOKENS: usize = 8;

/// Rows per tile-kernel call.
pub const TILE_ROWS: usize = 8;

/// 8 unpacked weight rows (each `n_blocks` long) for one tile-kernel call.
pub type TileRows<'a, B> = [&'a [B]; TILE_ROWS];

/// One tier's tiled kernel for one format family: `B` the unpacked block,
/// `K` the format within the family.
#[derive(Clone, Copy)]
pub struct TileFns<B: 'static, K: 'static> {
    pub kind: K,
    /// Tokens per tile (the tier's vector lanes).
    pub width: usize,
    /// Activation tile slots per block (`act_tiles::SLOTS_PER_LANE` or `SLOTS_32`).
    pub slots: usize,
    /// Unpacks raw blocks (`block_bytes` each) into `out`, vectorized for the tier.
    pub unpack: fn(K, &[u8], usize, &mut [B]),
    /// `out[r * width + t]` for 8 rows and one activation tile.
    pub tile: fn(&TileRows<'_, B>, &[u32], &mut [f32], K),
    /// Whether the float step is a fused multiply-add (x86, aarch64) or rounds
    /// each operation (wasm); `unpacked::dot_fast_with` computes either.
    pub fused_epilogue: bool,
}

/// A tiled kernel: K-quants against Q8_K tiles, or 32-value formats against Q8_0 tiles.
#[derive(Clone, Copy)]
pub enum TiledKernel {
    KQuant(TileFns<UnpackedBlock, UnpackKind>),
    Block32(TileFns<Unpacked32, Kind32>),
}

impl TiledKernel {
    /// Tokens per tile.
    pub fn width(&self) -> usize {
        match self {
            TiledKernel::KQuant(f) => f.width,
            TiledKernel::Block32(f) => f.width,
        }
    }

    /// Whether the float step is fused (see [`TileFns::fused_epilogue`]).
    pub fn fused_epilogue(&self) -> bool {
        match self {
            TiledKernel::KQuant(f) => f.fused_epilogue,
            TiledKernel::Block32(f) => f.fused_epilogue,
        }
    }

    /// `out[n_tok, n_out] = acts · Wᵀ` with the weights' raw rows in `data`
    /// (`row_bytes` each; with `interleaved`, groups of 8 rows interleaved,
    /// `interleaved.rs`, and unpacked by that function) and the activations
    /// as `tiles`.
    #[allow(clippy::too_many_arguments)]
    pub fn matmul(
        &self,
        data: &[u8],
        interleaved: Option<GroupUnpack>,
        n_out: usize,
        row_bytes: usize,
        tiles: &ActTiles,
        n_tok: usize,
        out: &mut [f32],
    ) {
        let rows = Rows { data, n_out, row_bytes };
        match self {
            TiledKernel::KQuant(f) => {
                let unpack = interleaved.map(|u| match u {
                    GroupUnpack::KQuant(unpack) => unpack,
                    GroupUnpack::Block32(_) => panic!("K-quant rows interleaved as 32-value blocks"),
                });
                matmul_tiled(f, &rows, unpack, tiles, n_tok, out)
            }
            TiledKernel::Block32(f) => {
                let unpack = interleaved.map(|u| match u {
                    GroupUnpack::Block32(unpack) => unpack,
                    GroupUnpack::KQuant(_) => panic!("32-value rows interleaved as K-quant blocks"),
                });
                matmul_tiled(f, &rows, unpack, tiles, n_tok, out)
            }
        }
    }
}

impl std::fmt::Debug for TiledKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TiledKernel::KQuant(t) => write!(f, "TiledKernel({:?} x{})", t.kind, t.width),
            TiledKernel::Block32(t) => write!(f, "TiledKernel({:?} x{})", t.kind, t.width),
        }
    }
}

/// The tiled kernel for weights of `ty` on `isa`, if that tier has one: the
/// one list of tiled tiers and formats.
pub fn tiled_kernel(ty: GgmlType, isa: Isa) -> Option<TiledKernel> {
    #[cfg(target_arch = "x86_64")]
    {
        use super::act_tiles::{SLOTS_32, SLOTS_PER_LANE};
        use super::{avx2_tiled as avx2, avx512vnni as vnni};
        // SAFETY (every closure): a tier is only chosen when `Isa::detect`
        // found its features on this CPU (avx512f/bw/vl/vnni, avxvnni; avx2 and fma).
        match (isa, UnpackKind::of(ty), Kind32::of(ty)) {
            (Isa::Avx512Vnni, Some(kind), _) => Some(TiledKernel::KQuant(TileFns {
                kind,
                width: vnni::WIDTH,
                slots: SLOTS_PER_LANE,
                unpack: |k, d, b, o| unsafe { vnni::unpack_rows(k, d, b, o) },
                tile: |r, t, o, _| unsafe { vnni::tile_8x16(r, t, o) },
                fused_epilogue: true,
            })),
            (Isa::Avx512Vnni, _, Some(kind)) if !kind.has_min() => Some(TiledKernel::Block32(TileFns {
                kind,
                width: vnni::WIDTH,
                slots: SLOTS_32,
                unpack: |k, d, b, o| unsafe { vnni::unpack_rows32(k, d, b, o) },
                tile: |r, t, o, k| unsafe { vnni::tile32_8x16(r, t, o, k.offset()) },
                fused_epilogue: true,
            })),
            (Isa::Avx2 | Isa::AvxVnni, Some(kind), _) => Some(TiledKernel::KQuant(TileFns {
                kind,
                width: avx2::WIDTH,
                slots: SLOTS_PER_LANE,
                unpack: |k, d, b, o| unsafe { avx2::unpack_rows(k, d, b, o) },
                tile: match isa {
                    Isa::Avx2 => |r, t, o, _| unsafe { avx2::tile_8x8(r, t, o) },
                    _ => |r, t, o, _| unsafe { avx2::tile_8x8_avxvnni(r, t, o) },
                },
                fused_epilogue: true,
            })),
            // The 8-token tiles of 32-value blocks; on the AVX-512 tier, the
            // formats with a min (Q4_1, Q5_1), which its 16-token tile lacks
            // (`prepare_tiles` builds whichever width the kernel has).
            (Isa::Avx2 | Isa::AvxVnni | Isa::Avx512Vnni, _, Some(kind)) => Some(TiledKernel::Block32(TileFns {
                kind,
                width: avx2::WIDTH,
                slots: SLOTS_32,
                unpack: |k, d, b, o| unsafe { avx2::unpack_rows32(k, d, b, o) },
                tile: match isa {
                    Isa::Avx2 => |r, t, o, k| unsafe { avx2::tile32_8x8(r, t, o, k) },
                    Isa::AvxVnni => |r, t, o, k| unsafe { avx2::tile32_8x8_avxvnni(r, t, o, k) },
                    _ => |r, t, o, k| unsafe { avx2::tile32_8x8_avx512vl(r, t, o, k) },
                },
                fused_epilogue: true,
            })),
            _ => None,
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    {
        use super::act_tiles::{SLOTS_32, SLOTS_PER_LANE};
        use super::simd128_relaxed_tiled as relaxed;
        // Safe functions: relaxed-simd is a compile-time feature of this build.
        match (isa, UnpackKind::of(ty), Kind32::of(ty)) {
            (Isa::Simd128Relaxed, Some(kind), _) => Some(TiledKernel::KQuant(TileFns {
                kind,
                width: relaxed::WIDTH,
                slots: SLOTS_PER_LANE,
                unpack: super::unpacked::unpack_all,
                tile: relaxed::tile_8x4,
                fused_epilogue: false,
            })),
            // Q8_0's quants plus 128 do not fit the 7-bit operand: per-row kernels.
            // Q4_1/Q5_1 (a min): per-row kernels for now.
            (Isa::Simd128Relaxed, _, Some(kind)) if kind != Kind32::Q8_0 && !kind.has_min() => {
                Some(TiledKernel::Block32(TileFns {
                    kind,
                    width: relaxed::WIDTH,
                    slots: SLOTS_32,
                    unpack: super::unpacked32::unpack_all32,
                    tile: relaxed::tile32_8x4,
                    fused_epilogue: false,
                }))
            }
            _ => None,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        use super::act_tiles::{SLOTS_32, SLOTS_PER_LANE};
        use super::neon_tiled as neon;
        // SAFETY (every closure): a tier is only chosen when `Isa::detect`
        // found its features on this CPU (dotprod; dotprod and i8mm).
        match (isa, UnpackKind::of(ty), Kind32::of(ty)) {
            (Isa::NeonDotprod, Some(kind), _) => Some(TiledKernel::KQuant(TileFns {
                kind,
                width: neon::WIDTH,
                slots: SLOTS_PER_LANE,
                unpack: super::unpacked::unpack_all,
                tile: |r, t, o, _| unsafe { neon::tile_8x4(r, t, o) },
                fused_epilogue: true,
            })),
            // Q4_1/Q5_1 (a min): per-row kernels for now.
            (Isa::NeonDotprod, _, Some(kind)) if !kind.has_min() => Some(TiledKernel::Block32(TileFns {
                kind,
                width: neon::WIDTH,
                slots: SLOTS_32,
                unpack: super::unpacked32::unpack_all32,
                tile: |r, t, o, k| unsafe { neon::tile32_8x4(r, t, o, k) },
                fused_epilogue: true,
            })),
            (Isa::NeonI8mm, Some(kind), _) => Some(TiledKernel::KQuant(TileFns {
                kind,
                width: neon::WIDTH,
                slots: SLOTS_PER_LANE,
                unpack: super::unpacked::unpack_all,
                tile: |r, t, o, _| unsafe { neon::tile_8x4_i8mm(r, t, o) },
                fused_epilogue: true,
            })),
            (Isa::NeonI8mm, _, Some(kind)) if !kind.has_min() => Some(TiledKernel::Block32(TileFns {
                kind,
                width: neon::WIDTH,
                slots: SLOTS_32,
                unpack: super::unpacked32::unpack_all32,
                tile: |r, t, o, k| unsafe { neon::tile32_8x4_i8mm(r, t, o, k) },
                fused_epilogue: true,
            })),
            _ => None,
        }
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        all(target_arch = "wasm32", target_feature = "relaxed-simd")
    )))]
    {
        let _ = (ty, isa); // no tiled tier on this target yet
        None
    }
}

/// Unpacks one interleaved group of 8 rows (`interleaved::GroupUnpack`).
type UnpackGroup<B> = fn(&[u8], usize, &mut [B]);

/// A matrix's stored rows.
struct Rows<'d> {
    data: &'d [u8],
    n_out: usize,
    row_bytes: usize,
}

/// `out[n_tok, n_out] = acts · Wᵀ` with the weights' raw rows in `rows`
/// (`n_blocks` blocks of `block_bytes` each), or interleaved groups of 8
/// rows that `group_unpack` unpacks.
fn matmul_tiled<B: bytemuck::Pod + Default + Sync, K: Copy + Sync>(
    tk: &TileFns<B, K>,
    rows: &Rows<'_>,
    group_unpack: Option<UnpackGroup<B>>,
    tiles: &ActTiles,
    n_tok: usize,
    out: &mut [f32],
) {
    let Rows { data, n_out, row_bytes } = *rows;
    assert_eq!(out.len(), n_tok * n_out);
    assert!(tiles.width == tk.width && tiles.slots == tk.slots && tiles.n_tiles * tk.width >= n_tok);
    let n_blocks = tiles.n_blocks;
    let block_bytes = row_bytes / n_blocks.max(1);
    let shared = SharedOut::new(out);
    let panel = |p: usize| {
        thread_local! {
            static PANEL: std::cell::RefCell<Vec<UnpackedBlock>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let first = p * PANEL_ROWS;
        let n_rows = PANEL_ROWS.min(n_out - first);
        // Interleaved groups unpack whole (the last one is padded in the copy).
        let n_unpacked = if group_unpack.is_some() { n_rows.next_multiple_of(GROUP_ROWS) } else { n_rows };
        PANEL.with_borrow_mut(|storage| {
            // [n_unpacked, n_blocks] unpacked blocks of type B, in a 64-byte aligned
            // buffer shared by both families (a thread_local cannot be generic).
            let bytes = n_unpacked * n_blocks * std::mem::size_of::<B>();
            storage.resize(bytes.div_ceil(std::mem::size_of::<UnpackedBlock>()), UnpackedBlock::default());
            let buf: &mut [B] = bytemuck::cast_slice_mut(&mut bytemuck::cast_slice_mut::<_, u8>(storage)[..bytes]);
            match group_unpack {
                Some(unpack) => {
                    let group_bytes = GROUP_ROWS * row_bytes;
                    for (g, rows) in buf.chunks_exact_mut(GROUP_ROWS * n_blocks).enumerate() {
                        unpack(&data[(first + g * GROUP_ROWS) * row_bytes..][..group_bytes], n_blocks, rows);
                    }
                }
                None => (tk.unpack)(tk.kind, &data[first * row_bytes..(first + n_rows) * row_bytes], block_bytes, buf),
            }
            let mut result = [0.0f32; TILE_ROWS * 16];
            let result = &mut result[..TILE_ROWS * tk.width];
            for tile in 0..tiles.n_tiles {
                let act = tiles.tile(tile);
                let t0 = tile * tk.width;
                let n_t = tk.width.min(n_tok - t0);
                for r0 in (0..n_rows).step_by(TILE_ROWS) {
                    let n_r = TILE_ROWS.min(n_rows - r0);
                    // Tail rows repeat the last real row; their results are dropped.
                    let rows: [&[B]; TILE_ROWS] = std::array::from_fn(|i| {
                        let r = r0 + i.min(n_r - 1);
                        &buf[r * n_blocks..(r + 1) * n_blocks]
                    });
                    (tk.tile)(&rows, act, result, tk.kind);
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
    crate::parallel::for_each_index(n_out.div_ceil(PANEL_ROWS), panel);
}
