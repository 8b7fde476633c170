//! Prefill attention for the fast kernel set, all in f32: each KV head's key
//! and value rows are converted from the cache once per batch (not once per
//! query head and query, 8x redundant under GQA), then every query head runs
//! a two-pass softmax over the keys its position may see (causal, sliding
//! window), with a vectorizing `exp`, four queries at a time so that they
//! share every key and value read. Tasks are query heads, one fork per
//! layer rather than one per token. The exact set keeps `attention::attend`
//! (llama.cpp's flash-attention arithmetic with f16 rounding).

use super::attention::{AttentionShape, MAX_HEAD_DIM};
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
        // for a run of keys are plain vector FMAs (no horizontal sums); LANES
        // keys at a time (converted into `rows`, then written LANES
        // contiguous values per dimension rather than one per cache line)
        let mut rows = vec![0.0f32; LANES * hk]; // [LANES, hk]
        for g in 0..shape.n_head_kv {
            let kt = &mut keys[g * hk * span..(g + 1) * hk * span];
            for j0 in (0..span).step_by(LANES) {
                let m = LANES.min(span - j0);
                for (i, row) in rows.chunks_exact_mut(hk).take(m).enumerate() {
                    cache.read_key(layer, first_key + j0 + i, g * hk, row);
                }
                for d in 0..hk {
                    for (i, dst) in kt[d * span + j0..][..m].iter_mut().enumerate() {
                        *dst = rows[i * hk + d];
                    }
                }
            }
            for (j, pos) in (first_key..n_keys).enumerate() {
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
            let v_head = &values[g * span * hv..(g + 1) * span * hv]; // [span, hv]
            SCORES.with_borrow_mut(|scores| {
                scores.resize(QUERIES * span, 0.0); // [QUERIES, span]
                let mut acc = [[0.0f32; MAX_HEAD_DIM]; QUERIES];
                for t0 in (0..n_tok).step_by(QUERIES) {
                    let n_q = QUERIES.min(n_tok - t0);
                    // A short last tile repeats its last query; the copies are not written.
                    let tile: [usize; QUERIES] = std::array::from_fn(|i| t0 + i.min(n_q - 1));
                    let q_rows = tile.map(|t| &q[t * q_dim + h * hk..][..hk]);
                    let ranges = tile.map(|t| {
                        let pos = pos0 + t;
                        let lo = shape.window.map_or(0, |w| (pos + 1).saturating_sub(w)) - first_key;
                        lo..pos + 1 - first_key
                    });
                    let mut outs = acc.each_mut().map(|a| &mut a[..hv]);
                    attend_tile(q_rows, ranges, k_head, span, v_head, shape.scale, scores, &mut outs);
                    for (i, out_row) in outs.iter().enumerate().take(n_q) {
                        // SAFETY: head h writes only its own columns of each output row.
                        unsafe { shared.write((t0 + i) * out_dim + h * hv, out_row) };
                    }
                }
            });
        };
        crate::parallel::for_each_index(shape.n_head, head);
    });
}

/// Queries per tile: they share every key and value row read (from L1 or
/// L2), four times fewer reads than one query at a time.
const QUERIES: usize = 4;

/// Keys (for scores) or value dimensions (for the output) per run: with
/// [`QUERIES`] queries, 4 x 16 accumulators stay in registers.
const LANES: usize = 16;

fma_dispatch! {
/// Softmax-weighted sums of `values` (`[span, hv]`) for [`QUERIES`] queries,
/// query `i` seeing keys `ranges[i]` of `keys_t` (`[hk, span]`, transposed).
/// Scores are computed for the union of the ranges, [`LANES`] keys by 4
/// queries at a time; keys outside a query's range get weight 0. Each
/// query's sums run over keys and dimensions in the order of a query on its
/// own, so a weight of 0 adds exactly nothing. `scores`: `[QUERIES, span]`
/// scratch; `out`: `[QUERIES][hv]`.
#[allow(clippy::too_many_arguments)]
pub fn attend_tile(
    q: [&[f32]; QUERIES],
    ranges: [std::ops::Range<usize>; QUERIES],
    keys_t: &[f32],
    span: usize,
    values: &[f32],
    scale: f32,
    scores: &mut [f32],
    out: &mut [&mut [f32]; QUERIES],
) {
    let lo = ranges.iter().map(|r| r.start).min().unwrap_or(0);
    let hi = ranges.iter().map(|r| r.end).max().unwrap_or(0);
    let n = hi - lo;
    let hk = q[0].len();
    let hv = out[0].len();
    // ---- scores of the union, [QUERIES, n] (row stride span)
    for j0 in (0..n).step_by(LANES) {
        let m = LANES.min(n - j0);
        let mut acc = [[0.0f32; LANES]; QUERIES];
        if m == LANES {
            for d in 0..hk {
                let k: &[f32; LANES] = keys_t[d * span + lo + j0..][..LANES].try_into().unwrap();
                let qd: [f32; QUERIES] = std::array::from_fn(|qi| q[qi][d]);
                for qi in 0..QUERIES {
                    for l in 0..LANES {
                        acc[qi][l] = fmadd(qd[qi], k[l], acc[qi][l]);
                    }
                }
            }
        } else {
            for d in 0..hk {
                let k = &keys_t[d * span + lo + j0..][..m];
                for (qi, a) in acc.iter_mut().enumerate() {
                    let qd = q[qi][d];
                    for (x, &kv) in a[..m].iter_mut().zip(k) {
                        *x = fmadd(qd, kv, *x);
                    }
                }
            }
        }
        for (qi, a) in acc.iter().enumerate() {
            for (s, x) in scores[qi * span + j0..][..m].iter_mut().zip(a) {
                *s = x * scale;
            }
        }
    }
    // ---- softmax over each query's own keys; 0 elsewhere
    let mut inv = [0.0f32; QUERIES];
    for (qi, range) in ranges.iter().enumerate() {
        let row = &mut scores[qi * span..][..n];
        let own = range.start - lo..range.end - lo;
        let max = row[own.clone()].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        // The exps in one loop (it vectorizes), their sum in order in another.
        for s in row[own.clone()].iter_mut() {
            *s = ggml_expf(*s - max);
        }
        let sum: f32 = row[own.clone()].iter().sum();
        row[..own.start].fill(0.0);
        row[own.end..].fill(0.0);
        inv[qi] = 1.0 / sum;
    }
    // ---- weighted sums, LANES dimensions by 4 queries at a time
    let weights: [&[f32]; QUERIES] = std::array::from_fn(|qi| &scores[qi * span..][..n]);
    for d0 in (0..hv).step_by(LANES) {
        let m = LANES.min(hv - d0);
        let mut acc = [[0.0f32; LANES]; QUERIES];
        if m == LANES {
            for (j, v) in values[lo * hv..hi * hv].chunks_exact(hv).enumerate() {
                let v: &[f32; LANES] = v[d0..d0 + LANES].try_into().unwrap();
                let p: [f32; QUERIES] = std::array::from_fn(|qi| weights[qi][j]);
                for qi in 0..QUERIES {
                    for l in 0..LANES {
                        acc[qi][l] = fmadd(p[qi], v[l], acc[qi][l]);
                    }
                }
            }
        } else {
            for (j, v) in values[lo * hv..hi * hv].chunks_exact(hv).enumerate() {
                for (qi, a) in acc.iter_mut().enumerate() {
                    let p = weights[qi][j];
                    for (x, &vv) in a[..m].iter_mut().zip(&v[d0..d0 + m]) {
                        *x = fmadd(p, vv, *x);
                    }
                }
            }
        }
        for (qi, a) in acc.iter().enumerate() {
            for (o, x) in out[qi][d0..d0 + m].iter_mut().zip(a) {
                *o = x * inv[qi];
            }
        }
    }
}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attention::attend;
    use crate::model::kv_cache::KvType;

    /// One query on its own, in the order the tile promises for each query.
    fn one_query(
        q: &[f32],
        keys_t: &[f32],
        span: usize,
        keys: std::ops::Range<usize>,
        values: &[f32],
        hv: usize,
    ) -> Vec<f32> {
        let scores: Vec<f32> = keys
            .clone()
            .map(|j| q.iter().enumerate().fold(0.0f32, |a, (d, &qd)| fmadd(qd, keys_t[d * span + j], a)) * 0.125)
            .collect();
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let weights: Vec<f32> = scores.iter().map(|s| ggml_expf(s - max)).collect();
        let inv = 1.0 / weights.iter().sum::<f32>();
        (0..hv)
            .map(|d| keys.clone().zip(&weights).fold(0.0f32, |a, (j, &p)| fmadd(p, values[j * hv + d], a)) * inv)
            .collect()
    }

    #[test]
    fn a_tile_of_queries_computes_each_as_on_its_own() {
        // Head sizes with and without a tail run; ranges that start and end
        // apart (a window), a short tile repeating its last query.
        for (hk, hv) in [(64, 64), (72, 40)] {
            let span = 50;
            let keys_t: Vec<f32> = (0..hk * span).map(|i| ((i * 7919 % 1000) as f32 * 0.013).sin() * 3.0).collect();
            let values: Vec<f32> = (0..span * hv).map(|i| ((i * 104_729 % 1000) as f32 * 0.017).cos() * 2.0).collect();
            let qs: Vec<Vec<f32>> =
                (0..4).map(|t| (0..hk).map(|d| ((t * 131 + d * 17) as f32 * 0.05).sin()).collect()).collect();
            for ranges in [[0..47, 0..48, 0..49, 0..50], [3..20, 4..21, 5..22, 5..22], [9..10, 9..11, 10..12, 10..12]] {
                let mut scores = vec![0.0; QUERIES * span];
                let mut bufs = [[0.0f32; 128]; QUERIES];
                let mut outs = bufs.each_mut().map(|a| &mut a[..hv]);
                let q = [&qs[0][..], &qs[1][..], &qs[2][..], &qs[3][..]];
                attend_tile(q, ranges.clone(), &keys_t, span, &values, 0.125, &mut scores, &mut outs);
                for (qi, range) in ranges.iter().enumerate() {
                    let want = one_query(q[qi], &keys_t, span, range.clone(), &values, hv);
                    assert!(outs[qi].iter().zip(&want).all(|(a, b)| a == b), "{hk}/{hv} {ranges:?} query {qi}");
                }
            }
        }
    }

    #[test]
    fn prefill_attention_matches_the_per_query_path_with_gqa_and_window() {
        // Short and long spans (runs of 64 keys and their tails), head sizes
        // of one run and of one and a half.
        for (window, hd, n_ctx, pos0, n_tok) in [
            (None, 64, 40, 11, 23),
            (Some(5), 64, 40, 11, 23),
            (None, 64, 200, 40, 150),
            (Some(70), 96, 200, 40, 150),
            (Some(9), 72, 60, 3, 41),
        ] {
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
