//! The vocabulary a GGUF file carries: token texts, scores, types and the
//! special ids, read from `tokenizer.ggml.*` metadata.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::gguf::Metadata;

/// `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    Undefined,
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl TokenType {
    fn from_i32(v: i32) -> TokenType {
        match v {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Undefined,
        }
    }
}

/// Texts llama.cpp treats as control tokens whatever type the file gives them
/// (end-of-turn/generation and fill-in-the-middle markers): they are not split
/// out of plain text unless special tokens are parsed.
const CONTROL_LOOKING: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
    "<|eom_id|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "</s>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "[e~[",
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
    // The FIM pad, repo and file-separator texts are control-looking too; they
    // are in END_OF_GENERATION, whose tokens are all marked control.
];

/// Texts that end generation (llama.cpp's `special_eog_ids`: end-of-turn
/// markers, plus the FIM pad, repo and file-separator tokens). Every one is
/// also treated as control, as llama.cpp overrides their type.
const END_OF_GENERATION: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
    "<|fim_pad|>",
    "<fim-pad>",
    "<fim_pad>",
    "<PAD>",
    "[PAD]",
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
    "<|file_sep|>",
    "<file_sep>",
];

#[derive(Clone, Debug)]
pub struct Vocab {
    /// `tokenizer.ggml.model`: `llama` (SentencePiece), `gpt2` (byte-level BPE), ...
    pub model: String,
    /// Token texts as stored (SentencePiece marks spaces with U+2581).
    pub tokens: Vec<Vec<u8>>,
    pub scores: Vec<f32>,
    pub types: Vec<TokenType>,
    /// Tokens that behave as control tokens (type Control, or a control-looking text).
    pub control: Vec<bool>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub add_bos: bool,
    pub add_space_prefix: bool,
    /// Tokens that end generation: EOS, EOT/EOM and FIM ids from the metadata,
    /// and the end-of-turn texts llama.cpp recognises. Sorted.
    pub end_of_generation: Vec<u32>,
    token_to_id: HashMap<Vec<u8>, u32>,
    /// The `<0xXX>` token of each byte (or unk), looked up once.
    byte_tokens: [Option<u32>; 256],
}

impl Vocab {
    /// A bare vocabulary of `tokens` with `types` (no BOS/EOS), for unit tests.
    #[cfg(test)]
    pub fn for_tests(tokens: Vec<Vec<u8>>, types: Vec<TokenType>) -> Vocab {
        let n = tokens.len();
        Vocab {
            model: "llama".into(),
            token_to_id: tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect(),
            control: types.iter().map(|&t| t == TokenType::Control).collect(),
            tokens,
            scores: vec![0.0; n],
            types,
            bos: None,
            eos: None,
            unk: None,
            add_bos: false,
            add_space_prefix: false,
            end_of_generation: Vec::new(),
            byte_tokens: [None; 256],
        }
    }

    /// Reads the vocabulary from GGUF metadata; errors name the key.
    pub fn from_metadata(md: &Metadata<'_>) -> Result<Vocab> {
        let model = md.get_str("tokenizer.ggml.model")?.to_string();
        let tokens: Vec<Vec<u8>> = md.get_bytes_array("tokenizer.ggml.tokens")?.iter().map(|t| t.to_vec()).collect();
        let n = tokens.len();
        let scores = if md.contains("tokenizer.ggml.scores") {
            md.get_f32_array("tokenizer.ggml.scores")?
        } else {
            vec![0.0; n]
        };
        let types: Vec<TokenType> = if md.contains("tokenizer.ggml.token_type") {
            md.get_i32_array("tokenizer.ggml.token_type")?.into_iter().map(TokenType::from_i32).collect()
        } else {
            vec![TokenType::Normal; n]
        };
        for (key, len) in [("tokenizer.ggml.scores", scores.len()), ("tokenizer.ggml.token_type", types.len())] {
            if len != n {
                return Err(Error::WrongType {
                    key: key.to_string(),
                    expected: "one entry per token",
                    found: format!("{len} entries for {n} tokens"),
                });
            }
        }
        let special = |key: &str| -> Result<Option<u32>> {
            if !md.contains(key) {
                return Ok(None);
            }
            let id = md.get_u32(key)?;
            if id as usize >= n {
                return Err(Error::ValueOutOfRange {
                    key: key.to_string(),
                    expected: "a token id below the vocabulary size",
                    value: id.to_string(),
                });
            }
            Ok(Some(id))
        };
        let flag = |key: &str, default: bool| -> Result<bool> {
            if md.contains(key) {
                md.get_bool(key)
            } else {
                Ok(default)
            }
        };
        let is_spm = model == "llama";
        // Later duplicates win, as in llama.cpp.
        let token_to_id: HashMap<Vec<u8>, u32> =
            tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let mut control: Vec<bool> = types.iter().map(|&t| t == TokenType::Control).collect();
        for text in CONTROL_LOOKING {
            if let Some(&id) = token_to_id.get(text.as_bytes()) {
                control[id as usize] = true;
            }
        }
        let unk = special("tokenizer.ggml.unknown_token_id")?;
        let eos = special("tokenizer.ggml.eos_token_id")?;
        let mut end_of_generation: Vec<u32> =
            END_OF_GENERATION.iter().filter_map(|text| token_to_id.get(text.as_bytes()).copied()).chain(eos).collect();
        for key in ["eot", "eom", "fim_pad", "fim_rep", "fim_sep"] {
            end_of_generation.extend(special(&format!("tokenizer.ggml.{key}_token_id"))?);
        }
        end_of_generation.sort_unstable();
        end_of_generation.dedup();
        for &id in &end_of_generation {
            control[id as usize] = true;
        }
        let byte_tokens = std::array::from_fn(|b| token_to_id.get(format!("<0x{b:02X}>").as_bytes()).copied().or(unk));
        Ok(Vocab {
            control,
            byte_tokens,
            bos: special("tokenizer.ggml.bos_token_id")?,
            eos,
            end_of_generation,
            unk,
            add_bos: flag("tokenizer.ggml.add_bos_token", is_spm)?,
            add_space_prefix: flag("tokenizer.ggml.add_space_prefix", is_spm)?,
            model,
            tokens,
            scores,
            types,
            token_to_id,
        })
    }

    /// Whether `id` ends generation.
    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.end_of_generation.binary_search(&id).is_ok()
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn id(&self, text: &[u8]) -> Option<u32> {
        self.token_to_id.get(text).copied()
    }

    /// The `<0xXX>` token of a byte (SentencePiece byte fallback), or unk.
    pub fn byte_token(&self, byte: u8) -> Option<u32> {
        self.byte_tokens[byte as usize]
    }
}
