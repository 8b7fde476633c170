//! The forward pass: a batch of tokens through every layer into the KV cache,
//! and logits for the last token (or all of them). Prefill runs whole batches
//! through the matrix-matrix kernels; decoding is the same code with one token.

use super::attention::{attend, AttentionShape};
use super::attention_prefill::{self, attend_prefill};
use super::config::FfnActivation;
use super::context::Context;
use super::ops;
use super::profile::{Op, OpProfile};
use super::Model;
use crate::error::{Error, Result};
use crate::kernels::{matvec_gated, matvec_together, ActFormat, Activations, Isa, WeightMatrix};

/// The activation format and quantizer a matrix reads its input in.
fn input_key(matrix: &WeightMatrix<'_>) -> (ActFormat, Isa) {
    (matrix.act_format(), matrix.kernel.isa)
}

/// Runs several matrices over one input, quantizing the input once per
/// activation format rather than once per matrix (Q, K and V share it; so do
/// gate and up). One token's products that share a format run in one fork
/// (`matvec_together`).
fn project(
    acts: &mut Activations,
    profile: &mut OpProfile,
    x: &[f32],
    products: &mut [(&WeightMatrix<'_>, &mut [f32])],
) {
    let key = input_key(products[0].0);
    if x.len() == products[0].0.n_in && products.iter().all(|(m, _)| input_key(m) == key) {
        profile.time(Op::ActivationQuantization, || acts.quantize(x, x.len(), key.0, key.1));
        matvec_together(acts, products);
        return;
    }
    let mut current = None;
    for (matrix, out) in products.iter_mut() {
        let key = input_key(matrix);
        if current != Some(key) {
            profile.time(Op::ActivationQuantization, || acts.quantize(x, matrix.n_in, key.0, key.1));
            current = Some(key);
        }
        profile.time(Op::ActivationQuantization, || matrix.prepare(acts));
        matrix.matmul_quantized(acts, out);
    }
}

/// `gate = activation(xn · W_gateᵀ) * (xn · W_upᵀ)`, the feed-forward
/// network's gated input. One token's gate and up run in one fork with the
/// activation applied per task (`matvec_gated`), where they read one input
/// format; otherwise as two products and an activation pass.
fn feed_forward_in(
    acts: &mut Activations,
    profile: &mut OpProfile,
    activation: FfnActivation,
    (w_gate, w_up): (&WeightMatrix<'_>, &WeightMatrix<'_>),
    xn: &[f32],
    gate: &mut [f32],
    up: &mut [f32],
) {
    let key = input_key(w_gate);
    if xn.len() == w_gate.n_in && input_key(w_up) == key && (w_gate.n_in, w_gate.n_out) == (w_up.n_in, w_up.n_out) {
        profile.time(Op::ActivationQuantization, || acts.quantize(xn, xn.len(), key.0, key.1));
        match activation {
            FfnActivation::Silu => matvec_gated(acts, (w_gate, gate), (w_up, up), ops::swiglu_chunk),
            FfnActivation::GeluTanh => {
                let table = ops::gelu_table();
                matvec_gated(acts, (w_gate, gate), (w_up, up), |g, u| ops::geglu_chunk(table, g, u))
            }
        }
        return;
    }
    project(acts, profile, xn, &mut [(w_gate, &mut gate[..]), (w_up, &mut up[..])]);
    profile.time(Op::FfnActivation, || match activation {
        FfnActivation::Silu => ops::swiglu_in_place(gate, up),
        FfnActivation::GeluTanh => ops::geglu_in_place(gate, up),
    });
}

fn add_bias(rows: &mut [f32], bias: Option<&Vec<f32>>) {
    if let Some(b) = bias {
        for row in rows.chunks_exact_mut(b.len()) {
            ops::add_in_place(row, b);
        }
    }
}

impl Model<'_> {
    /// Evaluates `tokens` at the next positions of `ctx`, leaving the logits of
    /// the last one in [`Context::last_logits`] (of every token of the last
    /// batch with `logits_all`). Errors, before any state changes, when a
    /// token id is outside the vocabulary or the context would overflow.
    pub fn forward(&self, ctx: &mut Context, tokens: &[u32]) -> Result<()> {
        if tokens.is_empty() {
            return Err(Error::BadSetting { what: "tokens", why: "nothing to evaluate (empty input)".into() });
        }
        if ctx.cache.len + tokens.len() > ctx.n_ctx() {
            return Err(Error::ContextFull { n_ctx: ctx.n_ctx(), used: ctx.cache.len, requested: tokens.len() });
        }
        let n_vocab = self.n_vocab();
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= n_vocab) {
            return Err(Error::BadSetting {
                what: "token id",
                why: format!("{bad} is outside the vocabulary of {n_vocab} tokens"),
            });
        }
        if let Some(offload) = ctx.offload.as_mut() {
            let n_vocab = ctx.n_vocab;
            for batch in tokens.chunks(ctx.n_batch) {
                let pos0 = ctx.cache.len;
                let rows = if ctx.logits_all { batch.len() } else { 1 };
                let logits = &mut ctx.logits[..rows * n_vocab];
                offload.forward_batch(self, batch, pos0, ctx.logits_all, logits)?;
                ctx.cache.len = pos0 + batch.len();
                ctx.n_logit_rows = rows;
                if !offload.logits_pending() {
                    check_finite(logits, n_vocab, pos0 + batch.len() - rows)?;
                }
            }
            return Ok(());
        }
        // The cache grows as positions are used; its memory error comes before any state changes.
        ctx.cache.reserve(ctx.cache.len + tokens.len())?;
        for batch in tokens.chunks(ctx.n_batch) {
            self.forward_batch(ctx, batch)?;
        }
        Ok(())
    }

    fn forward_batch(&self, ctx: &mut Context, tokens: &[u32]) -> Result<()> {
        let cfg = &self.config;
        let w = &self.weights;
        let n = tokens.len();
        let pos0 = ctx.cache.len;
        let (n_embd, q_dim, k_dim, v_dim) = (cfg.n_embd, cfg.q_dim(), cfg.k_dim(), cfg.v_dim());
        let att_dim = cfg.n_head * cfg.head_dim_v;
        let n_ff = cfg.n_ff;
        let Context { cache, x, xn, q, k, v, att, proj, gate, up, acts, profile, .. } = ctx;
        let x = &mut x[..n * n_embd]; // [n, n_embd]
        let xn = &mut xn[..n * n_embd]; // [n, n_embd]
        let q = &mut q[..n * q_dim]; // [n, q_dim]
        let k = &mut k[..n * k_dim]; // [n, k_dim]
        let v = &mut v[..n * v_dim]; // [n, v_dim]
        let att = &mut att[..n * att_dim]; // [n, n_head * head_dim_v]
        let proj = &mut proj[..n * n_embd]; // [n, n_embd]
        let gate = &mut gate[..n * n_ff]; // [n, n_ff]
        let up = &mut up[..n * n_ff]; // [n, n_ff]

        profile.time(Op::Embedding, || -> Result<()> {
            for (&token, row) in tokens.iter().zip(x.chunks_exact_mut(n_embd)) {
                w.token_embd.row(token, row)?;
                if cfg.embed_scale != 1.0 {
                    row.iter_mut().for_each(|v| *v *= cfg.embed_scale);
                }
            }
            Ok(())
        })?;

        // RoPE angles of this batch's positions, for global and sliding-window layers.
        let rope = &cfg.rope;
        let half = rope.n_rot / 2;
        let tables = [
            (&mut ctx.rope_cos, &mut ctx.rope_sin, rope.freq_base, rope.freq_scale),
            (&mut ctx.rope_cos_swa, &mut ctx.rope_sin_swa, rope.freq_base_swa, rope.freq_scale_swa),
        ];
        for (cos, sin, base, scale) in tables {
            for t in 0..n {
                let (c, s) = (&mut cos[t * half..(t + 1) * half], &mut sin[t * half..(t + 1) * half]);
                ops::rope_angles(pos0 + t, rope.n_rot, base, scale, c, s);
            }
        }

        for (il, layer) in w.layers.iter().enumerate() {
            let is_swa = cfg.swa_layers[il];
            // ---- attention block
            profile.time(Op::Norms, || {
                for (src, dst) in x.chunks_exact(n_embd).zip(xn.chunks_exact_mut(n_embd)) {
                    ops::rms_norm(src, &layer.attn_norm, cfg.rms_eps, dst);
                }
            });
            project(
                acts,
                profile,
                xn,
                &mut [(&layer.wq, &mut q[..]), (&layer.wk, &mut k[..]), (&layer.wv, &mut v[..])],
            );
            profile.time(Op::Other, || {
                add_bias(q, layer.bq.as_ref());
                add_bias(k, layer.bk.as_ref());
                add_bias(v, layer.bv.as_ref());
            });
            profile.time(Op::Norms, || {
                if let Some(qn) = &layer.q_norm {
                    ops::rms_norm_rows_in_place(q, cfg.head_dim_k, qn, cfg.rms_eps);
                }
                if let Some(kn) = &layer.k_norm {
                    ops::rms_norm_rows_in_place(k, cfg.head_dim_k, kn, cfg.rms_eps);
                }
            });
            let (cos, sin) =
                if is_swa { (&ctx.rope_cos_swa, &ctx.rope_sin_swa) } else { (&ctx.rope_cos, &ctx.rope_sin) };
            profile.time(Op::Rope, || {
                for t in 0..n {
                    let (c, s) = (&cos[t * half..(t + 1) * half], &sin[t * half..(t + 1) * half]);
                    ops::rope_heads(&mut q[t * q_dim..(t + 1) * q_dim], cfg.head_dim_k, rope.kind, c, s);
                    ops::rope_heads(&mut k[t * k_dim..(t + 1) * k_dim], cfg.head_dim_k, rope.kind, c, s);
                }
                if cfg.scale_queries {
                    q.iter_mut().for_each(|v| *v *= cfg.attn_scale);
                }
            });
            profile.time(Op::Other, || {
                for t in 0..n {
                    cache.store(il, pos0 + t, &k[t * k_dim..(t + 1) * k_dim], &v[t * v_dim..(t + 1) * v_dim]);
                }
            });
            let shape = AttentionShape {
                n_head: cfg.n_head,
                n_head_kv: cfg.n_head_kv,
                head_dim_k: cfg.head_dim_k,
                head_dim_v: cfg.head_dim_v,
                scale: if cfg.scale_queries { 1.0 } else { cfg.attn_scale },
                window: if is_swa { cfg.sliding_window } else { None },
            };
            profile.time(Op::Attention, || {
                if self.fast_attention && n >= attention_prefill::MIN_TOKENS {
                    attend_prefill(&shape, cache, il, pos0, q, att)
                } else {
                    attend(&shape, cache, il, pos0, q, att)
                }
            });
            project(acts, profile, att, &mut [(&layer.wo, &mut proj[..])]);
            if let Some(norm) = &layer.post_attn_norm {
                profile.time(Op::Norms, || ops::rms_norm_rows_in_place(proj, n_embd, norm, cfg.rms_eps));
            }
            profile.time(Op::Other, || ops::add_in_place(x, proj));

            // ---- feed-forward block
            profile.time(Op::Norms, || {
                for (src, dst) in x.chunks_exact(n_embd).zip(xn.chunks_exact_mut(n_embd)) {
                    ops::rms_norm(src, &layer.ffn_norm, cfg.rms_eps, dst);
                }
            });
            feed_forward_in(acts, profile, cfg.ffn_activation, (&layer.w_gate, &layer.w_up), xn, gate, up);
            project(acts, profile, gate, &mut [(&layer.w_down, &mut proj[..])]);
            if let Some(norm) = &layer.post_ffn_norm {
                profile.time(Op::Norms, || ops::rms_norm_rows_in_place(proj, n_embd, norm, cfg.rms_eps));
            }
            profile.time(Op::Other, || ops::add_in_place(x, proj));
        }
        cache.len = pos0 + n;

        // ---- output: the last token, or every token with logits_all
        let all_fit = ctx.logits_all && ctx.logits.len() >= n * ctx.n_vocab;
        let first = if all_fit { 0 } else { n - 1 };
        let rows = n - first;
        profile.time(Op::Norms, || {
            for (src, dst) in x[first * n_embd..].chunks_exact(n_embd).zip(xn.chunks_exact_mut(n_embd)) {
                ops::rms_norm(src, &w.output_norm, cfg.rms_eps, dst);
            }
        });
        let n_vocab = self.n_vocab();
        let logits = &mut ctx.logits[..rows * n_vocab];
        project(acts, profile, &xn[..rows * n_embd], &mut [(&w.output, &mut logits[..])]);
        if let Some(cap) = cfg.final_logit_softcap {
            ops::softcap_in_place(logits, cap);
        }
        ctx.n_logit_rows = rows;
        check_finite(logits, n_vocab, pos0 + first)
    }
}

/// One pass over the vocabulary per row (`[rows, n_vocab]`, the first at
/// `position`): a NaN block scale anywhere makes every logit NaN, and a
/// sampler would then pick an arbitrary id.
pub(crate) fn check_finite(logits: &[f32], n_vocab: usize, position: usize) -> Result<()> {
    for (r, row) in logits.chunks_exact(n_vocab).enumerate() {
        if let Some(&value) = row.iter().find(|v| !v.is_finite()) {
            return Err(Error::NonFiniteLogits { position: position + r, value });
        }
    }
    Ok(())
}
