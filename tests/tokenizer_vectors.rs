//! Tokenizers (SentencePiece and byte-level BPE) against llama.cpp's test vectors (`models/vocab/ggml-vocab-*.gguf`
//! with `.inp`/`.out`, fetched by scripts/fetch-tokenizer-vectors): every input
//! must encode to exactly the ids llama.cpp's test-tokenizer-0 expects
//! (no BOS, no special-token parsing), and decoding those ids, whole or
//! streamed token by token, must give the input back.

mod common;

use std::path::PathBuf;

use fuselm::gguf::GgufFile;
use fuselm::tokenizer::{StreamDecoder, Tokenizer};

fn vocab_dir() -> PathBuf {
    common::repo_root().join("models/vocab")
}

/// llama.cpp's format: inputs separated by "\n__ggml_vocab_test__\n", one line of ids per input.
fn read_vectors(name: &str) -> Option<Vec<(String, Vec<u32>)>> {
    let base = vocab_dir().join(format!("ggml-vocab-{name}.gguf"));
    let inp = std::fs::read_to_string(base.with_extension("gguf.inp")).ok()?;
    let out = std::fs::read_to_string(base.with_extension("gguf.out")).ok()?;
    let sep = "\n__ggml_vocab_test__\n";
    let mut inputs = Vec::new();
    let mut rest = inp.as_str();
    while !rest.is_empty() {
        match rest.find(sep) {
            Some(i) => {
                inputs.push(rest[..i].to_string());
                rest = &rest[i + sep.len()..];
            }
            None => {
                inputs.push(rest.to_string());
                break;
            }
        }
    }
    let outputs: Vec<Vec<u32>> =
        out.lines().map(|l| l.split_whitespace().map(|t| t.parse().expect("token id")).collect()).collect();
    assert_eq!(inputs.len(), outputs.len(), "{name}: .inp and .out disagree on the number of tests");
    Some(inputs.into_iter().zip(outputs).collect())
}

fn check_vocab(name: &str) {
    let Some(vectors) = read_vectors(name) else {
        eprintln!("note: models/vocab/ggml-vocab-{name}.gguf absent (scripts/fetch-tokenizer-vectors); skipped");
        return;
    };
    let bytes = std::fs::read(vocab_dir().join(format!("ggml-vocab-{name}.gguf"))).unwrap();
    let gguf = GgufFile::parse_named(name, &bytes).unwrap();
    let tokenizer = Tokenizer::from_metadata(&gguf.metadata).unwrap();
    let mut failures = Vec::new();
    for (text, expected) in &vectors {
        let ours = tokenizer.encode(text, false);
        if &ours != expected {
            failures.push(format!("{text:?}: ours {ours:?}, llama.cpp {expected:?}"));
        }
        // Decoding gives the text back, whole or streamed token by token.
        let decoded = tokenizer.decode(expected);
        if &decoded != text {
            failures.push(format!("{text:?}: decodes to {decoded:?}"));
        }
        let mut streamed = String::new();
        let mut stream = StreamDecoder::new();
        for (i, &id) in expected.iter().enumerate() {
            let bytes = tokenizer.token_bytes(id);
            let strip = i == 0 && tokenizer.strips_leading_space() && bytes.first() == Some(&b' ');
            let before = streamed.len();
            stream.push(&bytes[usize::from(strip)..], &mut streamed);
            if streamed[before..].contains(char::REPLACEMENT_CHARACTER) && !text.contains(char::REPLACEMENT_CHARACTER) {
                failures.push(format!("{text:?}: streaming emitted U+FFFD mid-character"));
            }
        }
        stream.finish(&mut streamed);
        if &streamed != text {
            failures.push(format!("{text:?}: streams to {streamed:?}"));
        }
    }
    assert!(failures.is_empty(), "{name}: {} of {} differ:\n{}", failures.len(), vectors.len(), failures.join("\n"));
}

#[test]
fn llama_spm_matches_llama_cpp_test_vectors() {
    check_vocab("llama-spm");
}

#[test]
fn phi_3_matches_llama_cpp_test_vectors() {
    check_vocab("phi-3");
}

#[test]
fn llama_bpe_matches_llama_cpp_test_vectors() {
    check_vocab("llama-bpe");
}

#[test]
fn qwen2_matches_llama_cpp_test_vectors() {
    check_vocab("qwen2");
}

#[test]
fn gpt_2_matches_llama_cpp_test_vectors() {
    check_vocab("gpt-2");
}
