//! Our tokenizers on the real models' own vocabularies against llama.cpp's
//! `llama-tokenize`, with and without special-token parsing
//! (tests/data/tokenizer_reference.json, made by
//! scripts/reference/tokenizer/make-reference): same ids for every prompt, and
//! the ids decode back to the prompt.

mod common;

use fuselm::gguf::GgufFile;
use fuselm::tokenizer::Tokenizer;
use serde_json::Value;

#[test]
fn real_model_vocabularies_tokenize_like_llama_cpp() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo_root().join("tests/data/tokenizer_reference.json")).unwrap(),
    )
    .unwrap();
    let prompts: Vec<&str> = reference["prompts"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    let mut checked = 0;
    for (path, _) in common::present_models() {
        let name = path.file_name().unwrap().to_str().unwrap();
        if reference["models"][name].is_null() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let gguf = GgufFile::parse_named(name, &bytes).unwrap();
        let tokenizer = Tokenizer::from_metadata(&gguf.metadata).unwrap();
        for (mode, parse_special) in [("no-parse-special", false), ("parse-special", true)] {
            let expected = reference["models"][name][mode].as_array().unwrap();
            for (prompt, ids) in prompts.iter().zip(expected) {
                let ids: Vec<u32> = ids.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
                assert_eq!(tokenizer.encode_with(prompt, false, parse_special), ids, "{name} {mode}: {prompt:?}");
                if !parse_special {
                    assert_eq!(&tokenizer.decode(&ids), prompt, "{name}: decoding {prompt:?}");
                }
            }
        }
        checked += 1;
    }
    eprintln!("checked {checked} real-model vocabularies");
}
