//! WGSL sources, assembled from the shared pieces each kernel uses.

use crate::formats::GpuFormat;

pub const F16: &str = include_str!("shaders/f16.wgsl");
pub const WEIGHT_BYTES: &str = include_str!("shaders/weight_bytes.wgsl");
pub const ACT_BLOCKS: &str = include_str!("shaders/act_blocks.wgsl");
pub const SCALE_MIN_K4: &str = include_str!("shaders/scale_min_k4.wgsl");
pub const MATVEC: &str = include_str!("shaders/matvec.wgsl");
pub const QUANTIZE: &str = include_str!("shaders/quantize.wgsl");

/// A format's matrix-vector kernel.
pub fn matvec(format: &GpuFormat) -> String {
    [F16, WEIGHT_BYTES, ACT_BLOCKS, SCALE_MIN_K4, format.block_dot, MATVEC].concat()
}

/// The activation quantizers.
pub fn quantize() -> String {
    [F16, ACT_BLOCKS, QUANTIZE].concat()
}
