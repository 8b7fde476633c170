//! A generation session: a model, one context and the tokens in it, fed
//! (with context shift), plus the options, events and results of generating.
//! The loop that samples, streams, stops and times lives in `generator.rs`
//! (`Session::generate` is defined there, so this layer imports nothing above it).
//!
//! Timings need a clock, which the core does not have: hosts install one with
//! [`crate::clock::set_clock`] (without it, times read zero).

use crate::chat::ChatMessage;
use crate::error::{Error, Result};
use crate::model::{Context, ContextOptions, Model};
use crate::sampler::SamplerConfig;

/// Tokens generated when a caller does not say (CLI `-n`, the npm package).
pub const DEFAULT_MAX_TOKENS: usize = 128;

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
            max_tokens: DEFAULT_MAX_TOKENS,
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

    /// Tokenizes a prompt: BOS where the vocabulary wants one (at the start of
    /// the conversation, unless the text already starts with it), special-token
    /// texts parsed.
    pub fn tokenize_prompt(&self, text: &str) -> Vec<u32> {
        self.model.tokenize_prompt(text, self.history.is_empty())
    }

    /// The model's chat template applied to `messages`; see [`Model::chat_prompt`].
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String> {
        self.model.chat_prompt(messages)
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
}
