//! fuselm: fused dequantize-dot inference for quantized LLMs in GGUF files.
//!
//! This is the API's one public name: `fuselm::…` re-exports [`fuselm_core`]
//! (target-agnostic) with parallel matrix products on. The hosts depend on the
//! core directly to pick its features per build (see `docs/architecture.md`):
//! the `fuselm` binary in `fuselm-native`, the browser API in `fuselm-wasm`.

pub use fuselm_core::*;
