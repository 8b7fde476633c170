//! Quantized block formats with ggml's exact layouts. Each format file holds
//! its block struct, the reference dequantize and quantize (bit-exact with
//! llama.cpp's `quantize_row_*_ref`) and the scalar fused dot product against
//! its activation format (Q8_K for K-quants, Q8_0/Q8_1 for the others). The
//! SIMD kernels in `crate::kernels` are checked against these.

// Index loops mirror ggml's definitions element for element, which is what
// lets a reader check them line by line; iterator chains would hide that.
#![allow(clippy::needless_range_loop)]

pub mod finite;
pub mod float;
pub mod kquant_search;
pub mod q2_k;
pub mod q3_k;
pub mod q4_0;
pub mod q4_1;
pub mod q4_k;
pub mod q5_0;
pub mod q5_1;
pub mod q5_k;
pub mod q6_k;
pub mod q8_0;
pub mod q8_1;
pub mod q8_k;
pub mod scalar_math;

pub use q2_k::BlockQ2K;
pub use q3_k::BlockQ3K;
pub use q4_0::BlockQ4_0;
pub use q4_1::BlockQ4_1;
pub use q4_k::BlockQ4K;
pub use q5_0::BlockQ5_0;
pub use q5_1::BlockQ5_1;
pub use q5_k::BlockQ5K;
pub use q6_k::BlockQ6K;
pub use q8_0::BlockQ8_0;
pub use q8_1::BlockQ8_1;
pub use q8_k::BlockQ8K;

use crate::error::{Error, Result};
use crate::GgmlType;

/// Elements in a K-quant super-block.
pub const QK_K: usize = 256;

/// One block of a quantized format.
pub trait QuantBlock: bytemuck::Pod {
    const TYPE: GgmlType;

    /// Writes the block's values to `out[..block_len]`.
    fn dequantize(&self, out: &mut [f32]);

    /// llama.cpp's reference quantization of `x[..block_len]`.
    fn quantize(x: &[f32]) -> Self;
}

/// Views bytes as weight blocks, without copying. Weight blocks have alignment 1
/// (f16 fields are byte pairs), so any offset in a file works; trailing bytes
/// that do not make a whole block are left out.
pub fn as_blocks<B: QuantBlock>(bytes: &[u8]) -> &[B] {
    const { assert!(std::mem::align_of::<B>() == 1, "only alignment-1 blocks can be viewed in place") };
    let whole = bytes.len() - bytes.len() % std::mem::size_of::<B>();
    bytemuck::cast_slice(&bytes[..whole])
}

fn dequantize_blocks<B: QuantBlock>(bytes: &[u8], out: &mut [f32]) {
    let n = B::TYPE.block_len();
    // Copies each block out, so formats with wider alignment (Q8_K) work from any offset too.
    for (chunk, o) in bytes.chunks_exact(std::mem::size_of::<B>()).zip(out.chunks_exact_mut(n)) {
        bytemuck::pod_read_unaligned::<B>(chunk).dequantize(o);
    }
}

/// Quantizes whole blocks of `x` with the reference quantizer.
pub fn quantize_blocks<B: QuantBlock>(x: &[f32]) -> Vec<B> {
    x.chunks_exact(B::TYPE.block_len()).map(B::quantize).collect()
}

/// Byte offsets of the f16 scale fields within one block of `ty` (ggml layouts);
/// tests and benchmarks use them to put sane scales into random blocks.
pub fn f16_field_offsets(ty: GgmlType) -> &'static [usize] {
    use GgmlType::*;
    match ty {
        Q4_0 | Q5_0 | Q8_0 | F16 | BF16 => &[0],
        Q4_1 | Q5_1 | Q8_1 | Q4_K | Q5_K => &[0, 2],
        Q2_K => &[80, 82],
        Q3_K => &[108],
        Q6_K => &[208],
        _ => &[],
    }
}

/// The formats fuselm can dequantize (and so compute with).
pub fn is_supported(ty: GgmlType) -> bool {
    use GgmlType::*;
    matches!(ty, F32 | F16 | BF16 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q8_1 | Q2_K | Q3_K | Q4_K | Q5_K | Q6_K | Q8_K)
}

fn check_row(ty: GgmlType, n_values: usize, n_bytes: usize, operation: &'static str) -> Result<()> {
    if !is_supported(ty) {
        return Err(Error::UnsupportedType { ggml_type: ty, operation });
    }
    match ty.row_bytes(n_values as u64) {
        Some(expected) if expected == n_bytes as u64 => Ok(()),
        expected => Err(Error::RowSize { ggml_type: ty, n_values, n_bytes, expected }),
    }
}

/// Dequantizes a row of `out.len()` values of type `ty` from `bytes`.
pub fn dequantize_row(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<()> {
    check_row(ty, out.len(), bytes.len(), "dequantization")?;
    use GgmlType::*;
    match ty {
        F32 => float::dequantize_f32(bytes, out),
        F16 => float::dequantize_f16(bytes, out),
        BF16 => float::dequantize_bf16(bytes, out),
        Q4_0 => dequantize_blocks::<BlockQ4_0>(bytes, out),
        Q4_1 => dequantize_blocks::<BlockQ4_1>(bytes, out),
        Q5_0 => dequantize_blocks::<BlockQ5_0>(bytes, out),
        Q5_1 => dequantize_blocks::<BlockQ5_1>(bytes, out),
        Q8_0 => dequantize_blocks::<BlockQ8_0>(bytes, out),
        Q8_1 => dequantize_blocks::<BlockQ8_1>(bytes, out),
        Q2_K => dequantize_blocks::<BlockQ2K>(bytes, out),
        Q3_K => dequantize_blocks::<BlockQ3K>(bytes, out),
        Q4_K => dequantize_blocks::<BlockQ4K>(bytes, out),
        Q5_K => dequantize_blocks::<BlockQ5K>(bytes, out),
        Q6_K => dequantize_blocks::<BlockQ6K>(bytes, out),
        Q8_K => dequantize_blocks::<BlockQ8K>(bytes, out),
        _ => unreachable!("check_row accepts only supported types"),
    }
    Ok(())
}

/// Quantizes a row with the reference quantizer of `ty` (bit-exact with
/// llama.cpp's `quantize_row_*_ref`), appending the bytes to `out`.
pub fn quantize_row(ty: GgmlType, x: &[f32], out: &mut Vec<u8>) -> Result<()> {
    let expected = ty.row_bytes(x.len() as u64).unwrap_or(0) as usize;
    check_row(ty, x.len(), expected, "quantization")?;
    fn push<B: QuantBlock>(x: &[f32], out: &mut Vec<u8>) {
        out.extend_from_slice(bytemuck::cast_slice(&quantize_blocks::<B>(x)));
    }
    use GgmlType::*;
    match ty {
        F32 => float::quantize_f32(x, out),
        F16 => float::quantize_f16(x, out),
        BF16 => float::quantize_bf16(x, out),
        Q4_0 => push::<BlockQ4_0>(x, out),
        Q4_1 => push::<BlockQ4_1>(x, out),
        Q5_0 => push::<BlockQ5_0>(x, out),
        Q5_1 => push::<BlockQ5_1>(x, out),
        Q8_0 => push::<BlockQ8_0>(x, out),
        Q8_1 => push::<BlockQ8_1>(x, out),
        Q2_K => push::<BlockQ2K>(x, out),
        Q3_K => push::<BlockQ3K>(x, out),
        Q4_K => push::<BlockQ4K>(x, out),
        Q5_K => push::<BlockQ5K>(x, out),
        Q6_K => push::<BlockQ6K>(x, out),
        Q8_K => push::<BlockQ8K>(x, out),
        _ => unreachable!("check_row accepts only supported types"),
    }
    Ok(())
}
