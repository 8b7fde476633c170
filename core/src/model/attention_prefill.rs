//! Prefill attention for the fast kernel set, all in f32: each KV head's key
//! and value rows are converted from the cache once per batch (not once per
//! query head and query, 8x redundant under GQA), then every query head runs
//! a two-pass softmax over the keys its position may see (causal, sliding
//! window), with a vectorizing `exp`. Tasks are query heads, one fork per
//! layer rather than one per token. The exact set keeps `attention::attend`
//! (llama.cpp's flash-attention arithmetic with f16 rounding).

use super::attention::AttentionShape;
use super::kv_cache::KvCache;
use super::ops::{fma_dispatch, fmadd, ggml_expf};
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
        // keys transposed, [n_head_kv, hk, span], so that one query's scores
        // for a run of keys are plain vector FMAs (no horizontal sums)
        let mut row = vec![0.0f32; hk];
        for g in 0..shape.n_head_kv {
            let kt = &mut keys[g * hk * span..(g + 1) * hk * span];
            for (j, pos) in (first_key..n_keys).enumerate() {
                cache.read_key(layer, pos, g * hk, &mut row);
                for (d, &v) in row.iter().enumerate() {
                    kt[d * span + j] = v;
                }
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
            let k_head = &keys[g * span * hk..(g + 1) * span * hk]; // [hk, span]
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
                        k_head,
                        span,
                        lo,
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
        crate::parallel::for_each_index(shape.n_head, head);
    });
}

/// Keys (and value dimensions) per register-resident run of accumulators.
const RUN: usize = 64;

fma_dispatch! {
/// Softmax-weighted sum of `values` (`[n, hv]`) for one query over keys
/// `lo..lo + n` of `keys_t` (`[hk, span]`, transposed). Scores are computed
/// RUN keys at a time and the output RUN dimensions at a time, each run's
/// accumulators in registers.
#[allow(clippy::too_many_arguments)]
pub fn attend_rows(
    q: &[f32],
    keys_t: &[f32],
    span: usize,
    lo: usize,
    values: &[f32],
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    let n = scores.len();
    let hv = out.len();
    for j0 in (0..n).step_by(RUN) {
        let m = RUN.min(n - j0);
        let mut acc = [0.0f32; RUN];
        if m == RUN {
            // Fixed trip counts: the 64 accumulators stay in registers.
            for (d, &qd) in q.iter().enumerate() {
                let k: &[f32; RUN] = keys_t[d * span + lo + j0..][..RUN].try_into().unwrap();
                for i in 0..RUN {
                    acc[i] = fmadd(qd, k[i], acc[i]);
                }
            }
        } else {
            for (d, &qd) in q.iter().enumerate() {
                let k = &keys_t[d * span + lo + j0..][..m];
                for (a, &kv) in acc[..m].iter_mut().zip(k) {
                    *a = fmadd(qd, kv, *a);
                }
            }
        }
        for (s, a) in scores[j0..j0 + m].iter_mut().zip(&acc[..m]) {
            *s = a * scale;
        }
    }
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for s in scores.iter_mut() {
        *s = ggml_expf(*s - max);
        sum += *s;
    }
    let inv = 1.0 / sum;
    for d0 in (0..hv).step_by(RUN) {
        let m = RUN.min(hv - d0);
        let mut acc = [0.0f32; RUN];
        if m == RUN {
            for (&p, v) in scores.iter().zip(values.chunks_exact(hv)) {
                let v: &[f32; RUN] = v[d0..d0 + RUN].try_into().unwrap();
                for i in 0..RUN {
                    acc[i] = fmadd(p, v[i], acc[i]);
                }
            }
        } else {
            for (&p, v) in scores.iter().zip(values.chunks_exact(hv)) {
                for (a, &x) in acc[..m].iter_mut().zip(&v[d0..d0 + m]) {
                    *a = fmadd(p, x, *a);
                }
            }
        }
        for (o, a) in out[d0..d0 + m].iter_mut().zip(&acc[..m]) {
            *o = a * inv;
        }
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
        // Short and long spans (runs of 64 keys and their tails), head sizes
        // of one run and of one and a half.
        for (window, hd, n_ctx, pos0, n_tok) in
            [(None, 64, 40, 11, 23), (Some(5), 64, 40, 11, 23), (None, 64, 200, 40, 150), (Some(70), 96, 200, 40, 150)]
        {
            let (n_head, n_head_kv) = (8, 2);
            let shape = AttentionShape { n_head, n_head_kv, head_dim_k: hd, head_dim_v: hd, scale: 0.125, window };
            let mut cache = KvCache::new(KvType::F32, 2, n_ctx, n_head_kv * hd, n_head_kv * hd).unwrap();
            cache.reserve(n_ctx).unwrap();
            let val = |p: usize, i: usize, salt: f32| ((p * 31 + i * 7) as f32 * 0.1 + salt).sin() * 2.0;
            for p in 0..n_ctx {
                let k: Vec<f32> = (0..n_head_kv * hd).map(|i| val(p, i, 0.5)).collect();
                let v: Vec<f32> = (0..n_head_kv * hd).map(|i| val(p, i, 1.5)).collect();
                cache.store(1, p, &k, &v);
            }
            let q: Vec<f32> = (0..n_tok * n_head * hd).map(|i| (i as f32 * 0.37).cos()).collect();
            let mut fast = vec![0.0; n_tok * n_head * hd];
            attend_prefill(&shape, &cache, 1, pos0, &q, &mut fast);
            let mut slow = vec![0.0; n_tok * n_head * hd];
            attend(&shape, &cache, 1, pos0, &mut q.clone(), &mut slow);
            for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
                assert!((a - b).abs() < 1e-5, "window {window:?} [{i}]: {a} vs {b}");
            }
        }
    }
}
