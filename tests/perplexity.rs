//! Perplexity on a fixed text within 1% of llama.cpp's `llama-perplexity` on
//! the same file and context (tests/data/perplexity_reference.json, from
//! scripts/reference/perplexity/make-reference). Runs on the real models present.

mod common;

use fuselm::gguf::GgufFile;
use fuselm::model::{LoadOptions, Model};
use fuselm::perplexity::perplexity;

#[test]
fn perplexity_matches_llama_perplexity_within_one_percent() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo_root().join("tests/data/perplexity_reference.json")).unwrap(),
    )
    .unwrap();
    let text = std::fs::read_to_string(common::repo_root().join(reference["text"].as_str().unwrap())).unwrap();
    let n_ctx = reference["ctx_size"].as_u64().unwrap() as usize;
    let chunks = reference["chunks"].as_u64().unwrap() as usize;
    for (path, _) in common::present_models() {
        let name = path.file_name().unwrap().to_str().unwrap();
        let Some(want) = reference["models"][name].as_f64() else { continue };
        let bytes = std::fs::read(&path).unwrap();
        let file = GgufFile::parse(&bytes).unwrap();
        let model = Model::load(&file, LoadOptions::default()).unwrap();
        let tokens = model.tokenizer.encode(&text, true);
        let got = perplexity(&model, &tokens, n_ctx, Some(chunks), |_, _, _| {}).unwrap();
        assert_eq!(got.chunks, chunks);
        let rel = (got.value() - want).abs() / want;
        eprintln!("{name}: fuselm {:.4}, llama-perplexity {want:.4} ({:.3}%)", got.value(), rel * 100.0);
        assert!(rel < 0.01, "{name}: perplexity {} vs llama.cpp {want}", got.value());
    }
}
