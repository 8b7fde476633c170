//! One sequence's state: the KV cache and every buffer the forward pass
//! writes, allocated once here (fallibly) so decoding allocates nothing.

use super::config::ModelConfig;
use super::kv_cache::{KvCache, KvType};
use super::offload::ForwardOffload;
use super::profile::OpProfile;
use crate::error::{Error, Result};
use crate::kernels::Activations;

/// The context size used when none is asked for: the model's own, capped here
/// (a 128K-token cache would take gigabytes for a chat that needs a few thousand).
pub const DEFAULT_CTX_CAP: usize = 4096;
/// Tokens per forward pass in prefill (llama.cpp's default micro-batch).
pub const DEFAULT_BATCH: usize = 512;

#[derive(Clone, Debug, PartialEq)]
pub struct ContextOptions {
    /// Positions in the KV cache; `None`: the model's context, at most [`DEFAULT_CTX_CAP`].
    pub n_ctx: Option<usize>,
    /// Most tokens per forward pass (prefill is split into batches of this size).
    pub n_batch: usize,
    pub kv_type: KvType,
    /// Keep logits for every token of a batch (perplexity), not just the last.
    pub logits_all: bool,
}

impl Default for ContextOptions {
    fn default() -> Self {
        ContextOptions { n_ctx: None, n_batch: DEFAULT_BATCH, kv_type: KvType::F16, logits_all: false }
    }
}

/// Zeroed `f32`s, or an error naming what they were for.
pub(crate) fn alloc_f32(len: usize, what: &str) -> Result<Vec<f32>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Error::OutOfMemory { what: what.to_string(), bytes: (len as u64) * 4 })?;
    v.resize(len, 0.0);
    Ok(v)
}

pub struct Context {
    pub cache: KvCache,
    pub n_batch: usize,
    /// Whether the next forward pass keeps logits for every token of its
    /// last batch (the buffer is sized for it when created with `logits_all`).
    pub logits_all: bool,
    pub n_vocab: usize,
    /// Logits of the last token, or `[n_tok, n_vocab]` of the last batch with `logits_all`.
    pub logits: Vec<f32>,
    /// Rows of `logits` written by the last forward pass.
    pub n_logit_rows: usize,
    // Scratch, sized for `n_batch` tokens.
    pub(crate) x: Vec<f32>,            // [n_batch, n_embd] residual stream
    pub(crate) xn: Vec<f32>,           // [n_batch, n_embd] normed input of a block
    pub(crate) q: Vec<f32>,            // [n_batch, n_head * head_dim_k]
    pub(crate) k: Vec<f32>,            // [n_batch, n_head_kv * head_dim_k]
    pub(crate) v: Vec<f32>,            // [n_batch, n_head_kv * head_dim_v]
    pub(crate) att: Vec<f32>,          // [n_batch, n_head * head_dim_v]
    pub(crate) proj: Vec<f32>,         // [n_batch, n_embd] block output before the residual add
    pub(crate) gate: Vec<f32>,         // [n_batch, n_ff]
    pub(crate) up: Vec<f32>,           // [n_batch, n_ff]
    pub(crate) rope_cos: Vec<f32>,     // [n_batch, n_rot / 2] global layers
    pub(crate) rope_sin: Vec<f32>,     // [n_batch, n_rot / 2]
    pub(crate) rope_cos_swa: Vec<f32>, // [n_batch, n_rot / 2] sliding-window layers
    pub(crate) rope_sin_swa: Vec<f32>, // [n_batch, n_rot / 2]
    pub(crate) acts: Activations,      // quantized copy of the current matmul input
    /// Time by operation, when enabled (`--profile`).
    pub profile: OpProfile,
    /// The backend that runs the forward pass instead of the CPU kernels.
    pub(crate) offload: Option<Box<dyn ForwardOffload>>,
}

impl Context {
    pub fn new(cfg: &ModelConfig, n_vocab: usize, options: &ContextOptions) -> Result<Context> {
        let n_ctx = match options.n_ctx {
            None => cfg.n_ctx_train.min(DEFAULT_CTX_CAP),
            Some(0) => return Err(Error::BadSetting { what: "context size", why: "must be at least 1".into() }),
            Some(n) if n > cfg.n_ctx_train => {
                return Err(Error::BadSetting {
                    what: "context size",
                    why: format!("{n} exceeds the model's training context of {} tokens", cfg.n_ctx_train),
                })
            }
            Some(n) => n,
        };
        if options.n_batch == 0 {
            return Err(Error::BadSetting { what: "batch size", why: "must be at least 1".into() });
        }
        let n_batch = options.n_batch.min(n_ctx);
        let cache = KvCache::new(options.kv_type, cfg.n_layer, n_ctx, cfg.k_dim(), cfg.v_dim())?;
        let half_rot = cfg.rope.n_rot / 2;
        let logits_len = if options.logits_all { n_batch * n_vocab } else { n_vocab };
        Ok(Context {
            cache,
            n_batch,
            logits_all: options.logits_all,
            n_vocab,
            logits: alloc_f32(logits_len, "logits")?,
            n_logit_rows: 0,
            x: alloc_f32(n_batch * cfg.n_embd, "activations")?,
            xn: alloc_f32(n_batch * cfg.n_embd, "activations")?,
            q: alloc_f32(n_batch * cfg.q_dim(), "queries")?,
            k: alloc_f32(n_batch * cfg.k_dim(), "keys")?,
            v: alloc_f32(n_batch * cfg.v_dim(), "values")?,
            att: alloc_f32(n_batch * cfg.n_head * cfg.head_dim_v, "attention output")?,
            proj: alloc_f32(n_batch * cfg.n_embd, "activations")?,
            gate: alloc_f32(n_batch * cfg.n_ff, "feed-forward activations")?,
            up: alloc_f32(n_batch * cfg.n_ff, "feed-forward activations")?,
            rope_cos: alloc_f32(n_batch * half_rot, "RoPE tables")?,
            rope_sin: alloc_f32(n_batch * half_rot, "RoPE tables")?,
            rope_cos_swa: alloc_f32(n_batch * half_rot, "RoPE tables")?,
            rope_sin_swa: alloc_f32(n_batch * half_rot, "RoPE tables")?,
            acts: Activations::default(),
            profile: OpProfile::default(),
            offload: None,
        })
    }

    pub fn n_ctx(&self) -> usize {
        self.cache.n_ctx
    }

    /// Runs every later forward pass in `offload` (the GPU backend) from
    /// position 0: the context is cleared.
    pub fn set_offload(&mut self, offload: Box<dyn ForwardOffload>) {
        self.clear();
        self.offload = Some(offload);
    }

    /// The backend running this context's forward passes, if any.
    pub fn offload_mut(&mut self) -> Option<&mut (dyn ForwardOffload + 'static)> {
        self.offload.as_deref_mut()
    }

    /// Whether the last batch's logits are still on their way from an
    /// asynchronous backend (see [`ForwardOffload::logits_pending`]).
    pub fn logits_pending(&self) -> bool {
        self.offload.as_ref().is_some_and(|o| o.logits_pending())
    }

    /// Hands in the logits an asynchronous backend left pending: `read`
    /// gets the backend and the last batch's logit rows (`[rows, n_vocab]`)
    /// to write; they are then checked as every forward pass's are.
    pub fn receive_logits(
        &mut self,
        read: impl FnOnce(&mut (dyn ForwardOffload + 'static), &mut [f32]) -> Result<()>,
    ) -> Result<()> {
        let rows = self.n_logit_rows;
        let n_vocab = self.n_vocab;
        let Some(offload) = self.offload.as_deref_mut() else {
            return Err(Error::BadSetting {
                what: "logits",
                why: "this context has no backend to receive them from".into(),
            });
        };
        let logits = &mut self.logits[..rows * n_vocab];
        read(offload, logits)?;
        super::forward::check_finite(logits, n_vocab, self.cache.len.saturating_sub(rows))
    }

    /// Tokens in the cache.
    pub fn n_past(&self) -> usize {
        self.cache.len
    }

    /// Forgets every position from `len` on (the logits of the last batch
    /// stay until the next one); nothing is freed.
    pub fn truncate(&mut self, len: usize) {
        self.cache.truncate(len);
    }

    /// Forgets everything (a new conversation); nothing is freed or reallocated.
    pub fn clear(&mut self) {
        self.cache.truncate(0);
        self.n_logit_rows = 0;
    }

    /// Logits of the last token evaluated: `[n_vocab]`.
    pub fn last_logits(&self) -> &[f32] {
        let row = self.n_logit_rows.saturating_sub(1);
        &self.logits[row * self.n_vocab..(row + 1) * self.n_vocab]
    }

    pub fn last_logits_mut(&mut self) -> &mut [f32] {
        let row = self.n_logit_rows.saturating_sub(1);
        &mut self.logits[row * self.n_vocab..(row + 1) * self.n_vocab]
    }

    /// Logits of row `i` of the last batch (with `logits_all`): `[n_vocab]`.
    pub fn logits_row(&self, i: usize) -> &[f32] {
        assert!(i < self.n_logit_rows, "row {i} of {} logit rows", self.n_logit_rows);
        &self.logits[i * self.n_vocab..(i + 1) * self.n_vocab]
    }
}
