//! A generation session: one context and the tokens in it, fed with context
//! shift, and reused across prompts that share a prefix. A session does not
//! hold the model: every call that evaluates takes it, so a host can keep a
//! session (and its KV cache) between calls while the model lives elsewhere
//! (the wasm engine keeps both, the model behind a self-referential cell).
//! Generation itself is `generator.rs`.

use crate::chat::ChatMessage;
use crate::error::{Error, Result};
use crate::model::{Context, ContextOptions, Model};

pub struct Session {
    pub context: Context,
    /// Tokens whose keys and values are in the cache, in order.
    pub history: Vec<u32>,
}

impl Session {
    pub fn new(model: &Model<'_>, options: &ContextOptions) -> Result<Session> {
        Ok(Session { context: model.new_context(options)?, history: Vec::new() })
    }

    /// Forgets the conversation (the cache is kept allocated).
    pub fn reset(&mut self) {
        self.context.clear();
        self.history.clear();
    }

    /// Tokenizes a prompt: BOS where the vocabulary wants one (at the start of
    /// the conversation, unless the text already starts with it), special-token
    /// texts parsed.
    pub fn tokenize_prompt(&self, model: &Model<'_>, text: &str) -> Vec<u32> {
        model.tokenize_prompt(text, self.history.is_empty())
    }

    /// The model's chat template applied to `messages`; see [`Model::chat_prompt`].
    pub fn chat_prompt(&self, model: &Model<'_>, messages: &[ChatMessage]) -> Result<String> {
        model.chat_prompt(messages)
    }

    /// Keeps the longest prefix of what the cache holds that `prompt` starts
    /// with, forgets the rest, and returns its length: the tokens of `prompt`
    /// that need no evaluation. At least the last token of `prompt` is left to
    /// evaluate (its logits start the generation). A multi-turn chat thus pays
    /// only for the new turn, as llama.cpp's server does with its prompt cache.
    pub fn reuse_prefix(&mut self, prompt: &[u32]) -> usize {
        let shared = self.history.iter().zip(prompt).take_while(|(a, b)| a == b).count();
        let kept = shared.min(prompt.len().saturating_sub(1));
        self.history.truncate(kept);
        self.context.truncate(kept);
        kept
    }

    /// Evaluates `tokens` after what is in the context, shifting the context
    /// first when it would overflow and `shift_keep` is given.
    pub fn feed(&mut self, model: &Model<'_>, tokens: &[u32], shift_keep: Option<usize>) -> Result<()> {
        let n_ctx = self.context.n_ctx();
        if tokens.len() > n_ctx {
            return Err(Error::ContextFull { n_ctx, used: self.history.len(), requested: tokens.len() });
        }
        if self.history.len() + tokens.len() > n_ctx {
            let Some(keep) = shift_keep else {
                return Err(Error::ContextFull { n_ctx, used: self.history.len(), requested: tokens.len() });
            };
            self.shift(model, keep, tokens.len())?;
        }
        model.forward(&mut self.context, tokens)?;
        self.history.extend_from_slice(tokens);
        Ok(())
    }

    /// Drops the oldest half of the tokens after the first `keep` (at least
    /// enough to fit `incoming` more) and re-evaluates the rest: recomputing
    /// is exact for every architecture (sliding windows, rotated keys) and
    /// happens once per half context.
    fn shift(&mut self, model: &Model<'_>, keep: usize, incoming: usize) -> Result<()> {
        let n_ctx = self.context.n_ctx();
        let bos = usize::from(self.history.first().is_some_and(|&t| Some(t) == model.tokenizer.vocab.bos));
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
            model.forward(&mut self.context, &kept)?;
        }
        self.history = kept;
        Ok(())
    }
}
