//! Tokenizers built from GGUF metadata alone (no external files):
//! SentencePiece (`tokenizer.ggml.model = llama`) and byte-level BPE (`gpt2`,
//! with the pre-tokenizer `tokenizer.ggml.pre` names), both checked against
//! llama.cpp's test vectors; decoding that streams complete UTF-8 only.

mod bpe;
mod decode;
mod special;
mod spm;
mod vocab;

pub use decode::StreamDecoder;
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
    /// Control, user-defined and unknown tokens, split out of the text before
    /// the model runs (`special.rs`).
    special: special::SpecialTokens,
}

/// A piece of the input after special tokens are split out.
#[derive(Debug, PartialEq)]
enum Fragment<'t> {
    Text(&'t str),
    Token(u32),
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
        let special = special::SpecialTokens::new(&vocab)?;
        Ok(Tokenizer { vocab, model, special })
    }

    /// Encodes `text` without parsing special tokens (user-defined tokens are
    /// still split out, as in llama.cpp). With `add_special`, a BOS is prepended
    /// where the vocabulary asks for one.
    pub fn encode(&self, text: &str, add_special: bool) -> Vec<u32> {
        self.encode_with(text, add_special, false)
    }

    /// Encodes `text`; with `parse_special`, control tokens written in the text
    /// (`<start_of_turn>`, `<|im_start|>`, ...) become their ids.
    pub fn encode_with(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<u32> {
        let mut out = Vec::new();
        if add_special && self.vocab.add_bos {
            out.extend(self.vocab.bos);
        }
        if text.is_empty() {
            return out;
        }
        // SentencePiece adds its space prefix to text that starts the input or
        // follows a special token.
        let mut after_special = true;
        for fragment in self.special.partition(text, parse_special) {
            match fragment {
                Fragment::Token(id) => {
                    out.push(id);
                    after_special = true;
                }
                Fragment::Text(piece) => {
                    match &self.model {
                        Model::SentencePiece => {
                            let prefix = if self.vocab.add_space_prefix && after_special { " " } else { "" };
                            let escaped = format!("{prefix}{piece}").replace(' ', SPM_SPACE);
                            spm::encode(&self.vocab, escaped.as_bytes(), &mut out);
                        }
                        Model::Bpe(bpe) => bpe.encode(&self.vocab, piece, &mut out),
                    }
                    after_special = false;
                }
            }
        }
        out
    }

    /// The bytes token `id` stands for in generated text: SentencePiece spaces
    /// and `<0xXX>` byte tokens resolved, GPT-2 byte characters mapped back;
    /// control tokens (BOS, EOS, ...) stand for nothing. Unknown ids give nothing.
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        let Some(text) = self.vocab.tokens.get(id as usize) else { return Vec::new() };
        if self.vocab.control[id as usize] {
            return Vec::new();
        }
        match self.vocab.types[id as usize] {
            TokenType::Unused => return Vec::new(),
            TokenType::UserDefined => return text.clone(),
            _ => {}
        }
        match &self.model {
            Model::SentencePiece => {
                if self.vocab.types[id as usize] == TokenType::Byte {
                    if let Some(b) = parse_byte_token(text) {
                        return vec![b];
                    }
                }
                String::from_utf8_lossy(text).replace(SPM_SPACE, " ").into_bytes()
            }
            Model::Bpe(bpe) => bpe.token_bytes(text),
        }
    }

    /// Decodes a whole sequence; invalid UTF-8 becomes U+FFFD. SentencePiece's
    /// added leading space is removed, as llama.cpp does.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut out = String::new();
        let mut stream = StreamDecoder::new();
        for (i, &id) in ids.iter().enumerate() {
            let bytes = self.token_bytes(id);
            let strip = i == 0 && self.strips_leading_space() && bytes.first() == Some(&b' ');
            stream.push(&bytes[usize::from(strip)..], &mut out);
        }
        stream.finish(&mut out);
        out
    }

    /// Whether the first decoded token loses its leading space.
    pub fn strips_leading_space(&self) -> bool {
        matches!(self.model, Model::SentencePiece) && self.vocab.add_space_prefix
    }
}

/// `<0xAB>` → 0xAB.
fn parse_byte_token(text: &[u8]) -> Option<u8> {
    let hex = text.strip_prefix(b"<0x")?.strip_suffix(b">")?;
    u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}
