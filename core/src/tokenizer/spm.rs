//! SentencePiece (`tokenizer.ggml.model = llama`) encoding: start from UTF-8
//! characters and repeatedly merge the adjacent pair whose merged text is the
//! highest-scoring token (leftmost on ties), then fall back to `<0xXX>` byte
//! tokens for what never became a token. Same result as llama.cpp's
//! `llm_tokenizer_spm`, which its test vectors check.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use super::vocab::Vocab;

/// A run of the text, linked to its neighbours; `len == 0` once merged away.
#[derive(Clone, Copy)]
struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

struct Bigram {
    left: usize,
    right: usize,
    score: f32,
    len: usize,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bigram {
    /// Highest score first; on equal scores the leftmost pair.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score.total_cmp(&other.score).then(other.left.cmp(&self.left))
    }
}

/// Byte length of the UTF-8 sequence a leading byte starts (1 for stray bytes).
fn utf8_len(lead: u8) -> usize {
    match lead >> 4 {
        0xF => 4,
        0xE => 3,
        0xC | 0xD => 2,
        _ => 1,
    }
}

struct Session<'v, 't> {
    vocab: &'v Vocab,
    text: &'t [u8],
    symbols: Vec<Symbol>,
    queue: BinaryHeap<Bigram>,
    rev_merge: HashMap<&'t [u8], (usize, usize)>,
}

impl<'t> Session<'_, 't> {
    fn slice(&self, start: usize, len: usize) -> &'t [u8] {
        &self.text[start..start + len]
    }

    fn try_add_bigram(&mut self, left: Option<usize>, right: Option<usize>) {
        let (Some(left), Some(right)) = (left, right) else { return };
        let (l, r) = (self.symbols[left], self.symbols[right]);
        let text = self.slice(l.start, l.len + r.len);
        let Some(id) = self.vocab.id(text) else { return };
        let score = self.vocab.scores[id as usize];
        self.queue.push(Bigram { left, right, score, len: text.len() });
        self.rev_merge.insert(text, (left, right));
    }

    fn resegment(&self, index: usize, out: &mut Vec<u32>) {
        let s = self.symbols[index];
        let text = self.slice(s.start, s.len);
        if let Some(id) = self.vocab.id(text) {
            out.push(id);
            return;
        }
        match self.rev_merge.get(text) {
            Some(&(left, right)) => {
                self.resegment(left, out);
                self.resegment(right, out);
            }
            None => out.extend(text.iter().filter_map(|&b| self.vocab.byte_token(b))),
        }
    }
}

/// Encodes already-escaped text (spaces as U+2581) into token ids.
pub fn encode(vocab: &Vocab, text: &[u8], out: &mut Vec<u32>) {
    if text.is_empty() {
        return;
    }
    let mut symbols = Vec::new();
    let mut offset = 0;
    while offset < text.len() {
        let len = utf8_len(text[offset]).min(text.len() - offset);
        let index = symbols.len();
        symbols.push(Symbol {
            start: offset,
            len,
            prev: index.checked_sub(1),
            next: (offset + len < text.len()).then_some(index + 1),
        });
        offset += len;
    }
    let mut session = Session { vocab, text, symbols, queue: BinaryHeap::new(), rev_merge: HashMap::new() };
    for i in 1..session.symbols.len() {
        session.try_add_bigram(Some(i - 1), Some(i));
    }
    while let Some(bigram) = session.queue.pop() {
        let (l, r) = (session.symbols[bigram.left], session.symbols[bigram.right]);
        if l.len == 0 || r.len == 0 || l.len + r.len != bigram.len {
            continue;
        }
        session.symbols[bigram.left].len += r.len;
        session.symbols[bigram.right].len = 0;
        session.symbols[bigram.left].next = r.next;
        if let Some(next) = r.next {
            session.symbols[next].prev = Some(bigram.left);
        }
        let merged = session.symbols[bigram.left];
        session.try_add_bigram(merged.prev, Some(bigram.left));
        session.try_add_bigram(Some(bigram.left), merged.next);
    }
    let mut index = Some(0);
    while let Some(i) = index {
        session.resegment(i, out);
        index = session.symbols[i].next;
    }
}
