//! fuselm: fused dequantize-dot inference for quantized LLMs in GGUF files.
//!
//! This crate is a facade: everything lives in [`fuselm_core`] (target-agnostic),
//! the `fuselm` binary in `fuselm-native`, and the browser API in `fuselm-wasm`.

pub use fuselm_core::*;
