//! Causal multi-head attention over the KV cache, with grouped KV heads
//! (GQA/MQA) and an optional sliding window. Query heads run in parallel with
//! the `parallel` feature; every buffer is preallocated by the caller.

use super::kv_cache::KvCache;
use super::ops::{axpy, dot, dot_ggml_order, fma_dispatch, fmadd, round_to_f16, softmax_in_place};

/// Head dimensions up to this size use stack buffers for a converted cache row.
pub const MAX_HEAD_DIM: usize = 512;

pub struct AttentionShape {
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim_k: usize,
    pub head_dim_v: usize,
    pub scale: f32,
    /// Keys at distance `window` or more from the query are masked.
    pub window: Option<usize>,
}

/// For each of `n_tok` queries at positions `pos0..pos0 + n_tok` (their keys
/// and values already in `cache`), writes the attention output.
///
/// `q`: `[n_tok, n_head * head_dim_k]` (modified: rounded to f16 when the cache is f16);
/// `scores`: `[n_head, n_ctx]` scratch; `out`: `[n_tok, n_head * head_dim_v]`.
pub fn attend(
    shape: &AttentionShape,
    cache: &KvCache,
    layer: usize,
    pos0: usize,
    q: &mut [f32],
    scores: &mut [f32],
    out: &mut [f32],
) {
    let q_dim = shape.n_head * shape.head_dim_k;
    let out_dim = shape.n_head * shape.head_dim_v;
    if cache.rounds_to_f16() {
        // ggml multiplies an f16 K by Q converted to f16: round the same way.
        for v in q.iter_mut() {
            *v = round_to_f16(*v);
        }
    }
    for (t, (q_row, out_row)) in q.chunks_exact(q_dim).zip(out.chunks_exact_mut(out_dim)).enumerate() {
        let pos = pos0 + t;
        let first = shape.window.map_or(0, |w| (pos + 1).saturating_sub(w));
        let n_keys = pos + 1 - first;
        let f16_cache = cache.rounds_to_f16();
        let head_task = |h: usize, scores: &mut [f32], out_head: &mut [f32]| {
            let kv_head = h / (shape.n_head / shape.n_head_kv);
            let q_head = &q_row[h * shape.head_dim_k..(h + 1) * shape.head_dim_k];
            let keys = first..first + n_keys;
            if f16_cache {
                attend_head_online_f16(shape, cache, layer, kv_head, keys, q_head, out_head);
            } else {
                attend_head_f32(shape, cache, layer, kv_head, keys, q_head, &mut scores[..n_keys], out_head);
            }
        };
        let n_ctx = scores.len() / shape.n_head;
        for_each_head(scores, n_ctx, out_row, shape.head_dim_v, head_task);
    }
}

fma_dispatch! {
/// Two passes in f32: all scores, softmax, then the weighted sum of values.
#[allow(clippy::too_many_arguments)]
pub fn attend_head_f32(
    shape: &AttentionShape,
    cache: &KvCache,
    layer: usize,
    kv_head: usize,
    keys: std::ops::Range<usize>,
    q_head: &[f32],
    scores: &mut [f32],
    out_head: &mut [f32],
) {
    let mut row = [0.0f32; MAX_HEAD_DIM];
    let k_row = &mut row[..shape.head_dim_k];
    for (pos, s) in keys.clone().zip(scores.iter_mut()) {
        cache.read_key(layer, pos, kv_head * shape.head_dim_k, k_row);
        *s = dot(q_head, k_row) * shape.scale;
    }
    softmax_in_place(scores);
    out_head.fill(0.0);
    let v_row = &mut row[..shape.head_dim_v];
    for (pos, &p) in keys.zip(scores.iter()) {
        cache.read_value(layer, pos, kv_head * shape.head_dim_v, v_row);
        axpy(p, v_row, out_head);
    }
}
}

fma_dispatch! {
/// One pass with an online softmax and the weighted sum of values kept in
/// f16, rounded after every key: the arithmetic of ggml's CPU flash
/// attention over an f16 cache, which llama.cpp runs for decoding and short
/// prompts. Following it keeps greedy outputs on llama.cpp's path at
/// near-ties; against llama.cpp's f32-accumulating batched path it costs
/// about 0.4% perplexity (tests/perplexity.rs). The f32 cache takes the
/// plain two-pass path instead.
pub fn attend_head_online_f16(
    shape: &AttentionShape,
    cache: &KvCache,
    layer: usize,
    kv_head: usize,
    keys: std::ops::Range<usize>,
    q_head: &[f32],
    out_head: &mut [f32],
) {
    let mut k_buf = [0.0f32; MAX_HEAD_DIM];
    let mut v_buf = [0.0f32; MAX_HEAD_DIM];
    let k_row = &mut k_buf[..shape.head_dim_k];
    let v_row = &mut v_buf[..shape.head_dim_v];
    // out_head holds the f16-valued accumulator as f32.
    out_head.fill(0.0);
    let (mut max, mut sum) = (f32::NEG_INFINITY, 0.0f32);
    for pos in keys {
        cache.read_key(layer, pos, kv_head * shape.head_dim_k, k_row);
        let s = dot_ggml_order(k_row, q_head) * shape.scale;
        let (mut rescale, mut weight) = (1.0f32, 1.0f32);
        if s > max {
            rescale = (max - s).exp();
            max = s;
            for acc in out_head.iter_mut() {
                *acc = round_to_f16(*acc * rescale);
            }
        } else {
            weight = (s - max).exp();
        }
        cache.read_value(layer, pos, kv_head * shape.head_dim_v, v_row);
        for (acc, &v) in out_head.iter_mut().zip(v_row.iter()) {
            *acc = round_to_f16(fmadd(v, weight, *acc));
        }
        sum = fmadd(sum, rescale, weight);
    }
    let inv = if sum == 0.0 { 0.0 } else { 1.0 / sum };
    out_head.iter_mut().for_each(|v| *v *= inv);
}
}

#[cfg(feature = "parallel")]
fn for_each_head(
    scores: &mut [f32],
    n_ctx: usize,
    out_row: &mut [f32],
    head_dim_v: usize,
    task: impl Fn(usize, &mut [f32], &mut [f32]) + Sync + Send,
) {
    use rayon::prelude::*;
    scores
        .par_chunks_mut(n_ctx)
        .zip(out_row.par_chunks_mut(head_dim_v))
        .enumerate()
        .for_each(|(h, (s, o))| task(h, s, o));
}

#[cfg(not(feature = "parallel"))]
fn for_each_head(
    scores: &mut [f32],
    n_ctx: usize,
    out_row: &mut [f32],
    head_dim_v: usize,
    task: impl Fn(usize, &mut [f32], &mut [f32]),
) {
    for (h, (s, o)) in scores.chunks_mut(n_ctx).zip(out_row.chunks_mut(head_dim_v)).enumerate() {
        task(h, s, o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kv_cache::KvType;

    /// Straightforward f64 attention over explicit K/V rows.
    fn reference(q: &[f32], keys: &[Vec<f32>], values: &[Vec<f32>], scale: f32) -> Vec<f32> {
        let s: Vec<f64> =
            keys.iter().map(|k| q.iter().zip(k).map(|(a, b)| (a * b) as f64).sum::<f64>() * scale as f64).collect();
        let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = s.iter().map(|v| (v - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        let mut out = vec![0.0f64; values[0].len()];
        for (p, v) in e.iter().zip(values) {
            for (o, x) in out.iter_mut().zip(v) {
                *o += p / sum * *x as f64;
            }
        }
        out.into_iter().map(|v| v as f32).collect()
    }

    #[test]
    fn grouped_heads_window_and_causality_match_a_reference() {
        let (n_head, n_head_kv, hd, n_ctx) = (4, 2, 8, 6);
        let shape = AttentionShape { n_head, n_head_kv, head_dim_k: hd, head_dim_v: hd, scale: 0.3, window: Some(3) };
        let mut cache = KvCache::new(KvType::F32, 1, n_ctx, n_head_kv * hd, n_head_kv * hd).unwrap();
        cache.reserve(n_ctx).unwrap();
        let val = |p: usize, i: usize, salt: f32| ((p * 31 + i * 7) as f32 * 0.1 + salt).sin();
        let krow = |p: usize| (0..n_head_kv * hd).map(|i| val(p, i, 0.5)).collect::<Vec<f32>>();
        let vrow = |p: usize| (0..n_head_kv * hd).map(|i| val(p, i, 1.5)).collect::<Vec<f32>>();
        for p in 0..5 {
            cache.store(0, p, &krow(p), &vrow(p));
        }
        // Two queries at positions 3 and 4.
        let mut q: Vec<f32> = (0..2 * n_head * hd).map(|i| (i as f32 * 0.37).cos()).collect();
        let q_orig = q.clone();
        let mut scores = vec![0.0; n_head * n_ctx];
        let mut out = vec![0.0; 2 * n_head * hd];
        attend(&shape, &cache, 0, 3, &mut q, &mut scores, &mut out);
        for t in 0..2 {
            let pos = 3 + t;
            for h in 0..n_head {
                let g = h / 2;
                // Window 3: positions pos-2..=pos.
                let keys: Vec<Vec<f32>> = (pos - 2..=pos).map(|p| krow(p)[g * hd..(g + 1) * hd].to_vec()).collect();
                let values: Vec<Vec<f32>> = (pos - 2..=pos).map(|p| vrow(p)[g * hd..(g + 1) * hd].to_vec()).collect();
                let qh = &q_orig[(t * n_head + h) * hd..(t * n_head + h + 1) * hd];
                let want = reference(qh, &keys, &values, 0.3);
                let got = &out[(t * n_head + h) * hd..(t * n_head + h + 1) * hd];
                for (a, b) in got.iter().zip(&want) {
                    assert!((a - b).abs() < 1e-5, "t={t} h={h}: {got:?} vs {want:?}");
                }
            }
        }
    }
}
