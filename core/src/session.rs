//! A generation session: a model, one context, the tokens in it, and the loop
//! that prefills a prompt, samples, streams text, stops and times it.
//!
//! Timings need a clock, which the core does not have: hosts install one with
//! [`crate::kernels::stats::set_clock`] (without it, times read zero).

use std::ops::ControlFlow;

use crate::chat::{ChatMessage, ChatTemplate};
use crate::error::{Error, Result};
use crate::kernels::stats;
use crate::model::{Context, ContextOptions, Model};
use crate::sampler::{Sampler, SamplerConfig};
use crate::tokenizer::StreamDecoder;

#[derive(Clone, Debug, PartialEq)]
pub struct GenerateOptions {
    /// Most tokens to generate.
    pub max_tokens: usize,
    pub sampler: SamplerConfig,
    /// Generation stops when the text contains one of these (not included in the output).
    pub stop: Vec<String>,
    /// Keep going past end-of-generation tokens (they are never sampled).
    pub ignore_eos: bool,
    /// When the context fills: drop the oldest half of the tokens after the
    /// first `keep` and continue, instead of the default error.
    pub context_shift: bool,
    /// Tokens at the start that a context shift keeps (the BOS token is always kept).
    pub keep: usize,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_tokens: 128,
            sampler: SamplerConfig::default(),
            stop: Vec::new(),
            ignore_eos: false,
            context_shift: false,
            keep: 0,
        }
    }
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    MaxTokens,
    EndOfGeneration,
    StopString,
    Cancelled,
}

/// Prompt and generation timings (seconds from the host's clock).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timings {
    pub prompt_tokens: usize,
    pub prompt_seconds: f64,
    pub generated_tokens: usize,
    /// Time in decoding steps (each evaluates one token and samples the next).
    pub decode_seconds: f64,
    /// From the start of prefill to the first generated token.
    pub first_token_seconds: f64,
    pub sample_seconds: f64,
}

fn per_token_ms(seconds: f64, tokens: usize) -> f64 {
    if tokens == 0 {
        0.0
    } else {
        seconds * 1e3 / tokens as f64
    }
}

fn per_second(seconds: f64, tokens: usize) -> f64 {
    if seconds <= 0.0 {
        0.0
    } else {
        tokens as f64 / seconds
    }
}

impl Timings {
    pub fn prompt_ms_per_token(&self) -> f64 {
        per_token_ms(self.prompt_seconds, self.prompt_tokens)
    }
    pub fn prompt_tokens_per_second(&self) -> f64 {
        per_second(self.prompt_seconds, self.prompt_tokens)
    }
    /// Decode steps are one fewer than generated tokens (the first comes from prefill).
    pub fn decode_ms_per_token(&self) -> f64 {
        per_token_ms(self.decode_seconds, self.generated_tokens.saturating_sub(1))
    }
    pub fn decode_tokens_per_second(&self) -> f64 {
        per_second(self.decode_seconds, self.generated_tokens.saturating_sub(1))
    }
}

impl Timings {
    /// llama.cpp's timing lines (`load time`, `prompt eval time`, `eval time`,
    /// `total time`), one per line.
    pub fn report(&self, load_seconds: f64) -> String {
        let decode_steps = self.generated_tokens.saturating_sub(1);
        [
            format!("load time        = {:10.2} ms", load_seconds * 1e3),
            format!(
                "prompt eval time = {:10.2} ms / {:5} tokens ({:8.2} ms per token, {:8.2} tokens per second)",
                self.prompt_seconds * 1e3,
                self.prompt_tokens,
                self.prompt_ms_per_token(),
                self.prompt_tokens_per_second()
            ),
            format!(
                "eval time        = {:10.2} ms / {:5} runs   ({:8.2} ms per token, {:8.2} tokens per second)",
                self.decode_seconds * 1e3,
                decode_steps,
                self.decode_ms_per_token(),
                self.decode_tokens_per_second()
            ),
            format!(
                "total time       = {:10.2} ms / {:5} tokens",
                (load_seconds + self.prompt_seconds + self.decode_seconds) * 1e3,
                self.prompt_tokens + self.generated_tokens
            ),
        ]
        .join("\n")
    }
}

/// What the streaming callback sees for each generated token.
#[derive(Debug)]
pub struct TokenEvent<'s> {
    pub index: usize,
    pub id: u32,
    /// Text this token completed (may be empty while a UTF-8 character or a
    /// possible stop string is held back).
    pub text: &'s str,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Generation {
    pub tokens: Vec<u32>,
    pub text: String,
    pub stop_reason: StopReason,
    pub timings: Timings,
}

pub struct Session<'m, 'a> {
    pub model: &'m Model<'a>,
    pub context: Context,
    /// Tokens whose keys and values are in the cache, in order.
    pub history: Vec<u32>,
}

impl<'m, 'a> Session<'m, 'a> {
    pub fn new(model: &'m Model<'a>, options: &ContextOptions) -> Result<Session<'m, 'a>> {
        Ok(Session { model, context: model.new_context(options)?, history: Vec::new() })
    }

    /// Forgets the conversation (the cache is kept allocated).
    pub fn reset(&mut self) {
        self.context.clear();
        self.history.clear();
    }

    /// Tokenizes a prompt: BOS where the vocabulary wants one (unless the text
    /// already starts with it), special-token texts parsed.
    pub fn tokenize_prompt(&self, text: &str) -> Vec<u32> {
        let tok = &self.model.tokenizer;
        let starts_with_bos = tok
            .vocab
            .bos
            .and_then(|b| std::str::from_utf8(&tok.vocab.tokens[b as usize]).ok())
            .is_some_and(|bos| !bos.is_empty() && text.starts_with(bos));
        tok.encode_with(text, self.history.is_empty() && !starts_with_bos, true)
    }

    /// The model's chat template applied to `messages`, ending with the
    /// assistant's turn. Files without a template get their family's format
    /// (or ChatML), as in llama.cpp.
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String> {
        let source = match self.model.chat_template.as_deref() {
            Some(source) => source,
            None => crate::chat::fallback_template(self.model.config.arch.name()),
        };
        let vocab = &self.model.tokenizer.vocab;
        let text_of = |id: Option<u32>| id.map(|i| String::from_utf8_lossy(&vocab.tokens[i as usize]).into_owned());
        let template = ChatTemplate::new(
            source,
            &text_of(vocab.bos).unwrap_or_default(),
            &text_of(vocab.eos).unwrap_or_default(),
        )?;
        template.render(messages, true)
    }

    /// Evaluates `tokens` after what is in the context, shifting the context
    /// first when it would overflow and `shift_keep` is given.
    pub fn feed(&mut self, tokens: &[u32], shift_keep: Option<usize>) -> Result<()> {
        let n_ctx = self.context.n_ctx();
        if tokens.len() > n_ctx {
            return Err(Error::ContextFull { n_ctx, used: self.history.len(), requested: tokens.len() });
        }
        if self.history.len() + tokens.len() > n_ctx {
            let Some(keep) = shift_keep else {
                return Err(Error::ContextFull { n_ctx, used: self.history.len(), requested: tokens.len() });
            };
            self.shift(keep, tokens.len())?;
        }
        self.model.forward(&mut self.context, tokens)?;
        self.history.extend_from_slice(tokens);
        Ok(())
    }

    /// Drops the oldest half of the tokens after the first `keep` (at least
    /// enough to fit `incoming` more) and re-evaluates the rest: recomputing
    /// is exact for every architecture (sliding windows, rotated keys) and
    /// happens once per half context.
    fn shift(&mut self, keep: usize, incoming: usize) -> Result<()> {
        let n_ctx = self.context.n_ctx();
        let bos = usize::from(self.history.first().is_some_and(|&t| Some(t) == self.model.tokenizer.vocab.bos));
        let keep = keep.max(bos).min(self.history.len());
        let movable = self.history.len() - keep;
        let needed = (self.history.len() + incoming).saturating_sub(n_ctx);
        let discard = (movable / 2).max(needed).min(movable);
        if keep + incoming > n_ctx || discard == 0 {
            return Err(Error::ContextFull { n_ctx, used: self.history.len(), requested: incoming });
        }
        let kept: Vec<u32> = self.history[..keep].iter().chain(&self.history[keep + discard..]).copied().collect();
        self.reset();
        if !kept.is_empty() {
            self.model.forward(&mut self.context, &kept)?;
        }
        self.history = kept;
        Ok(())
    }

    /// Generates from `prompt` (appended to what the session already holds),
    /// calling `on_token` for each token; returning `Break` cancels.
    pub fn generate(
        &mut self,
        prompt: &str,
        options: &GenerateOptions,
        on_token: impl FnMut(&TokenEvent<'_>) -> ControlFlow<()>,
    ) -> Result<Generation> {
        let tokens = self.tokenize_prompt(prompt);
        self.generate_from_tokens(&tokens, options, on_token)
    }

    pub fn generate_from_tokens(
        &mut self,
        prompt: &[u32],
        options: &GenerateOptions,
        mut on_token: impl FnMut(&TokenEvent<'_>) -> ControlFlow<()>,
    ) -> Result<Generation> {
        if prompt.is_empty() {
            return Err(Error::BadSetting { what: "prompt", why: "it is empty (no tokens to start from)".into() });
        }
        let shift_keep = options.context_shift.then_some(options.keep);
        let vocab = &self.model.tokenizer.vocab;
        let mut timings = Timings { prompt_tokens: prompt.len(), ..Timings::default() };
        let start = stats::now();
        self.feed(prompt, shift_keep)?;
        timings.prompt_seconds = stats::now() - start;

        let mut sampler = Sampler::new(options.sampler.clone());
        let mut decoder = StreamDecoder::new();
        let mut stop_filter = StopFilter::new(&options.stop);
        let mut tokens = Vec::new();
        let mut piece = String::new();
        let mut stop_reason = StopReason::MaxTokens;
        let decode_start = stats::now();
        while tokens.len() < options.max_tokens {
            if !tokens.is_empty() {
                let &last = tokens.last().expect("checked non-empty");
                self.feed(&[last], shift_keep)?;
            }
            let sample_start = stats::now();
            let logits = self.context.last_logits_mut();
            if options.ignore_eos {
                for &id in &vocab.end_of_generation {
                    if let Some(l) = logits.get_mut(id as usize) {
                        *l = f32::NEG_INFINITY;
                    }
                }
            }
            let id = sampler.sample(logits, &self.history);
            timings.sample_seconds += stats::now() - sample_start;
            if tokens.is_empty() {
                timings.first_token_seconds = stats::now() - start;
            }
            if !options.ignore_eos && vocab.is_end_of_generation(id) {
                stop_reason = StopReason::EndOfGeneration;
                break;
            }
            tokens.push(id);
            piece.clear();
            if !vocab.control[id as usize] {
                decoder.push(&self.model.tokenizer.token_bytes(id), &mut piece);
            }
            let (released, stopped) = stop_filter.push(&piece);
            let event = TokenEvent { index: tokens.len() - 1, id, text: released };
            if on_token(&event).is_break() {
                stop_reason = StopReason::Cancelled;
                break;
            }
            if stopped {
                stop_reason = StopReason::StopString;
                break;
            }
        }
        if stop_reason != StopReason::StopString {
            piece.clear();
            decoder.finish(&mut piece);
            stop_filter.finish(&piece);
        }
        // The last sampled token is not evaluated (nothing needs its logits),
        // so decode steps = generated tokens - 1; see Timings::decode_ms_per_token.
        timings.decode_seconds = (stats::now() - decode_start).max(0.0);
        timings.generated_tokens = tokens.len();
        Ok(Generation { tokens, text: stop_filter.text, stop_reason, timings })
    }
}

/// Holds back text that could be the start of a stop string, so the stream
/// never shows a stop string, even one split across tokens.
struct StopFilter<'s> {
    stops: &'s [String],
    /// Everything released or held, minus any stop string.
    text: String,
    released: usize,
}

impl<'s> StopFilter<'s> {
    fn new(stops: &'s [String]) -> Self {
        StopFilter { stops, text: String::new(), released: 0 }
    }

    /// Adds text; returns what can be shown now and whether a stop string appeared.
    fn push(&mut self, piece: &str) -> (&str, bool) {
        let from = self.released;
        self.text.push_str(piece);
        // A stop string can start at most max_len - 1 bytes before the new text.
        let max_len = self.stops.iter().map(String::len).max().unwrap_or(0);
        let search_from = floor_char_boundary(&self.text, from.saturating_sub(max_len));
        let found = self
            .stops
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| self.text[search_from..].find(s.as_str()).map(|at| search_from + at))
            .min();
        if let Some(at) = found {
            self.text.truncate(at);
            self.released = self.text.len().max(from);
            return (&self.text[from.min(self.text.len())..], true);
        }
        // Hold back the longest tail that is a prefix of some stop string.
        let mut hold = 0;
        for s in self.stops {
            for len in (1..s.len().min(self.text.len() + 1)).rev() {
                if s.is_char_boundary(len) && self.text.ends_with(&s[..len]) {
                    hold = hold.max(len);
                    break;
                }
            }
        }
        let end = (self.text.len() - hold).max(from);
        self.released = end;
        (&self.text[from..end], false)
    }

    /// Releases held text at the end of generation.
    fn finish(&mut self, piece: &str) {
        self.text.push_str(piece);
        self.released = self.text.len();
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut f = StopFilter::new(&stops);
        let mut shown = String::new();
        for p in pieces {
            let (released, stopped) = f.push(p);
            shown.push_str(released);
            if stopped {
                return (shown, f.text, true);
            }
        }
        f.finish("");
        let rest = f.text[shown.len()..].to_string();
        shown.push_str(&rest);
        (shown, f.text, false)
    }

    #[test]
    fn stop_string_split_across_tokens_is_never_shown() {
        let (shown, text, stopped) = run(&["\nUser:"], &["Hello", "\nUs", "er:", " more"]);
        assert!(stopped);
        assert_eq!(shown, "Hello");
        assert_eq!(text, "Hello");
    }

    #[test]
    fn held_prefix_is_released_when_it_does_not_complete() {
        let (shown, _, stopped) = run(&["STOP"], &["a S", "T", "x", "b"]);
        assert!(!stopped);
        assert_eq!(shown, "a STxb");
    }

    #[test]
    fn stop_inside_one_piece_truncates_it() {
        let (shown, _, stopped) = run(&["END"], &["abcENDdef"]);
        assert!(stopped);
        assert_eq!(shown, "abc");
    }

    #[test]
    fn no_stops_release_everything_at_once() {
        let (shown, _, _) = run(&[], &["é", "ü"]);
        assert_eq!(shown, "éü");
    }
}
