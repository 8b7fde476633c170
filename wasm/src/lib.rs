//! fuselm in the browser. For now: parse a GGUF file handed in as bytes and
//! return its summary, which proves the core builds and runs on wasm32.
//! The streaming loader, sessions and the npm package come with the web issue.

use fuselm_core::gguf::GgufFile;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
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

/// Parses a GGUF file and returns a JSON summary; a malformed file throws a JS
/// `Error` whose message names what is wrong.
#[wasm_bindgen(js_name = inspectGguf)]
pub fn inspect_gguf(name: &str, bytes: &[u8]) -> Result<String, JsError> {
    let gguf = GgufFile::parse_named(name, bytes).map_err(|e| JsError::new(&e.to_string()))?;
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
    serde_json::to_string(&summary).map_err(|e| JsError::new(&e.to_string()))
}
