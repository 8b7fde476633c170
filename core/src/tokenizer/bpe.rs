//! Byte-level BPE (`tokenizer.ggml.model = gpt2`): split the text with the
//! pre-tokenizer's patterns (`tokenizer.ggml.pre`), map each piece's bytes to
//! GPT-2's printable characters, then apply the merges in rank order (lowest
//! first, leftmost on ties). Same result as llama.cpp's `llm_tokenizer_bpe`,
//! which its test vectors check.

use std::collections::{BinaryHeap, HashMap};

use fancy_regex::{Regex, RegexBuilder};

use super::vocab::Vocab;
use crate::error::{Error, Result};

/// The pre-tokenizer: patterns applied one after another, each splitting the
/// pieces the previous ones left (text between matches stays a piece too).
pub struct PreTokenizer {
    patterns: Vec<Regex>,
    /// Llama 3 looks a whole piece up before merging (`ignore_merges`).
    ignore_merges: bool,
}

const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

impl PreTokenizer {
    /// The patterns llama.cpp uses for `tokenizer.ggml.pre`.
    pub fn for_pre(pre: &str) -> Result<PreTokenizer> {
        let (patterns, ignore_merges): (Vec<&str>, bool) = match pre {
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "pixtral" => (vec![LLAMA3], true),
            "qwen2" | "stablelm2" | "hunyuan" => (vec![QWEN2], false),
            "gpt-2" | "mpt" | "olmo" | "jais" | "trillion" => (vec![GPT2], false),
            "smollm" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva" => (vec![r"\p{N}", GPT2], false),
            "default" => (vec![r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"], false),
            other => {
                return Err(Error::WrongType {
                    key: "tokenizer.ggml.pre".to_string(),
                    expected: "a known pre-tokenizer (default, llama3/llama-bpe, qwen2, gpt-2, smollm, ...)",
                    found: format!("{other:?}"),
                })
            }
        };
        let patterns = patterns
            .into_iter()
            .map(|p| {
                // fancy-regex gives up after a million backtracking steps, which a
                // run of a million spaces reaches while matching `\s+(?!\S)` in
                // linear time. These fixed patterns have no nested quantifiers
                // (no catastrophic backtracking), so the limit only has to be
                // out of reach of any text that fits in memory.
                RegexBuilder::new(p).backtrack_limit(usize::MAX).build().map_err(|e| Error::BadOption {
                    option: "pre-tokenizer pattern",
                    value: format!("{p}: {e}"),
                    expected: "a valid pattern",
                })
            })
            .collect::<Result<_>>()?;
        Ok(PreTokenizer { patterns, ignore_merges })
    }

    /// Splits `text` into pieces (byte ranges).
    fn split<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let mut pieces = vec![text];
        for pattern in &self.patterns {
            let mut next = Vec::with_capacity(pieces.len());
            for piece in pieces {
                let mut last = 0;
                for m in pattern.find_iter(piece) {
                    // A matcher error (none is expected with the limit above) must
                    // neither loop (the iterator does not advance past it) nor drop
                    // text: the rest of the piece stays one piece.
                    let Ok(m) = m else { break };
                    if m.start() > last {
                        next.push(&piece[last..m.start()]);
                    }
                    if m.end() > m.start() {
                        next.push(m.as_str());
                    }
                    last = m.end();
                }
                if last < piece.len() {
                    next.push(&piece[last..]);
                }
            }
            pieces = next;
        }
        pieces
    }
}

/// GPT-2's byte → printable character table: printable Latin-1 bytes map to
/// themselves, the rest to U+0100 onwards in byte order.
fn byte_chars() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut extra = 0u32;
    for b in 0..=255u32 {
        let printable = (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        table[b as usize] = if printable {
            char::from_u32(b).unwrap_or('\0')
        } else {
            extra += 1;
            char::from_u32(255 + extra).unwrap_or('\0')
        };
    }
    table
}

/// A BPE tokenizer: the merges as ranks, and the pre-tokenizer.
pub struct Bpe {
    ranks: HashMap<(String, String), u32>,
    pre: PreTokenizer,
    byte_chars: [char; 256],
    /// The inverse of `byte_chars`.
    char_bytes: HashMap<char, u8>,
}

#[derive(PartialEq, Eq)]
struct Bigram {
    rank: u32,
    left: usize,
    right: usize,
    len: usize,
}

impl Ord for Bigram {
    /// Lowest rank first; on equal ranks the leftmost pair.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.rank.cmp(&self.rank).then(other.left.cmp(&self.left))
    }
}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Bpe {
    pub fn new(merges: &[&[u8]], pre: &str) -> Result<Bpe> {
        let mut ranks = HashMap::with_capacity(merges.len());
        for (rank, merge) in merges.iter().enumerate() {
            let merge = String::from_utf8_lossy(merge);
            // As llama.cpp: split at the first space after the first byte.
            let split = merge.as_bytes().iter().skip(1).position(|&b| b == b' ').map(|i| i + 1);
            let Some(at) = split else {
                return Err(Error::WrongType {
                    key: "tokenizer.ggml.merges".to_string(),
                    expected: "merges written as \"left right\"",
                    found: format!("{merge:?} at index {rank}"),
                });
            };
            ranks.insert((merge[..at].to_string(), merge[at + 1..].to_string()), rank as u32);
        }
        let byte_chars = byte_chars();
        let char_bytes = byte_chars.iter().enumerate().map(|(b, &c)| (c, b as u8)).collect();
        Ok(Bpe { ranks, pre: PreTokenizer::for_pre(pre)?, byte_chars, char_bytes })
    }

    /// A token's text mapped back from GPT-2 characters to the bytes they stand for.
    pub fn token_bytes(&self, text: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(text);
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            match self.char_bytes.get(&c) {
                Some(&b) => out.push(b),
                // Not a byte character (added tokens): keep its UTF-8.
                None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        out
    }

    pub fn encode(&self, vocab: &Vocab, text: &str, out: &mut Vec<u32>) {
        for piece in self.pre.split(text) {
            let word: String = piece.bytes().map(|b| self.byte_chars[b as usize]).collect();
            self.encode_word(vocab, &word, out);
        }
    }

    fn encode_word(&self, vocab: &Vocab, word: &str, out: &mut Vec<u32>) {
        if self.pre.ignore_merges {
            if let Some(id) = vocab.id(word.as_bytes()) {
                out.push(id);
                return;
            }
        }
        // Symbols: (start, len) over `word`, linked; len 0 once merged away.
        let mut sym: Vec<(usize, usize, Option<usize>, Option<usize>)> = Vec::new();
        for (i, (start, c)) in word.char_indices().enumerate() {
            sym.push((start, c.len_utf8(), i.checked_sub(1), None));
            if i > 0 {
                sym[i - 1].3 = Some(i);
            }
        }
        let mut queue = BinaryHeap::new();
        let add = |queue: &mut BinaryHeap<Bigram>,
                   sym: &[(usize, usize, Option<usize>, Option<usize>)],
                   l: Option<usize>,
                   r: Option<usize>| {
            let (Some(left), Some(right)) = (l, r) else { return };
            let (ls, rs) = (sym[left], sym[right]);
            let key = (word[ls.0..ls.0 + ls.1].to_string(), word[rs.0..rs.0 + rs.1].to_string());
            if let Some(&rank) = self.ranks.get(&key) {
                queue.push(Bigram { rank, left, right, len: ls.1 + rs.1 });
            }
        };
        for i in 1..sym.len() {
            add(&mut queue, &sym, Some(i - 1), Some(i));
        }
        while let Some(b) = queue.pop() {
            let (l, r) = (sym[b.left], sym[b.right]);
            if l.1 == 0 || r.1 == 0 || l.1 + r.1 != b.len {
                continue;
            }
            sym[b.left].1 += r.1;
            sym[b.right].1 = 0;
            sym[b.left].3 = r.3;
            if let Some(n) = r.3 {
                sym[n].2 = Some(b.left);
            }
            let merged = sym[b.left];
            add(&mut queue, &sym, merged.2, Some(b.left));
            add(&mut queue, &sym, Some(b.left), merged.3);
        }
        let mut index = if sym.is_empty() { None } else { Some(0) };
        while let Some(i) = index {
            let (start, len, _, next) = sym[i];
            let text = &word[start..start + len];
            match vocab.id(text.as_bytes()) {
                Some(id) => out.push(id),
                // Not a token: each byte alone, as llama.cpp does (rare: merges yield tokens).
                None => out.extend(text.bytes().filter_map(|b| vocab.id(&[b]))),
            }
            index = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Multi-megabyte runs of one character class end, losing no byte, on
    /// every pre-tokenizer: a regex error (fancy-regex's backtrack limit) must
    /// never loop or drop text, and the patterns stay near-linear on long runs.
    #[test]
    fn long_runs_split_completely_on_every_pre_tokenizer() {
        const RUN: usize = 3 << 19; // 1.5 MB: past the million steps that used to loop
        for pre in ["gpt-2", "llama3", "qwen2", "smollm", "default"] {
            let pt = PreTokenizer::for_pre(pre).unwrap();
            for unit in [" ", "\t", "\n", "7", "a", " \n"] {
                // The run, then a word: the lookahead (`\s+(?!\S)`) must give back one character.
                let text = format!("{}x", unit.repeat(RUN / unit.len()));
                let pieces = pt.split(&text);
                assert_eq!(pieces.concat(), text, "{pre} {unit:?}: pieces must cover the text");
                assert!(pieces.iter().all(|p| !p.is_empty()), "{pre} {unit:?}: no empty pieces");
            }
        }
    }
}
