//! Activations quantized once per input row and shared by every output row
//! (and thread) of a matrix product. Buffers are reused across calls.

use crate::quant::{BlockQ8K, BlockQ8_0, BlockQ8_1, QuantBlock};

use super::{ActTiles, Isa};

/// The activation format a weight format's fused kernel multiplies against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActFormat {
    /// For K-quants.
    Q8K,
    /// For Q4_0, Q5_0, Q8_0.
    Q8_0,
    /// For Q4_1, Q5_1 (their min needs the block sum).
    Q8_1,
    /// For float weights and the unfused path.
    F32,
}

/// Quantized copies of one or more activation rows; `[n_rows, blocks per row]`.
#[derive(Default, Debug)]
pub struct Activations {
    pub n_rows: usize,
    pub row_len: usize,
    pub q8k: Vec<BlockQ8K>,
    pub q8_0: Vec<BlockQ8_0>,
    pub q8_1: Vec<BlockQ8_1>,
    pub f32: Vec<f32>,
    /// `q8k`, `q8_0` or `q8_1` transposed for the tiled kernels, when
    /// [`Activations::prepare_tiles`] built it for the current rows.
    tiles: ActTiles,
    tiles_ready: bool,
    /// The format of the last quantization (which rows the tiles come from).
    format: Option<ActFormat>,
}

impl Activations {
    /// Quantizes `x` (`[n_rows, row_len]`) to `format`, with `isa`'s quantizer,
    /// bit-identical on every ISA to llama.cpp's CPU activation quantizers:
    /// `quantize_row_q8_K_ref` for Q8_K, and for Q8_0/Q8_1 the x86 ggml-cpu
    /// variant ([`BlockQ8_0::quantize_activation`]).
    pub fn quantize(&mut self, x: &[f32], row_len: usize, format: ActFormat, isa: Isa) {
        self.row_len = row_len;
        self.n_rows = x.len().checked_div(row_len).unwrap_or(0);
        self.tiles_ready = false;
        self.format = Some(format);
        match format {
            ActFormat::F32 => {
                self.f32.clear();
                self.f32.extend_from_slice(x);
            }
            ActFormat::Q8K => quantize_into(x, &mut self.q8k, isa),
            ActFormat::Q8_0 => quantize_into(x, &mut self.q8_0, isa),
            ActFormat::Q8_1 => quantize_into(x, &mut self.q8_1, isa),
        }
    }

    /// Builds the tiles `width` tokens wide from the rows of the last
    /// quantization (Q8_K, Q8_0 or Q8_1; f32 rows have none), once per quantization.
    pub fn prepare_tiles(&mut self, width: usize) {
        if self.tiles_ready && self.tiles.width == width {
            return;
        }
        match self.format {
            Some(ActFormat::Q8K) => self.tiles.build(&self.q8k, self.n_rows, self.row_len / 256, width),
            Some(ActFormat::Q8_0) => self.tiles.build_q8_0(&self.q8_0, self.n_rows, self.row_len / 32, width),
            Some(ActFormat::Q8_1) => self.tiles.build_q8_1(&self.q8_1, self.n_rows, self.row_len / 32, width),
            _ => return,
        }
        self.tiles_ready = true;
    }

    /// The tiles, if built `width` wide for the current rows.
    pub fn tiles(&self, width: usize) -> Option<&ActTiles> {
        (self.tiles_ready && self.tiles.width == width).then_some(&self.tiles)
    }

    /// Row `r`'s blocks in format Q8_K.
    pub fn q8k_row(&self, r: usize) -> &[BlockQ8K] {
        let n = self.row_len / 256;
        &self.q8k[r * n..(r + 1) * n]
    }

    pub fn q8_0_row(&self, r: usize) -> &[BlockQ8_0] {
        let n = self.row_len / 32;
        &self.q8_0[r * n..(r + 1) * n]
    }

    pub fn q8_1_row(&self, r: usize) -> &[BlockQ8_1] {
        let n = self.row_len / 32;
        &self.q8_1[r * n..(r + 1) * n]
    }

    pub fn f32_row(&self, r: usize) -> &[f32] {
        &self.f32[r * self.row_len..(r + 1) * self.row_len]
    }
}

/// One activation format's quantizer, scalar or SIMD.
trait ActBlock: QuantBlock {
    fn quantize_simd(x: &[f32], out: &mut Self, isa: Isa);
}

impl ActBlock for BlockQ8K {
    fn quantize_simd(x: &[f32], out: &mut Self, isa: Isa) {
        match isa.quantizer_isa() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: Isa::Avx2 is only produced after detecting avx2, fma and f16c.
            Isa::Avx2 => unsafe { super::avx2::quantize_q8_k(x, out) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: the NEON ISAs are only produced after detecting neon.
            Isa::Neon | Isa::NeonDotprod => unsafe { super::neon::quantize_q8_k(x, out) },
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 | Isa::Simd128Relaxed => super::simd128::quantize_q8_k(x, out),
            _ => *out = BlockQ8K::quantize(x),
        }
    }
}

impl ActBlock for BlockQ8_0 {
    fn quantize_simd(x: &[f32], out: &mut Self, isa: Isa) {
        match isa.quantizer_isa() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Isa::Avx2 => unsafe { super::avx2::quantize_q8_0(x, out) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: the NEON ISAs are only produced after detecting neon.
            Isa::Neon | Isa::NeonDotprod => unsafe { super::neon::quantize_q8_0(x, out) },
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 | Isa::Simd128Relaxed => super::simd128::quantize_q8_0(x, out),
            _ => *out = BlockQ8_0::quantize_activation(x),
        }
    }
}

impl ActBlock for BlockQ8_1 {
    fn quantize_simd(x: &[f32], out: &mut Self, isa: Isa) {
        match isa.quantizer_isa() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Isa::Avx2 => unsafe { super::avx2::quantize_q8_1(x, out) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: the NEON ISAs are only produced after detecting neon.
            Isa::Neon | Isa::NeonDotprod => unsafe { super::neon::quantize_q8_1(x, out) },
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 | Isa::Simd128Relaxed => super::simd128::quantize_q8_1(x, out),
            _ => *out = BlockQ8_1::quantize_activation(x),
        }
    }
}

/// Blocks per parallel task: a prompt's activations are quantized on every
/// thread, one token's (a few blocks) on the calling thread.
const BLOCKS_PER_TASK: usize = 64;

fn quantize_into<B: ActBlock + Send>(x: &[f32], out: &mut Vec<B>, isa: Isa) {
    let block_len = B::TYPE.block_len();
    let n_blocks = x.len() / block_len;
    out.resize(n_blocks, B::zeroed());
    crate::parallel::for_each_chunk(out, BLOCKS_PER_TASK, |i, blocks| {
        let xs = &x[i * BLOCKS_PER_TASK * block_len..];
        for (block, xs) in blocks.iter_mut().zip(xs.chunks_exact(block_len)) {
            B::quantize_simd(xs, block, isa);
        }
    });
}
