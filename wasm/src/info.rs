//! What JS learns about a GGUF file: the loaded model's info (hyperparameters,
//! metadata with long arrays summarised, tensor formats, and the kernels the
//! dispatch layer chose), and a file's summary without loading a model.

use std::collections::BTreeMap;

use fuselm_core::gguf::json::value_to_json;
use fuselm_core::gguf::{GgufFile, MetaValue};
use fuselm_core::model::Model;
use serde::Serialize;
use serde_json::Value as Json;
use wasm_bindgen::prelude::*;

use crate::backend::BackendInfo;
use crate::host::{build_name, core_error, internal_error, memory_bytes};

/// Arrays (vocabularies, merges) longer than this show their length and first items.
const ARRAY_HEAD: usize = 8;

/// `Engine.info()`. This struct and its parts declare their fields in
/// alphabetical order of the JSON keys: the order info has always written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelInfo<'a> {
    architecture: &'static str,
    /// `cpu` or `webgpu`, and the adapter or why the model stayed on the CPU.
    backend: &'a str,
    backend_detail: &'a str,
    build: String,
    file: &'a str,
    file_bytes: u64,
    formats: Vec<FormatInfo<'a>>,
    has_chat_template: bool,
    kernels: Vec<KernelInfo>,
    metadata: BTreeMap<&'a str, MetaEntry>,
    n_ctx_train: usize,
    n_embd: usize,
    n_head: usize,
    n_head_kv: usize,
    n_layer: usize,
    n_params: u64,
    n_vocab: usize,
    name: &'a str,
    tensor_bytes: u64,
    /// The instance's linear memory now: its peak so far, as it never shrinks.
    wasm_memory_bytes: u64,
}

/// The tensors stored in one format.
#[derive(Serialize)]
struct FormatInfo<'a> {
    bytes: u64,
    tensors: usize,
    #[serde(rename = "type")]
    ggml_type: &'a str,
}

/// The weight matrices bound to one kernel.
#[derive(Serialize)]
struct KernelInfo {
    kernel: String,
    matrices: usize,
}

/// A metadata value: as it is, or, for a long array, its length and first items.
#[derive(Serialize)]
#[serde(untagged)]
enum MetaEntry {
    Summarised { head: Json, length: usize },
    Value(Json),
}

/// The loaded model's info as JSON.
pub fn model_info<'a>(
    file_name: &'a str,
    file_bytes: u64,
    file: &GgufFile<'_>,
    model: &Model<'_>,
    backend: &'a BackendInfo,
) -> serde_json::Result<String> {
    let c = &model.config;
    let metadata = file
        .metadata
        .iter()
        .map(|(key, value)| {
            let entry = match value {
                MetaValue::Array(a) if a.len() > ARRAY_HEAD => {
                    MetaEntry::Summarised { head: value_to_json(value, ARRAY_HEAD), length: a.len() }
                }
                _ => MetaEntry::Value(value_to_json(value, ARRAY_HEAD)),
            };
            (key, entry)
        })
        .collect();
    let mut formats: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for t in &file.tensors {
        let entry = formats.entry(t.ggml_type.name()).or_default();
        entry.0 += 1;
        entry.1 += t.n_bytes;
    }
    let mut kernels: BTreeMap<String, usize> = BTreeMap::new();
    for m in model.weights.matrices() {
        *kernels.entry(format!("{} {}", m.ggml_type, m.kernel.name)).or_default() += 1;
    }
    let info = ModelInfo {
        architecture: c.arch.name(),
        backend: backend.name,
        backend_detail: &backend.detail,
        build: build_name(),
        file: file_name,
        file_bytes,
        formats: formats
            .into_iter()
            .map(|(ggml_type, (tensors, bytes))| FormatInfo { bytes, tensors, ggml_type })
            .collect(),
        has_chat_template: model.chat_template.is_some(),
        kernels: kernels.into_iter().map(|(kernel, matrices)| KernelInfo { kernel, matrices }).collect(),
        metadata,
        n_ctx_train: c.n_ctx_train,
        n_embd: c.n_embd,
        n_head: c.n_head,
        n_head_kv: c.n_head_kv,
        n_layer: c.n_layer,
        n_params: file.total_elements(),
        n_vocab: model.n_vocab(),
        name: &model.name,
        tensor_bytes: file.total_tensor_bytes(),
        wasm_memory_bytes: memory_bytes(),
    };
    serde_json::to_string(&info)
}

#[derive(Serialize)]
struct TensorSummary<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    ggml_type: &'static str,
    shape: &'a [u64],
    bytes: u64,
}

/// `inspectGguf()`; its keys are snake_case (`metadata_keys`), as they always were.
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
pub fn inspect_gguf(
    #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
) -> Result<String, JsValue> {
    let name = crate::args::text(&name, "inspectGguf: the file name")?;
    let bytes = crate::args::bytes(&bytes, "inspectGguf: the file bytes")?.to_vec();
    let gguf = GgufFile::parse_named(&name, &bytes).map_err(core_error)?;
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
    serde_json::to_string(&summary).map_err(internal_error)
}
