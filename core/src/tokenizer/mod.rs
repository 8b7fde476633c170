//! Tokenizers built from GGUF metadata alone (no external files).
//!
//! So far: SentencePiece (`tokenizer.ggml.model = llama`), checked against
//! llama.cpp's test vectors. Byte-level BPE, special-token splitting and
//! streaming decode come with the rest of the decoder issue.

mod spm;
mod vocab;

pub use vocab::{TokenType, Vocab};

use crate::error::{Error, Result};

/// SentencePiece's visible space, U+2581 "▁".
const SPM_SPACE: &str = "\u{2581}";

/// Encodes `text` (no special-token parsing). With `add_special`, a BOS is
/// prepended where the vocabulary asks for one.
pub fn encode(vocab: &Vocab, text: &str, add_special: bool) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    match vocab.model.as_str() {
        "llama" => {
            if add_special && vocab.add_bos {
                out.extend(vocab.bos);
            }
            if text.is_empty() {
                return Ok(out);
            }
            let prefixed = if vocab.add_space_prefix { format!(" {text}") } else { text.to_string() };
            spm::encode(vocab, prefixed.replace(' ', SPM_SPACE).as_bytes(), &mut out);
        }
        other => {
            return Err(Error::WrongType {
                key: "tokenizer.ggml.model".to_string(),
                expected: "a supported tokenizer model (llama)",
                found: format!("{other:?}"),
            })
        }
    }
    Ok(out)
}
