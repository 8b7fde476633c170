//! Vocabulary loading from GGUF metadata: defaults, and errors that name the key.

use fuselm_core::gguf::{GgufFile, GgufWriter, Value};
use fuselm_core::tokenizer::{Tokenizer, Vocab};
use fuselm_core::Error;

fn vocab_file(edit: impl FnOnce(&mut GgufWriter)) -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add("tokenizer.ggml.model", "llama").unwrap();
    w.add("tokenizer.ggml.tokens", Value::strings(["<unk>", "<s>", "</s>", "\u{2581}a", "\u{2581}", "a", "<0x62>"]))
        .unwrap();
    edit(&mut w);
    w.to_bytes()
}

fn load(bytes: &[u8]) -> Result<Vocab, Error> {
    Vocab::from_metadata(&GgufFile::parse(bytes).unwrap().metadata)
}

#[test]
fn defaults_follow_llama_cpp_for_sentencepiece() {
    let bytes = vocab_file(|w| {
        w.add("tokenizer.ggml.scores", Value::f32s([0.0, 0.0, 0.0, -1.0, -2.0, -3.0, 0.0])).unwrap();
        w.add("tokenizer.ggml.bos_token_id", 1u32).unwrap();
    });
    let vocab = load(&bytes).unwrap();
    assert!(vocab.add_bos && vocab.add_space_prefix);
    let tokenizer = Tokenizer::from_metadata(&GgufFile::parse(&bytes).unwrap().metadata).unwrap();
    assert_eq!(tokenizer.encode("a", true), vec![1, 3]);
    // "b" is not a token: byte fallback to <0x62>.
    assert_eq!(tokenizer.encode("ab", false), vec![3, 6]);
    assert_eq!(tokenizer.encode("", true), vec![1]);
}

#[test]
fn inconsistent_metadata_is_an_error_naming_the_key() {
    let short_scores = vocab_file(|w| {
        w.add("tokenizer.ggml.scores", Value::f32s([0.0, 1.0])).unwrap();
    });
    assert!(
        matches!(load(&short_scores).unwrap_err(), Error::WrongType { ref key, .. } if key == "tokenizer.ggml.scores")
    );
    let bad_bos = vocab_file(|w| {
        w.add("tokenizer.ggml.bos_token_id", 99u32).unwrap();
    });
    assert!(
        matches!(load(&bad_bos).unwrap_err(), Error::ValueOutOfRange { ref key, .. } if key == "tokenizer.ggml.bos_token_id")
    );
    let no_tokens = GgufWriter::new().to_bytes();
    assert!(matches!(load(&no_tokens).unwrap_err(), Error::MissingKey { ref key } if key == "tokenizer.ggml.model"));
    let bpe = {
        let mut w = GgufWriter::new();
        w.add("tokenizer.ggml.model", "gpt2").unwrap();
        w.add("tokenizer.ggml.tokens", Value::strings(["a"])).unwrap();
        w.to_bytes()
    };
    // A BPE vocabulary without merges: the error names the missing key.
    let err = Tokenizer::from_metadata(&GgufFile::parse(&bpe).unwrap().metadata).err().unwrap();
    assert!(matches!(err, Error::MissingKey { ref key } if key == "tokenizer.ggml.merges"), "{err}");
    let unknown = {
        let mut w = GgufWriter::new();
        w.add("tokenizer.ggml.model", "t5").unwrap();
        w.add("tokenizer.ggml.tokens", Value::strings(["a"])).unwrap();
        w.to_bytes()
    };
    let err = Tokenizer::from_metadata(&GgufFile::parse(&unknown).unwrap().metadata).err().unwrap();
    assert!(err.to_string().contains("tokenizer.ggml.model"), "{err}");
}

#[test]
fn bpe_metadata_errors_name_the_key() {
    let bpe = |pre: &str, merge: &str| {
        let mut w = GgufWriter::new();
        w.add("tokenizer.ggml.model", "gpt2").unwrap();
        w.add("tokenizer.ggml.pre", pre).unwrap();
        w.add("tokenizer.ggml.tokens", Value::strings(["a", "b", "ab"])).unwrap();
        w.add("tokenizer.ggml.merges", Value::strings([merge])).unwrap();
        w.to_bytes()
    };
    let build = |bytes: &[u8]| Tokenizer::from_metadata(&GgufFile::parse(bytes).unwrap().metadata);
    assert_eq!(build(&bpe("gpt-2", "a b")).unwrap().encode("ab", false), vec![2]);
    let err = build(&bpe("no-such-pre", "a b")).err().unwrap();
    assert!(matches!(err, Error::WrongType { ref key, .. } if key == "tokenizer.ggml.pre"), "{err}");
    let err = build(&bpe("gpt-2", "ab")).err().unwrap();
    assert!(matches!(err, Error::WrongType { ref key, .. } if key == "tokenizer.ggml.merges"), "{err}");
}
