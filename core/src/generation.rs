//! What a generation is asked for and what it gives back: options, the
//! per-token event, the result and its timings. [`crate::generator`] runs
//! generations over a [`crate::session::Session`]; hosts read these types.
//!
//! Timings need a clock, which the core does not have: hosts install one with
//! [`crate::clock::set_clock`] (without it, times read zero).

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
    /// Prompt tokens evaluated by this generation.
    pub prompt_tokens: usize,
    /// Prompt tokens whose keys and values were already in the session's
    /// cache (a shared prefix with the previous prompt), so not evaluated.
    pub cached_tokens: usize,
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
