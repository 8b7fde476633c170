//! Tokenizers built from GGUF metadata alone (no external files):
//! SentencePiece (`tokenizer.ggml.model = llama`) and byte-level BPE (`gpt2`,
//! with the pre-tokenizer `tokenizer.ggml.pre` names), both checked against
//! llama.cpp's test vectors. Special-token splitting and streaming decode come
//! with the rest of the decoder issue.

mod bpe;
mod spm;
mod vocab;

pub use vocab::{TokenType, Vocab};

use crate::error::{Error, Result};
use crate::gguf::Metadata;

/// SentencePiece's visible space, U+2581 "▁".
const SPM_SPACE: &str = "\u{2581}";

enum Model {
    SentencePiece,
    Bpe(Box<bpe::Bpe>),
}

pub struct Tokenizer {
    pub vocab: Vocab,
    model: Model,
}

impl Tokenizer {
    /// Builds the tokenizer the metadata describes; errors name the key.
    pub fn from_metadata(md: &Metadata<'_>) -> Result<Tokenizer> {
        let vocab = Vocab::from_metadata(md)?;
        let model = match vocab.model.as_str() {
            "llama" => Model::SentencePiece,
            "gpt2" => {
                let pre = if md.contains("tokenizer.ggml.pre") { md.get_str("tokenizer.ggml.pre")? } else { "default" };
                Model::Bpe(Box::new(bpe::Bpe::new(md.get_bytes_array("tokenizer.ggml.merges")?, pre)?))
            }
            other => {
                return Err(Error::WrongType {
                    key: "tokenizer.ggml.model".to_string(),
                    expected: "a supported tokenizer model (llama, gpt2)",
                    found: format!("{other:?}"),
                })
            }
        };
        Ok(Tokenizer { vocab, model })
    }

    /// Encodes `text` (no special-token parsing). With `add_special`, a BOS is
    /// prepended where the vocabulary asks for one.
    pub fn encode(&self, text: &str, add_special: bool) -> Vec<u32> {
        let mut out = Vec::new();
        if add_special && self.vocab.add_bos {
            out.extend(self.vocab.bos);
        }
        if text.is_empty() {
            return out;
        }
        match &self.model {
            Model::SentencePiece => {
                let prefixed = if self.vocab.add_space_prefix { format!(" {text}") } else { text.to_string() };
                spm::encode(&self.vocab, prefixed.replace(' ', SPM_SPACE).as_bytes(), &mut out);
            }
            Model::Bpe(bpe) => bpe.encode(&self.vocab, text, &mut out),
        }
        out
    }
}
