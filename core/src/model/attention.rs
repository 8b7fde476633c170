//! Causal multi-head attention over the KV cache, with grouped KV heads
//! (GQA/MQA) and an optional sliding window. Runs of query heads sharing a KV
//! head run in parallel with the `parallel` feature; the f32 cache's scores
//! use a scratch buffer per thread.

use super::kv_cache::KvCache;
use super::ops::{
    axpy, dot, dot_ggml_order, fma_dispatch, fmadd, mad_round_f16, round_to_f16, scale_round_f16, softmax_in_place,
};
use crate::parallel;

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

/// Query heads per task at most: one task reads each key and value row of its
/// KV head once for all of its query heads (GQA), and keeps their softmax
/// states on the stack.
const MAX_HEADS_PER_TASK: usize = 8;

/// Query heads per task: a divisor of the GQA group (a task never spans two KV
/// heads), as large as allows, while leaving every thread a task.
fn heads_per_task(shape: &AttentionShape, n_tok: usize, threads: usize) -> usize {
    let group = shape.n_head / shape.n_head_kv;
    // Divisors of the group, largest first; 1 (the most tasks) when none leaves every thread a task.
    let mut divisors = (1..=group.min(MAX_HEADS_PER_TASK)).rev().filter(|&d| group.is_multiple_of(d));
    divisors.find(|d| n_tok * shape.n_head / d >= threads).unwrap_or(1)
}

/// For each of `n_tok` queries at positions `pos0..pos0 + n_tok` (their keys
/// and values already in `cache`), writes the attention output. Tasks (a
/// token and a run of query heads sharing one KV head) run in parallel with
/// the `parallel` feature, all in one fork.
///
/// `q`: `[n_tok, n_head * head_dim_k]` (modified: rounded to f16 when the cache is f16);
/// `out`: `[n_tok, n_head * head_dim_v]`.
pub fn attend(shape: &AttentionShape, cache: &KvCache, layer: usize, pos0: usize, q: &mut [f32], out: &mut [f32]) {
    let (hk, hv) = (shape.head_dim_k, shape.head_dim_v);
    let q_dim = shape.n_head * hk;
    let n_tok = q.len() / q_dim;
    assert_eq!(out.len(), n_tok * shape.n_head * hv);
    let f16_cache = cache.rounds_to_f16();
    if f16_cache {
        // ggml multiplies an f16 K by Q converted to f16: round the same way.
        for v in q.iter_mut() {
            *v = round_to_f16(*v);
        }
    }
    let q = &*q;
    let per_task = heads_per_task(shape, n_tok, parallel::threads());
    let tasks_per_token = shape.n_head / per_task;
    let group = shape.n_head / shape.n_head_kv;
    let task = |i: usize, out_heads: &mut [f32]| {
        let (t, h0) = (i / tasks_per_token, i % tasks_per_token * per_task);
        let pos = pos0 + t;
        let first = shape.window.map_or(0, |w| (pos + 1).saturating_sub(w));
        let keys = first..pos + 1;
        let kv_head = h0 / group;
        let q_heads = &q[t * q_dim + h0 * hk..][..per_task * hk]; // [per_task, hk]
        if f16_cache {
            attend_heads_online_f16(shape, cache, layer, kv_head, keys, q_heads, out_heads);
        } else {
            thread_local! {
                static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            SCORES.with_borrow_mut(|scores| {
                scores.resize(keys.len(), 0.0);
                for (q_head, out_head) in q_heads.chunks_exact(hk).zip(out_heads.chunks_exact_mut(hv)) {
                    attend_head_f32(shape, cache, layer, kv_head, keys.clone(), q_head, scores, out_head);
                }
            });
        }
    };
    parallel::for_each_chunk(out, per_task * hv, task);
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
///
/// For up to [`MAX_HEADS_PER_TASK`] query heads of one KV head at once
/// (`q_heads`: `[m, head_dim_k]`, `out_heads`: `[m, head_dim_v]`): each key and
/// value row is converted from f16 once for all of them, and every head's
/// arithmetic is that of a head on its own.
pub fn attend_heads_online_f16(
    shape: &AttentionShape,
    cache: &KvCache,
    layer: usize,
    kv_head: usize,
    keys: std::ops::Range<usize>,
    q_heads: &[f32],
    out_heads: &mut [f32],
) {
    let (hk, hv) = (shape.head_dim_k, shape.head_dim_v);
    let m = q_heads.len() / hk;
    assert!(m <= MAX_HEADS_PER_TASK && out_heads.len() == m * hv);
    let mut k_buf = [0.0f32; MAX_HEAD_DIM];
    let mut v_buf = [0.0f32; MAX_HEAD_DIM];
    let k_row = &mut k_buf[..hk];
    let v_row = &mut v_buf[..hv];
    // out_heads holds the f16-valued accumulators as f32.
    out_heads.fill(0.0);
    let mut max = [f32::NEG_INFINITY; MAX_HEADS_PER_TASK];
    let mut sum = [0.0f32; MAX_HEADS_PER_TASK];
    for pos in keys {
        cache.read_key(layer, pos, kv_head * hk, k_row);
        let mut rescale = [1.0f32; MAX_HEADS_PER_TASK];
        let mut weight = [1.0f32; MAX_HEADS_PER_TASK];
        for (j, (q_head, acc)) in q_heads.chunks_exact(hk).zip(out_heads.chunks_exact_mut(hv)).enumerate() {
            let s = dot_ggml_order(k_row, q_head) * shape.scale;
            if s > max[j] {
                rescale[j] = (max[j] - s).exp();
                max[j] = s;
                scale_round_f16(acc, rescale[j]);
            } else {
                weight[j] = (s - max[j]).exp();
            }
        }
        cache.read_value(layer, pos, kv_head * hv, v_row);
        for (j, acc) in out_heads.chunks_exact_mut(hv).enumerate() {
            mad_round_f16(acc, v_row, weight[j]);
            sum[j] = fmadd(sum[j], rescale[j], weight[j]);
        }
    }
    for (j, acc) in out_heads.chunks_exact_mut(hv).enumerate() {
        let inv = if sum[j] == 0.0 { 0.0 } else { 1.0 / sum[j] };
        acc.iter_mut().for_each(|v| *v *= inv);
    }
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
        let mut out = vec![0.0; 2 * n_head * hd];
        attend(&shape, &cache, 0, 3, &mut q, &mut out);
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

    /// ggml's flash-attention arithmetic for one query head on its own, as
    /// this module computed it before heads shared their key and value rows.
    fn online_f16_one_head(shape: &AttentionShape, cache: &KvCache, kv_head: usize, pos: usize, q: &[f32]) -> Vec<f32> {
        let (hk, hv) = (shape.head_dim_k, shape.head_dim_v);
        let (mut k, mut v) = (vec![0.0; hk], vec![0.0; hv]);
        let mut acc = vec![0.0f32; hv];
        let (mut max, mut sum) = (f32::NEG_INFINITY, 0.0f32);
        let first = shape.window.map_or(0, |w| (pos + 1).saturating_sub(w));
        for p in first..=pos {
            cache.read_key(0, p, kv_head * hk, &mut k);
            let s = dot_ggml_order(&k, q) * shape.scale;
            let (mut rescale, mut weight) = (1.0f32, 1.0f32);
            if s > max {
                rescale = (max - s).exp();
                max = s;
                acc.iter_mut().for_each(|a| *a = round_to_f16(*a * rescale));
            } else {
                weight = (s - max).exp();
            }
            cache.read_value(0, p, kv_head * hv, &mut v);
            for (a, &x) in acc.iter_mut().zip(&v) {
                *a = round_to_f16(fmadd(x, weight, *a));
            }
            sum = fmadd(sum, rescale, weight);
        }
        acc.iter().map(|a| a * if sum == 0.0 { 0.0 } else { 1.0 / sum }).collect()
    }

    #[test]
    fn heads_sharing_rows_compute_each_head_bit_for_bit_as_alone() {
        // (n_head, n_head_kv): MHA, GQA groups of 2, 6 (tasks of 6, 3, 2) and
        // 16 (two tasks of 8 per group), MQA; one token and a batch; windows.
        for (n_head, n_head_kv, window, n_tok) in [
            (4, 4, None, 1),
            (4, 2, Some(5), 3),
            (12, 2, None, 1),
            (12, 2, Some(9), 2),
            (32, 2, None, 1),
            (4, 1, None, 1),
        ] {
            let (hd, n_ctx, pos0) = (64, 40, 30);
            let shape = AttentionShape { n_head, n_head_kv, head_dim_k: hd, head_dim_v: hd, scale: 0.125, window };
            let mut cache = KvCache::new(KvType::F16, 1, n_ctx, n_head_kv * hd, n_head_kv * hd).unwrap();
            cache.reserve(n_ctx).unwrap();
            let val = |p: usize, i: usize, salt: f32| ((p * 31 + i * 7) as f32 * 0.1 + salt).sin() * 3.0;
            for p in 0..pos0 + n_tok {
                let k: Vec<f32> = (0..n_head_kv * hd).map(|i| val(p, i, 0.5)).collect();
                let v: Vec<f32> = (0..n_head_kv * hd).map(|i| val(p, i, 1.5)).collect();
                cache.store(0, p, &k, &v);
            }
            let mut q: Vec<f32> = (0..n_tok * n_head * hd).map(|i| (i as f32 * 0.37).cos() * 2.0).collect();
            let mut out = vec![0.0; n_tok * n_head * hd];
            attend(&shape, &cache, 0, pos0, &mut q, &mut out);
            let group = n_head / n_head_kv;
            for t in 0..n_tok {
                for h in 0..n_head {
                    let q_head = &q[(t * n_head + h) * hd..][..hd]; // already rounded to f16
                    let want = online_f16_one_head(&shape, &cache, h / group, pos0 + t, q_head);
                    let got = &out[(t * n_head + h) * hd..][..hd];
                    let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{n_head}/{n_head_kv} heads, token {t}, head {h}: {got:?} vs {want:?}");
                }
            }
        }
    }

    #[test]
    fn tasks_stay_inside_one_kv_head_and_leave_every_thread_work() {
        let shape = |n_head, n_head_kv| AttentionShape {
            n_head,
            n_head_kv,
            head_dim_k: 64,
            head_dim_v: 64,
            scale: 1.0,
            window: None,
        };
        assert_eq!(heads_per_task(&shape(12, 2), 1, 2), 6);
        assert_eq!(heads_per_task(&shape(12, 2), 1, 4), 3);
        assert_eq!(heads_per_task(&shape(32, 4), 1, 2), 8);
        assert_eq!(heads_per_task(&shape(4, 1), 1, 2), 2);
        assert_eq!(heads_per_task(&shape(4, 1), 1, 1), 4);
        assert_eq!(heads_per_task(&shape(4, 1), 8, 4), 4);
        assert_eq!(heads_per_task(&shape(4, 4), 1, 8), 1);
        assert_eq!(heads_per_task(&shape(64, 1), 1, 1), 8);
    }
}
