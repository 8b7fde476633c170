//! Prefill attention for the fast kernel set, all in f32: each KV head's key
//! and value rows are converted from the cache once per batch (not once per
//! query head and query, 8x redundant under GQA), then every query head runs
//! a two-pass softmax over the keys its position may see (causal, sliding
//! window), with a vectorizing `exp`. Tasks are query heads, one fork per
//! layer rather than one per token. The exact set keeps `attention::attend`
//! (llama.cpp's flash-attention arithmetic with f16 rounding).

use super::attention::AttentionShape;
use super::kv_cache::KvCache;
use super::ops::{axpy, dot, fma_dispatch, ggml_expf};
use crate::kernels::SharedOut;

/// Queries per batch from which the forward pass takes this path.
pub const MIN_TOKENS: usize = 4;

/// For `n_tok` queries at positions `pos0..pos0 + n_tok` (their keys and
/// values already in `cache`), writes the attention output.
/// `q`: `[n_tok, n_head * head_dim_k]`; `out`: `[n_tok, n_head * head_dim_v]`.
pub fn attend_prefill(shape: &AttentionShape, cache: &KvCache, layer: usize, pos0: usize, q: &[f32], out: &mut [f32]) {
    let q_dim = shape.n_head * shape.head_dim_k;
    let out_dim = shape.n_head * shape.head_dim_v;
    let n_tok = q.len() / q_dim;
    assert_eq!(out.len(), n_tok * out_dim);
    let n_keys = pos0 + n_tok;
    // Keys the first query cannot see (outside its window) are never read.
    let first_key = shape.window.map_or(0, |w| (pos0 + 1).saturating_sub(w));
    let (hk, hv) = (shape.head_dim_k, shape.head_dim_v);
    thread_local! {
        static KV: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    KV.with_borrow_mut(|kv| {
        // [n_head_kv, n_keys - first_key, hk] keys, then the same for values (hv)
        let span = n_keys - first_key;
        let (k_len, v_len) = (shape.n_head_kv * span * hk, shape.n_head_kv * span * hv);
        kv.resize(k_len + v_len, 0.0);
        let (keys, values) = kv.split_at_mut(k_len);
        for g in 0..shape.n_head_kv {
            for (j, pos) in (first_key..n_keys).enumerate() {
                cache.read_key(layer, pos, g * hk, &mut keys[(g * span + j) * hk..][..hk]);
                cache.read_value(layer, pos, g * hv, &mut values[(g * span + j) * hv..][..hv]);
            }
        }
        let (keys, values) = (&*keys, &*values);
        let shared = SharedOut::new(out);
        let group = shape.n_head / shape.n_head_kv;
        let head = |h: usize| {
            thread_local! {
                static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            let g = h / group;
            let k_head = &keys[g * span * hk..(g + 1) * span * hk];
            let v_head = &values[g * span * hv..(g + 1) * span * hv];
            SCORES.with_borrow_mut(|scores| {
                scores.resize(span, 0.0);
                let mut acc = vec![0.0f32; hv];
                for t in 0..n_tok {
                    let pos = pos0 + t;
                    let lo = shape.window.map_or(0, |w| (pos + 1).saturating_sub(w)) - first_key;
                    let hi = pos + 1 - first_key;
                    let q_head = &q[t * q_dim + h * hk..][..hk];
                    attend_rows(
                        q_head,
                        &k_head[lo * hk..hi * hk],
                        &v_head[lo * hv..hi * hv],
                        shape.scale,
                        &mut scores[..hi - lo],
                        &mut acc,
                    );
                    // SAFETY: head h writes only its own columns of each output row.
                    unsafe { shared.write(t * out_dim + h * hv, &acc) };
                }
            });
        };
        #[cfg(feature = "parallel")]
        {
            use rayon::prelude::*;
            (0..shape.n_head).into_par_iter().for_each(head);
        }
        #[cfg(not(feature = "parallel"))]
        (0..shape.n_head).for_each(head);
    });
}

fma_dispatch! {
/// Softmax-weighted sum of `values` (`[n, hv]`) for one query over `keys` (`[n, hk]`).
pub fn attend_rows(q: &[f32], keys: &[f32], values: &[f32], scale: f32, scores: &mut [f32], out: &mut [f32]) {
    let hk = q.len();
    let hv = out.len();
    let mut max = f32::NEG_INFINITY;
    for (s, k) in scores.iter_mut().zip(keys.chunks_exact(hk)) {
        *s = dot(q, k) * scale;
        max = max.max(*s);
    }
    let mut sum = 0.0f32;
    for s in scores.iter_mut() {
        *s = ggml_expf(*s - max);
        sum += *s;
    }
    let inv = 1.0 / sum;
    out.fill(0.0);
    for (&p, v) in scores.iter().zip(values.chunks_exact(hv)) {
        axpy(p * inv, v, out);
    }
}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attention::attend;
    use crate::model::kv_cache::KvType;

    #[test]
    fn prefill_attention_matches_the_per_query_path_with_gqa_and_window() {
        for window in [None, Some(5)] {
            let (n_head, n_head_kv, hd, n_ctx) = (8, 2, 64, 40);
            let shape = AttentionShape { n_head, n_head_kv, head_dim_k: hd, head_dim_v: hd, scale: 0.125, window };
            let mut cache = KvCache::new(KvType::F32, 2, n_ctx, n_head_kv * hd, n_head_kv * hd).unwrap();
            let val = |p: usize, i: usize, salt: f32| ((p * 31 + i * 7) as f32 * 0.1 + salt).sin() * 2.0;
            for p in 0..n_ctx {
                let k: Vec<f32> = (0..n_head_kv * hd).map(|i| val(p, i, 0.5)).collect();
                let v: Vec<f32> = (0..n_head_kv * hd).map(|i| val(p, i, 1.5)).collect();
                cache.store(1, p, &k, &v);
            }
            let (pos0, n_tok) = (11, 23);
            let q: Vec<f32> = (0..n_tok * n_head * hd).map(|i| (i as f32 * 0.37).cos()).collect();
            let mut fast = vec![0.0; n_tok * n_head * hd];
            attend_prefill(&shape, &cache, 1, pos0, &q, &mut fast);
            let mut slow = vec![0.0; n_tok * n_head * hd];
            let mut scores = vec![0.0; n_head * n_ctx];
            attend(&shape, &cache, 1, pos0, &mut q.clone(), &mut scores, &mut slow);
            for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
                assert!((a - b).abs() < 1e-5, "window {window:?} [{i}]: {a} vs {b}");
            }
        }
    }
}
