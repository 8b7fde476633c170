//! fuselm-core: the target-agnostic engine. It compiles for x86_64, aarch64 and
//! wasm32-unknown-unknown and touches no file system, thread or clock: callers
//! hand it bytes (a memory map natively, a buffer in the browser).

pub mod bench;
pub mod chat;
pub mod clock;
pub mod error;
pub mod generation;
pub mod generator;
pub mod ggml_type;
pub mod gguf;
pub mod kernels;
pub mod memory_advice;
pub mod model;
pub mod parallel;
pub mod perplexity;
pub mod quant;
pub mod sampler;
pub mod session;
mod stop_filter;
pub mod synth;
pub mod tokenizer;
pub mod warm_pool;

pub use error::{Error, Result};
pub use ggml_type::GgmlType;
