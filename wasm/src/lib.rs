//! fuselm in the browser: the wasm-bindgen API behind the npm package `fuselm`.
//!
//! - [`Engine`]: a model streamed into wasm memory chunk by chunk, its
//!   info, step-wise completions (the worker yields between tokens so an abort
//!   message gets through), and llama-bench's pp/tg measurements.
//! - [`inspect_gguf`]: a file's summary without loading a model.
//!
//! Every error reaches JS as an `Error` with the engine's message. A panic is
//! a bug: the hook logs it, keeps its message for [`last_panic`] and the
//! worker reports it and starts a fresh engine.
//!
//! Builds (see `scripts/web/build`): `simd` (simd128, single thread),
//! `relaxed` (simd128 + relaxed SIMD), `threads` and `threads-relaxed` (the
//! same + atomics, rayon over Web Workers through wasm-bindgen-rayon, feature
//! `threads`), `scalar` (no simd128, for comparison).
//!
//! Modules import in one direction only: `engine` uses `info`, `options` and
//! `host`; `info` uses `host`; `host` and `options` use no other module.

mod args;
mod backend;
mod engine;
mod host;
mod info;
mod options;

#[cfg(feature = "webgpu")]
pub use backend::request_gpu;
pub use engine::Engine;
pub use host::{build_name, last_panic, start};
pub use info::inspect_gguf;
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;
