//! A weight matrix bound to its kernel, and the matrix-vector (decode) and
//! matrix-matrix (prefill) products over it. Output rows are split across
//! threads with rayon when the `parallel` feature is on; the same code runs
//! single-threaded on wasm.

use std::sync::Arc;

use super::interleaved::{self, GroupDot, GROUP_ROWS};
use super::prefetch;
use super::stats::{self, StatsKey};
use super::{select_kernel, tiled, ActFormat, Activations, DotFn, Kernel, KernelMode};
use crate::clock;
use crate::error::{Error, Result};
use crate::gguf::TensorInfo;
use crate::GgmlType;

/// Output rows per parallel task: large enough to amortise scheduling, small
/// enough to balance two to sixteen threads on the smallest matrices (~500 rows).
pub(super) const ROWS_PER_TASK: usize = 16;
// Interleaved matrices are split between tasks on group boundaries.
const _: () = assert!(ROWS_PER_TASK.is_multiple_of(GROUP_ROWS));

/// Activation rows per tile in matrix-matrix products.
const TOKEN_TILE: usize = 16;

/// The weights' bytes, `[n_out, row_bytes]`.
enum RowData<'a> {
    /// The file's rows, borrowed.
    Plain(&'a [u8]),
    /// A copy made at load for the kernel's group kernels: groups of 8 rows
    /// interleaved, the last one padded (`interleaved.rs`), at `start` in an
    /// allocation that may hold other matrices' copies. `source` is the
    /// file's bytes, no longer read.
    Interleaved { copies: Arc<Vec<u8>>, start: usize, source: &'a [u8] },
}

/// `[n_out, n_in]` weights (GGUF dims `[n_in, n_out]`), borrowed from the file
/// or, for a kernel that reads rows interleaved, copied once at load.
pub struct WeightMatrix<'a> {
    pub name: String,
    pub ggml_type: GgmlType,
    pub n_in: usize,
    pub n_out: usize,
    pub row_bytes: usize,
    data: RowData<'a>,
    pub kernel: Kernel,
    stats_key: StatsKey,
}

impl std::fmt::Debug for WeightMatrix<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WeightMatrix({} {} [{}, {}] {:?})", self.name, self.ggml_type, self.n_out, self.n_in, self.kernel)
    }
}

impl<'a> WeightMatrix<'a> {
    /// Binds a 2-D tensor (or a 1-D one as a single row) to the kernel `mode` selects.
    pub fn new(info: &TensorInfo<'_>, data: &'a [u8], mode: KernelMode, isa: super::Isa) -> Result<Self> {
        let (n_in, n_out) = match info.dims[..] {
            [n_in] => (n_in, 1),
            [n_in, n_out] => (n_in, n_out),
            _ => return Err(Error::NotAMatrix { tensor: info.name.to_string(), dims: info.dims.clone() }),
        };
        Self::from_raw(info.name, info.ggml_type, n_in as usize, n_out as usize, data, mode, isa)
    }

    /// Binds `[n_out, n_in]` weights of `ggml_type` in `data` (synthetic weights, benchmarks).
    pub fn from_raw(
        name: &str,
        ggml_type: GgmlType,
        n_in: usize,
        n_out: usize,
        data: &'a [u8],
        mode: KernelMode,
        isa: super::Isa,
    ) -> Result<Self> {
        let mut m = Self::bind_plain(name, ggml_type, n_in, n_out, data, mode, isa)?;
        Self::interleave_together(&mut [&mut m]);
        Ok(m)
    }

    /// [`from_raw`](Self::from_raw) without the interleaved copy: the caller
    /// makes the copies of several matrices at once with
    /// [`interleave_together`](Self::interleave_together) (the model loader).
    pub(crate) fn bind_plain(
        name: &str,
        ggml_type: GgmlType,
        n_in: usize,
        n_out: usize,
        data: &'a [u8],
        mode: KernelMode,
        isa: super::Isa,
    ) -> Result<Self> {
        let row_bytes = ggml_type.row_bytes(n_in as u64).ok_or(Error::RowSize {
            ggml_type,
            n_values: n_in,
            n_bytes: 0,
            expected: None,
        })? as usize;
        if data.len() != row_bytes * n_out {
            return Err(Error::TensorDataSize {
                tensor: name.to_string(),
                ggml_type,
                dims: vec![n_in as u64, n_out as u64],
                expected: (row_bytes * n_out) as u64,
                found: data.len() as u64,
            });
        }
        let kernel = select_kernel(name, ggml_type, mode, isa)?;
        let stats_key = StatsKey { role: stats::role_of(name), ggml_type, kernel: kernel.name };
        stats::record_selection(&stats_key, &format!("{name}, mode {}", mode.name()));
        let data = RowData::Plain(data);
        Ok(WeightMatrix { name: name.to_string(), ggml_type, n_in, n_out, row_bytes, data, kernel, stats_key })
    }

    /// Copies the rows of every plain matrix in `matrices` that has group
    /// kernels into one new allocation, interleaved. One allocation, advised
    /// by the host (`memory_advice`), so that huge pages cover the copies
    /// whole: matrices of a few MB each covered themselves only in part, and
    /// decode lost ~15% to it. Where the memory cannot be had, the matrices
    /// stay plain and run the per-row kernels (slower, same results as
    /// `exact`'s products) rather than failing the load.
    pub fn interleave_together(matrices: &mut [&mut WeightMatrix<'a>]) {
        let wants = |m: &WeightMatrix<'a>| m.kernel.group.is_some() && matches!(m.data, RowData::Plain(_));
        let total: usize =
            matrices.iter().filter(|m| wants(m)).map(|m| interleaved::interleaved_len(m.n_out, m.row_bytes)).sum();
        let Some(mut copies) = fresh_zeroed(total) else { return };
        crate::memory_advice::advise_large_buffer(&mut copies);
        let mut starts = Vec::new();
        let mut at = 0;
        for m in matrices.iter().filter(|m| wants(m)) {
            let len = interleaved::interleaved_len(m.n_out, m.row_bytes);
            let format = m.kernel.group.expect("filtered on group kernels").format;
            interleaved::interleave_matrix_into(format, m.stored(), m.n_out, m.row_bytes, &mut copies[at..at + len]);
            starts.push(at);
            at += len;
        }
        let copies = Arc::new(copies);
        let mut starts = starts.into_iter();
        for m in matrices.iter_mut().filter(|m| wants(m)) {
            let RowData::Plain(source) = m.data else { unreachable!("filtered on plain") };
            let start = starts.next().expect("one start per copy");
            m.data = RowData::Interleaved { copies: Arc::clone(&copies), start, source };
        }
    }

    /// The file bytes this matrix was copied from and no longer reads (its
    /// rows are stored interleaved), so that a host may release their pages.
    pub fn interleaved_source(&self) -> Option<&'a [u8]> {
        match self.data {
            RowData::Interleaved { source, .. } => Some(source),
            RowData::Plain(_) => None,
        }
    }

    /// The rows as the file holds them (`[n_out, row_bytes]`), whether this
    /// matrix reads them there or from an interleaved copy: what another
    /// backend uploads.
    pub fn file_rows(&self) -> &'a [u8] {
        match self.data {
            RowData::Plain(data) => data,
            RowData::Interleaved { source, .. } => source,
        }
    }

    /// The stored bytes, plain or interleaved.
    fn stored(&self) -> &[u8] {
        match &self.data {
            RowData::Plain(data) => data,
            RowData::Interleaved { copies, start, .. } => {
                &copies[*start..*start + interleaved::interleaved_len(self.n_out, self.row_bytes)]
            }
        }
    }

    /// Bytes of weights one product streams: every row, once.
    pub fn bytes(&self) -> u64 {
        (self.n_out * self.row_bytes) as u64
    }

    /// The activation format `x` must be quantized to for this matrix.
    pub fn act_format(&self) -> ActFormat {
        self.kernel.dot.act_format()
    }

    /// Row `r` of a plain matrix.
    fn row(&self, r: usize) -> &[u8] {
        &self.stored()[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    /// `out[n_tok, n_out] = x[n_tok, n_in] · Wᵀ`, quantizing `x` into `acts` first.
    /// With n_tok = 1 this is the decode matrix-vector product.
    pub fn matmul(&self, x: &[f32], acts: &mut Activations, out: &mut [f32]) {
        let n_tok = x.len() / self.n_in.max(1);
        // Shape mistakes are programming errors, like slice indexing: fail loudly.
        assert_eq!(x.len(), n_tok * self.n_in, "{}: x must be [n_tok, {}]", self.name, self.n_in);
        assert_eq!(out.len(), n_tok * self.n_out, "{}: out must be [{n_tok}, {}]", self.name, self.n_out);
        acts.quantize(x, self.n_in, self.act_format(), self.kernel.isa);
        self.prepare(acts);
        self.matmul_quantized(acts, out);
    }

    /// Readies quantized activations for this matrix's kernel: the token tiles
    /// of a tiled kernel, when the rows are enough to take that path.
    pub(crate) fn prepare(&self, acts: &mut Activations) {
        if let Some(tk) = &self.kernel.tiled {
            if acts.n_rows >= tiled::MIN_TOKENS {
                acts.prepare_tiles(tk.width());
            }
        }
    }

    /// Like [`matmul`](Self::matmul) with activations already quantized to
    /// [`act_format`](Self::act_format) (for the decoder: Q, K and V share one input).
    pub(crate) fn matmul_quantized(&self, acts: &Activations, out: &mut [f32]) {
        let start = clock::now();
        let n_tok = acts.n_rows;
        if let Some((tk, tiles)) = self.kernel.tiled.as_ref().and_then(|tk| Some((tk, acts.tiles(tk.width())?))) {
            if n_tok >= tiled::MIN_TOKENS {
                let interleaved = match self.data {
                    RowData::Interleaved { .. } => self.kernel.group.map(|g| g.unpack),
                    RowData::Plain(_) => None,
                };
                tk.matmul(self.stored(), interleaved, self.n_out, self.row_bytes, tiles, n_tok, out);
                let bytes = self.bytes();
                stats::record_call(&self.stats_key, (self.n_out * n_tok) as u64, bytes, clock::now() - start);
                return;
            }
        }
        // out is [n_tok, n_out]; each task owns a run of output rows for every token.
        // Tokens in tiles: a task's weight rows stay in L1 while one tile of
        // activations (a few tens of KB) stays in L2, instead of streaming
        // every token's activations once per weight row.
        let dot_rows = |first_row: usize, n_rows: usize, write: &mut dyn FnMut(usize, usize, f32)| {
            for tile in (0..n_tok).step_by(TOKEN_TILE) {
                for r in first_row..first_row + n_rows {
                    let w = self.row(r);
                    for t in tile..(tile + TOKEN_TILE).min(n_tok) {
                        let v = match self.kernel.dot {
                            DotFn::Q8K(f) => f(w, acts.q8k_row(t)),
                            DotFn::Q8_0(f) => f(w, acts.q8_0_row(t)),
                            DotFn::Q8_1(f) => f(w, acts.q8_1_row(t)),
                            DotFn::F32(f) => f(w, acts.f32_row(t)),
                        };
                        write(t, r, v);
                    }
                }
            }
        };
        if n_tok == 1 || matches!(self.data, RowData::Interleaved { .. }) {
            // One matrix-vector product per token (interleaved rows have no
            // per-(row, token) kernel; they reach here with fewer than
            // tiled::MIN_TOKENS tokens).
            for (t, out_t) in out.chunks_exact_mut(self.n_out).enumerate() {
                self.for_row_chunks(out_t, 1, |first, chunk| self.dot_row_run(first, acts, t, chunk));
            }
        } else {
            // Tasks own runs of weight rows, so compute row-major [n_out, n_tok]
            // (each weight row read once for all tokens), then transpose.
            let mut by_row = vec![0.0f32; self.n_out * n_tok];
            self.for_row_chunks(&mut by_row, n_tok, |first, chunk| {
                dot_rows(first, chunk.len() / n_tok, &mut |t, r, v| chunk[(r - first) * n_tok + t] = v);
            });
            for (r, row) in by_row.chunks_exact(n_tok).enumerate() {
                for (t, &v) in row.iter().enumerate() {
                    out[t * self.n_out + r] = v;
                }
            }
        }
        let bytes = self.bytes();
        stats::record_call(&self.stats_key, (self.n_out * n_tok) as u64, bytes, clock::now() - start);
    }

    /// `out[i]` = row `first + i` · activation row `t`: decode's loop, with
    /// the kernel picked once per run rather than per row (in wasm the per-row
    /// dispatch cost as much as a third of a 2048-value Q4_K row). Interleaved
    /// rows go 8 at a time through the group kernel; `first` is then a
    /// multiple of 8 (runs start at multiples of `ROWS_PER_TASK`).
    pub(super) fn dot_row_run(&self, first: usize, acts: &Activations, t: usize, out: &mut [f32]) {
        if let (RowData::Interleaved { .. }, Some(group)) = (&self.data, self.kernel.group) {
            assert_eq!(first % GROUP_ROWS, 0, "{}: runs start on a group", self.name);
            match group.dot {
                GroupDot::Q8K(dot) => self.group_run(dot, acts.q8k_row(t), first, out),
                GroupDot::Q8_0(dot) => self.group_run(dot, acts.q8_0_row(t), first, out),
                GroupDot::Q8_1(dot) => self.group_run(dot, acts.q8_1_row(t), first, out),
            }
            return;
        }
        let rows = self.stored()[first * self.row_bytes..].chunks_exact(self.row_bytes);
        match self.kernel.dot {
            DotFn::Q8K(f) => {
                let a = acts.q8k_row(t);
                out.iter_mut().zip(rows).for_each(|(o, w)| {
                    prefetch::ahead(w.as_ptr(), w.len());
                    *o = f(w, a)
                });
            }
            DotFn::Q8_0(f) => {
                let a = acts.q8_0_row(t);
                out.iter_mut().zip(rows).for_each(|(o, w)| {
                    prefetch::ahead(w.as_ptr(), w.len());
                    *o = f(w, a)
                });
            }
            DotFn::Q8_1(f) => {
                let a = acts.q8_1_row(t);
                out.iter_mut().zip(rows).for_each(|(o, w)| {
                    prefetch::ahead(w.as_ptr(), w.len());
                    *o = f(w, a)
                });
            }
            DotFn::F32(f) => {
                let a = acts.f32_row(t);
                out.iter_mut().zip(rows).for_each(|(o, w)| *o = f(w, a));
            }
        }
    }

    /// `out[i]` = row `first + i` · `a` through a group kernel, 8 rows a call.
    fn group_run<A>(&self, dot: fn(&[u8], &[A], &mut [f32; GROUP_ROWS]), a: &[A], first: usize, out: &mut [f32]) {
        let (bytes, group_bytes) = (self.stored(), GROUP_ROWS * self.row_bytes);
        let mut result = [0.0f32; GROUP_ROWS];
        for (g, o) in out.chunks_mut(GROUP_ROWS).enumerate() {
            dot(&bytes[(first + g * GROUP_ROWS) * self.row_bytes..][..group_bytes], a, &mut result);
            o.copy_from_slice(&result[..o.len()]);
        }
    }

    /// Calls `f(first_row, slots)` over `out` split into runs of whole rows
    /// (`per_row` slots each), in parallel with the `parallel` feature.
    #[cfg(feature = "parallel")]
    fn for_row_chunks(&self, out: &mut [f32], per_row: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
        use rayon::prelude::*;
        out.par_chunks_mut(ROWS_PER_TASK * per_row).enumerate().for_each(|(i, chunk)| f(i * ROWS_PER_TASK, chunk));
    }

    #[cfg(not(feature = "parallel"))]
    fn for_row_chunks(&self, out: &mut [f32], _per_row: usize, f: impl Fn(usize, &mut [f32])) {
        f(0, out);
    }
}

/// Notes one product of each of `matrices` over `n_tok` activation rows,
/// run together in `seconds` (`fused_products.rs`): each gets the share of
/// the time its weight bytes are of theirs (the kernels stream at about
/// one rate, and the per-role report stays a split of wall time).
pub(super) fn record_products(matrices: &[&WeightMatrix<'_>], n_tok: usize, seconds: f64) {
    let total: u64 = matrices.iter().map(|m| m.bytes()).sum();
    for m in matrices {
        let share = if total == 0 { 0.0 } else { m.bytes() as f64 / total as f64 };
        stats::record_call(&m.stats_key, (m.n_out * n_tok) as u64, m.bytes(), seconds * share);
    }
}

/// `len` zero bytes straight from the allocator (for a large `len`, fresh
/// pages not yet touched, so that advice still applies), or `None` for an
/// empty request or when the memory cannot be had (no abort).
fn fresh_zeroed(len: usize) -> Option<Vec<u8>> {
    let layout = std::alloc::Layout::array::<u8>(len).ok().filter(|_| len > 0)?;
    // SAFETY: `layout` has a non-zero size; a non-null result is `len`
    // zeroed bytes from the global allocator with u8's alignment, which is
    // what a Vec<u8> of capacity `len` owns and later frees.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout);
        (!ptr.is_null()).then(|| Vec::from_raw_parts(ptr, len, len))
    }
}

#[cfg(test)]
mod tests {
    use super::fresh_zeroed;

    #[test]
    fn copies_that_cannot_be_had_are_refused_not_aborts() {
        assert!(fresh_zeroed(0).is_none());
        assert!(fresh_zeroed(usize::MAX).is_none());
        #[cfg(target_pointer_width = "64")]
        assert!(fresh_zeroed(1 << 62).is_none());
        assert_eq!(fresh_zeroed(4096).unwrap(), vec![0u8; 4096]);
    }
}
