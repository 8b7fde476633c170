//! Splitting special tokens out of a prompt, as llama.cpp's
//! `tokenizer_st_partition`: tokens in priority order (longest text first,
//! then lowest id), each one claiming its leftmost non-overlapping
//! occurrences in the text the tokens before it left unclaimed.
//! User-defined tokens are always split out; control and unknown tokens only
//! when special tokens are parsed.
//!
//! Searching the text once per token was quadratic in practice (100k
//! user-defined tokens against a 1 MB prompt took tens of seconds). One
//! Aho-Corasick pass now finds every occurrence of every token (overlapping,
//! so no candidate is missed), and the priority rule is then applied to that
//! list: time linear in the text plus the occurrences.

use aho_corasick::{AhoCorasick, MatchKind};

use super::vocab::{TokenType, Vocab};
use super::Fragment;
use crate::error::{Error, Result};

pub struct SpecialTokens {
    /// Pattern i is token `ids[i]`; patterns are in priority order.
    ids: Vec<u32>,
    /// Byte length of each pattern.
    lens: Vec<usize>,
    /// Whether pattern i is split out only when special tokens are parsed.
    control: Vec<bool>,
    /// `None` when the vocabulary has no special tokens.
    matcher: Option<AhoCorasick>,
}

impl SpecialTokens {
    pub fn new(vocab: &Vocab) -> Result<SpecialTokens> {
        let mut ids: Vec<u32> = (0..vocab.len() as u32)
            .filter(|&id| {
                let i = id as usize;
                (vocab.control[i] || matches!(vocab.types[i], TokenType::UserDefined | TokenType::Unknown))
                    && !vocab.tokens[i].is_empty()
                    // A needle must be whole UTF-8 characters so that every match
                    // falls on character boundaries of the (UTF-8) text.
                    && std::str::from_utf8(&vocab.tokens[i]).is_ok()
            })
            .collect();
        // Stable: equal lengths keep id order.
        ids.sort_by_key(|&id| std::cmp::Reverse(vocab.tokens[id as usize].len()));
        let lens = ids.iter().map(|&id| vocab.tokens[id as usize].len()).collect();
        let control = ids
            .iter()
            .map(|&id| vocab.control[id as usize] || vocab.types[id as usize] == TokenType::Unknown)
            .collect();
        let matcher = if ids.is_empty() {
            None
        } else {
            let needles = ids.iter().map(|&id| &vocab.tokens[id as usize]);
            let ac = AhoCorasick::builder().match_kind(MatchKind::Standard).build(needles).map_err(|e| {
                Error::BadOption { option: "special tokens", value: e.to_string(), expected: "a searchable token set" }
            })?;
            Some(ac)
        };
        Ok(SpecialTokens { ids, lens, control, matcher })
    }

    /// `text` as text and special-token fragments, in order.
    pub(super) fn partition<'t>(&self, text: &'t str, parse_special: bool) -> Vec<Fragment<'t>> {
        let Some(matcher) = &self.matcher else { return vec![Fragment::Text(text)] };
        // Every occurrence of every eligible token, as (priority, start).
        let mut found: Vec<(u32, usize)> = matcher
            .find_overlapping_iter(text)
            .map(|m| (m.pattern().as_u32(), m.start()))
            .filter(|&(p, _)| parse_special || !self.control[p as usize])
            .collect();
        if found.is_empty() {
            return vec![Fragment::Text(text)];
        }
        found.sort_unstable();
        // Bytes claimed by a token of higher priority: [text.len()].
        let mut claimed = vec![false; text.len()];
        let mut tokens: Vec<(usize, u32)> = Vec::new(); // (start, pattern)
        let mut i = 0;
        while i < found.len() {
            let pattern = found[i].0;
            let len = self.lens[pattern as usize];
            // This token's occurrences left to right, none overlapping the last one taken.
            let mut free_from = 0;
            while i < found.len() && found[i].0 == pattern {
                let start = found[i].1;
                i += 1;
                if start < free_from || claimed[start..start + len].iter().any(|&c| c) {
                    continue;
                }
                claimed[start..start + len].fill(true);
                tokens.push((start, pattern));
                free_from = start + len;
            }
        }
        tokens.sort_unstable();
        let mut fragments = Vec::with_capacity(2 * tokens.len() + 1);
        let mut at = 0;
        for (start, pattern) in tokens {
            if start > at {
                fragments.push(Fragment::Text(&text[at..start]));
            }
            fragments.push(Fragment::Token(self.ids[pattern as usize]));
            at = start + self.lens[pattern as usize];
        }
        if at < text.len() {
            fragments.push(Fragment::Text(&text[at..]));
        }
        fragments
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, token by token over the fragments left (the algorithm
    /// this module replaced), for comparison.
    fn partition_reference<'t>(st: &SpecialTokens, vocab: &Vocab, text: &'t str, parse: bool) -> Vec<Fragment<'t>> {
        let mut fragments = vec![Fragment::Text(text)];
        for (p, &id) in st.ids.iter().enumerate() {
            if !parse && st.control[p] {
                continue;
            }
            let needle = std::str::from_utf8(&vocab.tokens[id as usize]).unwrap();
            if !fragments.iter().any(|f| matches!(f, Fragment::Text(t) if t.contains(needle))) {
                continue;
            }
            let mut next = Vec::new();
            for fragment in fragments {
                let Fragment::Text(mut rest) = fragment else {
                    next.push(fragment);
                    continue;
                };
                while let Some(at) = rest.find(needle) {
                    if at > 0 {
                        next.push(Fragment::Text(&rest[..at]));
                    }
                    next.push(Fragment::Token(id));
                    rest = &rest[at + needle.len()..];
                }
                if !rest.is_empty() {
                    next.push(Fragment::Text(rest));
                }
            }
            fragments = next;
        }
        fragments
    }

    fn vocab(tokens: &[&str], types: &[TokenType]) -> Vocab {
        Vocab::for_tests(tokens.iter().map(|t| t.as_bytes().to_vec()).collect(), types.to_vec())
    }

    proptest! {
        /// Same fragments as the definition on small alphabets, where tokens
        /// overlap, nest and repeat as often as possible.
        #[test]
        fn one_pass_equals_the_token_by_token_definition(
            specials in proptest::collection::vec(("[ab<>]{1,4}", any::<bool>()), 1..8),
            text in "[ab<>c]{0,40}",
            parse in any::<bool>(),
        ) {
            let mut tokens: Vec<&str> = vec!["c"];
            let mut types = vec![TokenType::Normal];
            for (t, control) in &specials {
                tokens.push(t);
                types.push(if *control { TokenType::Control } else { TokenType::UserDefined });
            }
            let v = vocab(&tokens, &types);
            let st = SpecialTokens::new(&v).unwrap();
            prop_assert_eq!(st.partition(&text, parse), partition_reference(&st, &v, &text, parse));
        }
    }

    /// 100k user-defined tokens and a 1 MB prompt: one pass, not one per token.
    #[test]
    fn many_special_tokens_and_a_long_prompt() {
        let tokens: Vec<String> = (0..100_000).map(|i| format!("<tok{i}>")).collect();
        let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let v = vocab(&refs, &vec![TokenType::UserDefined; refs.len()]);
        let st = SpecialTokens::new(&v).unwrap();
        let text = "plain words and <tok42> here ".repeat(1 << 15); // ~1 MB
        let fragments = st.partition(&text, false);
        let n_tokens = fragments.iter().filter(|f| matches!(f, Fragment::Token(42))).count();
        assert_eq!(n_tokens, 1 << 15);
    }
}
