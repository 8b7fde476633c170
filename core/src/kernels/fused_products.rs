//! Decode's matrix-vector products: the products over one activation row in
//! one fork, in long runs of rows.
//!
//! A decoded token runs about seven matrix-vector products per layer, and each
//! one forked over the pool and ended at a join: on two threads the join is
//! where one thread waits for the other, and a small model (Gemma 3 270M:
//! ~0.5 ms per layer) pays it often. Q, K and V read the same quantized row,
//! as do gate and up; here their row runs are tasks of one fork:
//! [`matvec_together`] for Q/K/V (and for single products), and
//! [`matvec_gated`] for gate and up, each task computing the same rows of
//! both and applying the gating function (SwiGLU/GeGLU) to them at once, so
//! the activation needs no pass of its own. Tasks are a few per thread
//! ([`rows_per_task`]) rather than 16 rows each.
//!
//! Each output value comes from the same row kernel on the same bytes as in
//! `WeightMatrix::matmul_quantized`, and the gating functions are
//! element-wise, so results are bit-identical to running the products one by
//! one (`tests/fused_products.rs`).

use super::matrix::{record_products, WeightMatrix, ROWS_PER_TASK};
use super::Activations;
use crate::clock;
use crate::parallel;

/// Tasks per thread and matrix: enough for work stealing to even out the
/// threads, few enough that each task streams a long run of weights.
const TASKS_PER_THREAD: usize = 4;

/// Rows per task for `n_out` rows: a multiple of `matrix.rs`'s runs (on
/// group boundaries), about [`TASKS_PER_THREAD`] per thread; one run per
/// matrix on one thread, where nothing runs in parallel. Long runs matter
/// where memory is slow to answer: the hardware prefetchers follow a run
/// and start over at the next (16-row runs of a 2048-wide Q4_K matrix are
/// 18 KB).
fn rows_per_task(n_out: usize) -> usize {
    let threads = parallel::threads();
    if threads == 1 {
        return n_out.max(1);
    }
    n_out.div_ceil(TASKS_PER_THREAD * threads).next_multiple_of(ROWS_PER_TASK)
}

/// `out = acts · Wᵀ` for each `(W, out)` in `products`, over the one
/// quantized activation row of `acts` (the matrices' one activation
/// format), in one fork.
///
/// # Panics
/// When `acts` holds more than one row, the matrices read different
/// activation formats, or an `out` is not `n_out` long.
pub fn matvec_together(acts: &Activations, products: &mut [(&WeightMatrix<'_>, &mut [f32])]) {
    assert_eq!(acts.n_rows, 1, "matvec_together takes one activation row");
    if let Some((first, _)) = products.first() {
        let format = first.act_format();
        assert!(products.iter().all(|(m, _)| m.act_format() == format), "the matrices read different activations");
    }
    let start = clock::now();
    let mut tasks: Vec<(&WeightMatrix<'_>, usize, &mut [f32])> = Vec::new();
    for (matrix, out) in products.iter_mut() {
        assert_eq!(out.len(), matrix.n_out, "{}: out must be [{}]", matrix.name, matrix.n_out);
        let per_task = rows_per_task(matrix.n_out);
        for (i, chunk) in out.chunks_mut(per_task).enumerate() {
            tasks.push((*matrix, i * per_task, chunk));
        }
    }
    parallel::for_each_item(&mut tasks, |(matrix, first, out)| matrix.dot_row_run(*first, acts, 0, out));
    record_products(&products.iter().map(|(m, _)| *m).collect::<Vec<_>>(), 1, clock::now() - start);
}

/// `gate = gating(acts · W_gateᵀ, acts · W_upᵀ)`, with `up` holding
/// `acts · W_upᵀ`: both products over the one quantized activation row of
/// `acts` in one fork, each task computing the same rows of both and then
/// `gating(gate_rows, up_rows)` on them.
///
/// # Panics
/// When `acts` holds more than one row, the two matrices differ in shape or
/// activation format, or an output is not `n_out` long.
pub fn matvec_gated(
    acts: &Activations,
    gate: (&WeightMatrix<'_>, &mut [f32]),
    up: (&WeightMatrix<'_>, &mut [f32]),
    gating: impl Fn(&mut [f32], &[f32]) + Sync + Send,
) {
    let ((w_gate, gate_out), (w_up, up_out)) = (gate, up);
    assert_eq!(acts.n_rows, 1, "matvec_gated takes one activation row");
    assert_eq!((w_gate.n_in, w_gate.n_out), (w_up.n_in, w_up.n_out), "gate and up differ in shape");
    assert_eq!(w_gate.act_format(), w_up.act_format(), "gate and up read different activations");
    assert_eq!(gate_out.len(), w_gate.n_out);
    assert_eq!(up_out.len(), w_up.n_out);
    let start = clock::now();
    let per_task = rows_per_task(w_gate.n_out);
    let mut tasks: Vec<(usize, &mut [f32], &mut [f32])> = gate_out
        .chunks_mut(per_task)
        .zip(up_out.chunks_mut(per_task))
        .enumerate()
        .map(|(i, (g, u))| (i * per_task, g, u))
        .collect();
    parallel::for_each_item(&mut tasks, |(first, g, u)| {
        w_gate.dot_row_run(*first, acts, 0, g);
        w_up.dot_row_run(*first, acts, 0, u);
        gating(g, u);
    });
    record_products(&[w_gate, w_up], 1, clock::now() - start);
}
