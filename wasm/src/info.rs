//! The loaded model's info for JS: hyperparameters, metadata (long arrays
//! summarised), tensor formats, and the kernels the dispatch layer chose.

use std::collections::BTreeMap;

use fuselm_core::gguf::json::value_to_json;
use fuselm_core::gguf::MetaValue;
use serde_json::{json, Value as Json};

use crate::engine::Parsed;

/// Arrays (vocabularies, merges) longer than this show their length and first items.
const ARRAY_HEAD: usize = 8;

pub fn model_info(file_name: &str, file_bytes: usize, parsed: &Parsed<'_>) -> Result<String, String> {
    let Parsed { file, model } = parsed;
    let c = &model.config;
    let metadata: serde_json::Map<String, Json> = file
        .metadata
        .iter()
        .map(|(key, value)| {
            let json = match value {
                MetaValue::Array(a) if a.len() > ARRAY_HEAD => {
                    json!({"length": a.len(), "head": value_to_json(value, ARRAY_HEAD)})
                }
                _ => value_to_json(value, ARRAY_HEAD),
            };
            (key.to_string(), json)
        })
        .collect();
    let mut formats: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for t in &file.tensors {
        let entry = formats.entry(t.ggml_type.name().to_string()).or_default();
        entry.0 += 1;
        entry.1 += t.n_bytes;
    }
    let mut kernels: BTreeMap<String, usize> = BTreeMap::new();
    for m in model.weights.matrices() {
        *kernels.entry(format!("{} {}", m.ggml_type, m.kernel.name)).or_default() += 1;
    }
    let doc = json!({
        "file": file_name,
        "fileBytes": file_bytes,
        "name": model.name,
        "architecture": c.arch.name(),
        "build": crate::build_name(),
        "nParams": file.total_elements(),
        "tensorBytes": file.total_tensor_bytes(),
        "nLayer": c.n_layer,
        "nEmbd": c.n_embd,
        "nHead": c.n_head,
        "nHeadKv": c.n_head_kv,
        "nCtxTrain": c.n_ctx_train,
        "nVocab": model.n_vocab(),
        "hasChatTemplate": model.chat_template.is_some(),
        "formats": formats.iter().map(|(f, (n, bytes))| json!({"type": f, "tensors": n, "bytes": bytes})).collect::<Vec<_>>(),
        "kernels": kernels.iter().map(|(k, n)| json!({"kernel": k, "matrices": n})).collect::<Vec<_>>(),
        "metadata": metadata,
    });
    Ok(doc.to_string())
}
