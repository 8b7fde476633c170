//! Generation one token at a time. [`Generator`] owns everything a generation
//! needs besides the model and the session (sampler, UTF-8 stream decoder,
//! stop filter, timings), so a host can step it between other work: the
//! browser worker yields to its event loop between tokens to see an abort
//! message, and [`Session::generate_from_tokens`] is a plain loop over it.

use std::ops::ControlFlow;

use crate::clock;
use crate::error::{Error, Result};
use crate::generation::{GenerateOptions, Generation, StopReason, Timings, TokenEvent};
use crate::model::Model;
use crate::sampler::Sampler;
use crate::session::Session;
use crate::stop_filter::StopFilter;
use crate::tokenizer::StreamDecoder;

pub struct Generator {
    options: GenerateOptions,
    sampler: Sampler,
    decoder: StreamDecoder,
    stop_filter: StopFilter,
    /// Generated token ids, in order.
    tokens: Vec<u32>,
    /// Text of the current token (reused buffer).
    piece: String,
    timings: Timings,
    /// Clock reading when prefill began.
    start: f64,
    /// Clock reading when the current step began (its feed).
    step_start: f64,
    finished: Option<StopReason>,
}

impl Generator {
    /// Evaluates `prompt` after what `session` holds (the prefill) and returns
    /// a generator ready to produce the first token.
    pub fn start(
        model: &Model<'_>,
        session: &mut Session,
        prompt: &[u32],
        options: &GenerateOptions,
    ) -> Result<Generator> {
        Generator::prefill(model, session, prompt, 0, options)
    }

    /// Like [`Generator::start`] for a `prompt` that is the whole text so far
    /// (a conversation rendered again with a new turn, say): the prefix the
    /// session already holds is kept and only the rest is evaluated
    /// ([`Session::reuse_prefix`]); `timings.cached_tokens` counts the kept
    /// part. Greedy results equal a fresh session's.
    pub fn start_reusing(
        model: &Model<'_>,
        session: &mut Session,
        prompt: &[u32],
        options: &GenerateOptions,
    ) -> Result<Generator> {
        if prompt.is_empty() {
            return Generator::prefill(model, session, prompt, 0, options);
        }
        let cached = session.reuse_prefix(prompt);
        Generator::prefill(model, session, &prompt[cached..], cached, options)
    }

    fn prefill(
        model: &Model<'_>,
        session: &mut Session,
        prompt: &[u32],
        cached_tokens: usize,
        options: &GenerateOptions,
    ) -> Result<Generator> {
        if prompt.is_empty() {
            return Err(Error::BadSetting { what: "prompt", why: "it is empty (no tokens to start from)".into() });
        }
        options.sampler.check()?;
        let start = clock::now();
        session.feed(model, prompt, options.context_shift.then_some(options.keep))?;
        let timings = Timings {
            prompt_tokens: prompt.len(),
            cached_tokens,
            prompt_seconds: clock::now() - start,
            ..Timings::default()
        };
        Ok(Generator {
            options: options.clone(),
            sampler: Sampler::new(options.sampler.clone()),
            decoder: StreamDecoder::new(),
            stop_filter: StopFilter::new(options.stop.clone()),
            tokens: Vec::new(),
            piece: String::new(),
            timings,
            start,
            step_start: start,
            finished: None,
        })
    }

    /// Produces the next token (evaluating the previous one first), or `None`
    /// once generation has ended (token limit, end of generation, a stop
    /// string, or [`Generator::cancel`]). The token that completes a stop
    /// string is still returned, with the text before the stop string.
    ///
    /// It is [`Generator::feed`] then [`Generator::sample`]; a host whose
    /// backend returns logits asynchronously (WebGPU) awaits them between the two.
    pub fn step(&mut self, model: &Model<'_>, session: &mut Session) -> Result<Option<TokenEvent<'_>>> {
        if !self.feed(model, session)? {
            return Ok(None);
        }
        self.sample(model, session)
    }

    /// The first half of a step: evaluates the previous token (nothing
    /// before the first). `false` once generation has ended.
    pub fn feed(&mut self, model: &Model<'_>, session: &mut Session) -> Result<bool> {
        if self.finished.is_some() {
            return Ok(false);
        }
        if self.tokens.len() >= self.options.max_tokens {
            self.finished = Some(StopReason::MaxTokens);
            return Ok(false);
        }
        self.step_start = clock::now();
        if let Some(&last) = self.tokens.last() {
            session.feed(model, &[last], self.options.context_shift.then_some(self.options.keep))?;
        }
        Ok(true)
    }

    /// For a backend that returned the prefill's logits asynchronously: the
    /// prefill ends when they arrive (call once they have, before the first sample).
    pub fn logits_arrived(&mut self) {
        if self.tokens.is_empty() {
            self.timings.prompt_seconds = clock::now() - self.start;
        }
    }

    /// The second half of a step, after [`Generator::feed`] returned `true`:
    /// samples the next token from the session's logits.
    pub fn sample(&mut self, model: &Model<'_>, session: &mut Session) -> Result<Option<TokenEvent<'_>>> {
        if self.finished.is_some() {
            return Ok(None);
        }
        if session.context.logits_pending() {
            return Err(Error::BadSetting {
                what: "sampling",
                why: "the logits are still on their way from the backend (hand them in with Context::receive_logits)"
                    .into(),
            });
        }
        let step_start = self.step_start;
        let vocab = &model.tokenizer.vocab;
        let sample_start = clock::now();
        let logits = session.context.last_logits_mut();
        if self.options.ignore_eos {
            for &id in &vocab.end_of_generation {
                if let Some(l) = logits.get_mut(id as usize) {
                    *l = f32::NEG_INFINITY;
                }
            }
        }
        let id = self.sampler.sample(logits, &session.history);
        let now = clock::now();
        self.timings.sample_seconds += now - sample_start;
        if self.tokens.is_empty() {
            self.timings.first_token_seconds = now - self.start;
        } else {
            // The first token comes from the prefill's logits; later ones each
            // cost one decode step (see Timings::decode_ms_per_token).
            self.timings.decode_seconds += now - step_start;
        }
        if !self.options.ignore_eos && vocab.is_end_of_generation(id) {
            self.finished = Some(StopReason::EndOfGeneration);
            return Ok(None);
        }
        self.tokens.push(id);
        self.piece.clear();
        // token_bytes is empty for control tokens and ids outside the vocabulary.
        self.decoder.push(&model.tokenizer.token_bytes(id), &mut self.piece);
        let (released, stopped) = self.stop_filter.push(&self.piece);
        if stopped {
            self.finished = Some(StopReason::StopString);
        }
        Ok(Some(TokenEvent { index: self.tokens.len() - 1, id, text: released }))
    }

    /// Ends generation at the caller's request; the next step returns `None`.
    pub fn cancel(&mut self) {
        self.finished.get_or_insert(StopReason::Cancelled);
    }

    /// Tokens generated so far.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// The result: all tokens, the full text (including any text a stream was
    /// still holding back, such as an incomplete stop-string prefix), why it
    /// ended and the timings.
    pub fn finish(mut self) -> Generation {
        let stop_reason = self.finished.unwrap_or(StopReason::Cancelled);
        if stop_reason != StopReason::StopString {
            self.piece.clear();
            self.decoder.finish(&mut self.piece);
            self.stop_filter.finish(&self.piece);
        }
        self.timings.generated_tokens = self.tokens.len();
        Generation { tokens: self.tokens, text: self.stop_filter.text, stop_reason, timings: self.timings }
    }
}

/// The plain loop over a [`Generator`], as `Session` methods.
impl Session {
    /// Generates from `prompt` (appended to what the session already holds),
    /// calling `on_token` for each token; returning `Break` cancels.
    pub fn generate(
        &mut self,
        model: &Model<'_>,
        prompt: &str,
        options: &GenerateOptions,
        on_token: impl FnMut(&TokenEvent<'_>) -> ControlFlow<()>,
    ) -> Result<Generation> {
        let tokens = self.tokenize_prompt(model, prompt);
        self.generate_from_tokens(model, &tokens, options, on_token)
    }

    pub fn generate_from_tokens(
        &mut self,
        model: &Model<'_>,
        prompt: &[u32],
        options: &GenerateOptions,
        mut on_token: impl FnMut(&TokenEvent<'_>) -> ControlFlow<()>,
    ) -> Result<Generation> {
        let mut generator = Generator::start(model, self, prompt, options)?;
        while let Some(event) = generator.step(model, self)? {
            if on_token(&event).is_break() {
                generator.cancel();
                break;
            }
        }
        Ok(generator.finish())
    }
}
