//! Perplexity as llama.cpp's `llama-perplexity` computes it: the text in
//! chunks of `n_ctx` tokens, each evaluated from an empty cache with its first
//! token replaced by BOS (where the vocabulary adds one), scoring only the
//! second half of each chunk (every scored token sees at least n_ctx/2 tokens
//! of context).

use crate::error::{Error, Result};
use crate::model::{ContextOptions, Model};

#[derive(Clone, Debug, PartialEq)]
pub struct Perplexity {
    pub chunks: usize,
    pub tokens_scored: usize,
    /// Sum of negative log-likelihoods (natural log).
    pub nll: f64,
    /// Running perplexity after each chunk.
    pub per_chunk: Vec<f64>,
}

impl Perplexity {
    pub fn value(&self) -> f64 {
        (self.nll / self.tokens_scored.max(1) as f64).exp()
    }
}

/// `ln softmax(logits)[token]`, in f64 like llama-perplexity.
fn log_softmax(logits: &[f32], token: u32) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| (l - max).exp() as f64).sum();
    (logits[token as usize] - max) as f64 - sum.ln()
}

/// Perplexity of `tokens` (the whole text, tokenized with BOS as the model
/// wants) over `n_chunks` chunks of `n_ctx` (all that fit when `None`).
pub fn perplexity(
    model: &Model<'_>,
    tokens: &[u32],
    n_ctx: usize,
    n_chunks: Option<usize>,
    mut on_chunk: impl FnMut(usize, usize, f64),
) -> Result<Perplexity> {
    if n_ctx < 4 || !n_ctx.is_multiple_of(2) {
        return Err(Error::BadSetting {
            what: "perplexity context",
            why: format!("{n_ctx} must be even and at least 4"),
        });
    }
    if n_chunks == Some(0) {
        return Err(Error::BadSetting { what: "perplexity chunks", why: "0 scores nothing; give at least 1".into() });
    }
    let available = tokens.len() / n_ctx;
    if available == 0 {
        return Err(Error::BadSetting {
            what: "perplexity text",
            why: format!("{} tokens is less than one chunk of {n_ctx}", tokens.len()),
        });
    }
    let chunks = n_chunks.map_or(available, |n| n.min(available));
    let first = n_ctx / 2;
    // Logits for the scored half only: [n_ctx / 2, n_vocab].
    let options = ContextOptions { n_ctx: Some(n_ctx), n_batch: n_ctx - first, logits_all: true, ..Default::default() };
    let mut ctx = model.new_context(&options)?;
    let bos = model.tokenizer.vocab.bos.filter(|_| model.tokenizer.vocab.add_bos);
    let mut result = Perplexity { chunks, tokens_scored: 0, nll: 0.0, per_chunk: Vec::with_capacity(chunks) };
    let mut chunk = vec![0u32; n_ctx];
    for c in 0..chunks {
        chunk.copy_from_slice(&tokens[c * n_ctx..(c + 1) * n_ctx]);
        if let Some(b) = bos {
            chunk[0] = b;
        }
        ctx.clear();
        ctx.logits_all = false;
        model.forward(&mut ctx, &chunk[..first])?;
        ctx.logits_all = true;
        model.forward(&mut ctx, &chunk[first..])?;
        // Row i holds the logits at position first + i, predicting chunk[first + i + 1].
        for i in 0..n_ctx - 1 - first {
            result.nll -= log_softmax(ctx.logits_row(i), chunk[first + i + 1]);
            result.tokens_scored += 1;
        }
        result.per_chunk.push(result.value());
        on_chunk(c + 1, chunks, result.value());
    }
    Ok(result)
}
