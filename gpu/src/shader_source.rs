//! WGSL sources, assembled from the shared pieces each kernel uses.

use crate::formats::GpuFormat;

pub const F16: &str = include_str!("shaders/f16.wgsl");
pub const WEIGHT_BYTES: &str = include_str!("shaders/weight_bytes.wgsl");
pub const ACT_BLOCKS: &str = include_str!("shaders/act_blocks.wgsl");
pub const SCALE_MIN_K4: &str = include_str!("shaders/scale_min_k4.wgsl");
pub const MATVEC: &str = include_str!("shaders/matvec.wgsl");
pub const QUANTIZE: &str = include_str!("shaders/quantize.wgsl");
pub const RMS_NORM: &str = include_str!("shaders/rms_norm.wgsl");
pub const ELEMENTWISE: &str = include_str!("shaders/elementwise.wgsl");
pub const ROPE: &str = include_str!("shaders/rope.wgsl");
pub const KV_STORE: &str = include_str!("shaders/kv_store.wgsl");
pub const ATTENTION: &str = include_str!("shaders/attention.wgsl");

/// A format's matrix-vector kernel.
pub fn matvec(format: &GpuFormat) -> String {
    [F16, WEIGHT_BYTES, ACT_BLOCKS, SCALE_MIN_K4, format.block_dot, MATVEC].concat()
}

/// The activation quantizers.
pub fn quantize() -> String {
    [F16, ACT_BLOCKS, QUANTIZE].concat()
}

/// RMSNorm from `src` (binding 3) into `dst`, or of `dst` in place.
pub fn rms_norm(in_place: bool) -> String {
    let load = if in_place {
        "fn load(i: u32) -> f32 {\n    return dst[i];\n}\n"
    } else {
        "@group(0) @binding(3) var<storage, read> src: array<f32>;\nfn load(i: u32) -> f32 {\n    return src[i];\n}\n"
    };
    [RMS_NORM, load].concat()
}

pub fn elementwise() -> String {
    [F16, ELEMENTWISE].concat()
}

pub fn kv_store() -> String {
    [F16, KV_STORE].concat()
}

pub fn attention() -> String {
    [F16, ATTENTION].concat()
}
