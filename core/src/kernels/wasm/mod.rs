//! wasm32 kernels.
pub mod simd128;
