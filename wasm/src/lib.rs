//! fuselm in the browser: the wasm-bindgen API behind the npm package `fuselm`.
//!
//! - [`engine::Engine`]: a model streamed into wasm memory chunk by chunk, its
//!   info, step-wise completions (the worker yields between tokens so an abort
//!   message gets through), and llama-bench's pp/tg measurements.
//! - [`inspect_gguf`]: a file's summary without loading a model.
//!
//! Every error reaches JS as an `Error` with the engine's message. A panic is
//! a bug: the hook logs it, keeps its message for [`last_panic`] and the
//! worker reports it and starts a fresh engine.
//!
//! Builds (see `scripts/build-web`): `simd` (simd128, single thread, the
//! default), `threads` (simd128 + atomics, rayon over Web Workers through
//! wasm-bindgen-rayon, feature `threads`), `scalar` (no simd128, for comparison).

mod engine;
mod info;
mod options;

use std::sync::Mutex;

use fuselm_core::gguf::GgufFile;
use serde::Serialize;
use wasm_bindgen::prelude::*;

pub use engine::Engine;
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

#[wasm_bindgen]
extern "C" {
    /// `performance.now()` in milliseconds: present in windows, workers and Node.js.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

fn clock_seconds() -> f64 {
    performance_now() / 1e3
}

#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
        console_error_panic_hook::hook(info);
    }));
    fuselm_core::clock::set_clock(clock_seconds);
}

/// The message of the last panic (a bug in fuselm), if one happened; the
/// worker turns the trap that follows a panic into an error carrying it.
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|last| last.clone())
}

/// Which build this is: `threads`, `simd` or `scalar`.
#[wasm_bindgen(js_name = buildName)]
pub fn build_name() -> String {
    if cfg!(feature = "threads") {
        "threads"
    } else if cfg!(target_feature = "simd128") {
        "simd"
    } else {
        "scalar"
    }
    .to_string()
}

#[derive(Serialize)]
struct TensorSummary<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    ggml_type: &'static str,
    shape: &'a [u64],
    bytes: u64,
}

#[derive(Serialize)]
struct FileSummary<'a> {
    version: u32,
    alignment: u64,
    metadata_keys: usize,
    architecture: Option<&'a str>,
    tensors: Vec<TensorSummary<'a>>,
}

pub(crate) fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// Parses a GGUF file and returns a JSON summary; a malformed file throws a JS
/// `Error` whose message names what is wrong.
#[wasm_bindgen(js_name = inspectGguf)]
pub fn inspect_gguf(name: &str, bytes: &[u8]) -> Result<String, JsError> {
    let gguf = GgufFile::parse_named(name, bytes).map_err(js_error)?;
    let summary = FileSummary {
        version: gguf.version,
        alignment: gguf.alignment,
        metadata_keys: gguf.metadata.len(),
        architecture: gguf.metadata.get_str("general.architecture").ok(),
        tensors: gguf
            .tensors
            .iter()
            .map(|t| TensorSummary { name: t.name, ggml_type: t.ggml_type.name(), shape: &t.dims, bytes: t.n_bytes })
            .collect(),
    };
    serde_json::to_string(&summary).map_err(js_error)
}
