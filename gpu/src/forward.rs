//! The whole forward pass on the GPU: a model's weights uploaded once, the
//! activation buffers and per-layer KV caches of one sequence, and every
//! kernel bound to them at build time. A batch is one command encoder: the
//! token embeddings and RoPE angles (computed on the CPU, as the CPU path
//! computes them) go up, the logits come back.

use std::sync::{Arc, Mutex};

use fuselm_core::model::{ops, Model, RopeKind};

use crate::buffers;
use crate::device::Gpu;
use crate::dispatch::{self, Dispatch, NormRows};
use crate::error::{GpuError, Result};
use crate::formats::GpuAct;
use crate::kernels::Kernels;
use crate::matrix::GpuMatrix;
use crate::weights::GpuModel;

/// The largest head the attention kernel takes (one invocation per dimension).
const MAX_HEAD_DIM: usize = 256;

pub struct GpuForward {
    gpu: Arc<Gpu>,
    n_embd: usize,
    n_vocab: usize,
    n_batch: usize,
    n_ctx: usize,
    logits_all: bool,
    x: wgpu::Buffer,       // [n_batch, n_embd] residual stream
    x_last: wgpu::Buffer,  // [n_embd] the last token's row, for its logits alone
    logits: wgpu::Buffer,  // [n_batch or 1, n_vocab]
    staging: wgpu::Buffer, // the logits' read-back copy
    rope: [RopeTables; 2], // global, sliding-window layers
    step: wgpu::Buffer,    // Step: pos0, n_tok
    layers: Vec<Dispatch>,
    output_last: Vec<Dispatch>,
    /// Every row's logits: the norm and quantization, then per chunk of rows
    /// (first row, dispatches over up to the next chunk's first row).
    output_prepare: Vec<Dispatch>,
    output_chunks: Vec<(usize, Vec<Dispatch>)>,
    /// Logit rows computed on the GPU and not yet read back.
    pending_rows: Option<usize>,
    /// Logit rows being copied into `staging` and mapped, and the mapping's
    /// outcome once it is known (set by the map callback).
    reading: Option<(usize, MapOutcome)>,
    /// Bytes allocated for this sequence (activations, KV caches).
    pub buffer_bytes: u64,
}

/// What a buffer mapping ended with, shared with its callback.
type MapOutcome = Arc<Mutex<Option<std::result::Result<(), String>>>>;

struct RopeTables {
    freq_base: f32,
    freq_scale: f32,
    cos: wgpu::Buffer, // [n_batch, n_rot / 2]
    sin: wgpu::Buffer, // [n_batch, n_rot / 2]
}

/// Builds the dispatches over one set of buffers.
struct Builder<'g> {
    gpu: &'g Gpu,
    k: &'g Kernels,
    /// One activation buffer per format: `[n_batch, row words of the widest input]`.
    acts: Vec<(GpuAct, wgpu::Buffer)>,
    dummy: wgpu::Buffer,
    buffer_bytes: u64,
    out: Vec<Dispatch>,
}

impl Builder<'_> {
    fn storage(&mut self, label: &str, floats: usize) -> wgpu::Buffer {
        self.buffer_bytes += floats as u64 * 4;
        buffers::storage(self.gpu, label, floats as u64 * 4)
    }

    fn act(&self, format: GpuAct) -> &wgpu::Buffer {
        &self.acts.iter().find(|(f, _)| *f == format).expect("an activation buffer per format").1
    }

    /// Quantizes `x` (`[n_tok, n_in]`) once per activation format the
    /// matrices need, then runs each into its output.
    fn project(&mut self, x: &wgpu::Buffer, products: &[(&GpuMatrix, &wgpu::Buffer)]) {
        let mut done: Vec<GpuAct> = Vec::new();
        for (m, _) in products {
            if !done.contains(&m.act) {
                let d = dispatch::quantize(self.gpu, self.k, m.act, m.n_in, x, self.act(m.act));
                self.out.push(d);
                done.push(m.act);
            }
        }
        for (m, y) in products {
            let d = m.dispatches(
                self.gpu,
                self.k,
                self.act(m.act),
                0,
                m.act.row_words(m.n_in),
                y.as_entire_buffer_binding(),
            );
            self.out.extend(d);
        }
    }

    /// `x += proj`, with `proj` normed first where the block has a post norm (Gemma 3).
    fn residual(&mut self, x: &wgpu::Buffer, proj: &wgpu::Buffer, norm: Option<&wgpu::Buffer>, rows: NormRows) {
        if let Some(norm) = norm {
            self.out.push(dispatch::rms_norm_in_place(self.gpu, self.k, proj, norm, rows));
        }
        self.elementwise(&self.k.elementwise.add, x, Some(proj), rows.n, 0.0);
    }

    /// An element-wise kernel that reads no table (binding c unused).
    fn elementwise(
        &mut self,
        pipeline: &wgpu::ComputePipeline,
        a: &wgpu::Buffer,
        b: Option<&wgpu::Buffer>,
        n: usize,
        s: f32,
    ) {
        let a = a.as_entire_buffer_binding();
        let d = dispatch::elementwise(self.gpu, pipeline, a, b.unwrap_or(&self.dummy), &self.dummy, n, s);
        self.out.push(d);
    }
}

impl GpuForward {
    /// Binds a sequence of up to `n_ctx` positions, evaluated in batches of
    /// up to `n_batch` tokens, over `weights` (uploaded from `model`).
    pub fn new(
        weights: &GpuModel,
        model: &Model<'_>,
        n_ctx: usize,
        n_batch: usize,
        logits_all: bool,
    ) -> Result<GpuForward> {
        let gpu = std::sync::Arc::clone(&weights.gpu);
        let kernels: &Kernels = &weights.kernels;
        let cfg = &model.config;
        let (n_embd, n_ff, n_vocab) = (cfg.n_embd, cfg.n_ff, model.n_vocab());
        let (q_dim, k_dim, v_dim) = (cfg.q_dim(), cfg.k_dim(), cfg.v_dim());
        let att_dim = cfg.n_head * cfg.head_dim_v;
        if cfg.head_dim_k > MAX_HEAD_DIM || cfg.head_dim_v > MAX_HEAD_DIM || k_dim % 2 != 0 || v_dim % 2 != 0 {
            return Err(GpuError::Unsupported(format!(
                "heads of {} / {} dimensions (the GPU attention kernel takes even dimensions up to {MAX_HEAD_DIM})",
                cfg.head_dim_k, cfg.head_dim_v
            )));
        }
        let gpu_ref: &Gpu = &gpu;
        let mut b = Builder {
            gpu: gpu_ref,
            k: kernels,
            acts: Vec::new(),
            dummy: buffers::storage(gpu_ref, "unused", 4),
            buffer_bytes: 0,
            out: Vec::new(),
        };
        let output = &weights.output;
        // ---- activations
        let mut widest: Vec<(GpuAct, usize)> = Vec::new();
        for m in weights.matrices() {
            let words = m.act.row_words(m.n_in);
            match widest.iter_mut().find(|(f, _)| *f == m.act) {
                Some((_, w)) => *w = (*w).max(words),
                None => widest.push((m.act, words)),
            }
        }
        for (format, words) in widest {
            let buffer = b.storage("activations", n_batch * words);
            b.acts.push((format, buffer));
        }
        let x = b.storage("x", n_batch * n_embd);
        let xn = b.storage("xn", n_batch * n_embd);
        let q = b.storage("q", n_batch * q_dim);
        let kb = b.storage("k", n_batch * k_dim);
        let vb = b.storage("v", n_batch * v_dim);
        let att = b.storage("attention", n_batch * att_dim);
        let proj = b.storage("proj", n_batch * n_embd);
        let gate = b.storage("gate", n_batch * n_ff);
        let up = b.storage("up", n_batch * n_ff);
        let x_last = b.storage("x_last", n_embd);
        let logits = b.storage("logits", if logits_all { n_batch } else { 1 } * n_vocab);
        let half = cfg.rope.n_rot / 2;
        let rope = [(cfg.rope.freq_base, cfg.rope.freq_scale), (cfg.rope.freq_base_swa, cfg.rope.freq_scale_swa)].map(
            |(freq_base, freq_scale)| RopeTables {
                freq_base,
                freq_scale,
                cos: buffers::storage(gpu_ref, "rope cos", (n_batch * half.max(1) * 4) as u64),
                sin: buffers::storage(gpu_ref, "rope sin", (n_batch * half.max(1) * 4) as u64),
            },
        );
        let step = buffers::uniform(gpu_ref, "step", &[0, 0]);
        let eps = cfg.rms_eps;
        let e = &kernels.elementwise;
        // ---- the layers
        for (il, l) in weights.layers.iter().enumerate() {
            let is_swa = cfg.swa_layers[il];
            let k_cache = b.storage("key cache", n_ctx * k_dim / 2);
            let v_cache = b.storage("value cache", n_ctx * v_dim / 2);
            b.out.push(dispatch::rms_norm(
                gpu_ref,
                kernels,
                &x,
                &l.attn_norm,
                &xn,
                NormRows { n: n_embd, rows: 1, eps },
            ));
            b.project(&xn, &[(&l.wq, &q), (&l.wk, &kb), (&l.wv, &vb)]);
            for (bias, (y, n)) in l.biases.iter().zip([(&q, q_dim), (&kb, k_dim), (&vb, v_dim)]) {
                if let Some(bias) = bias {
                    b.elementwise(&e.add_bias, y, Some(bias), n, 0.0);
                }
            }
            for (norm, y, heads) in [(&l.q_norm, &q, cfg.n_head), (&l.k_norm, &kb, cfg.n_head_kv)] {
                if let Some(norm) = norm {
                    let d = dispatch::rms_norm_in_place(
                        gpu_ref,
                        kernels,
                        y,
                        norm,
                        NormRows { n: cfg.head_dim_k, rows: heads, eps },
                    );
                    b.out.push(d);
                }
            }
            let tables = &rope[usize::from(is_swa)];
            if half > 0 {
                let neox = u32::from(cfg.rope.kind == RopeKind::Neox);
                for (y, heads) in [(&q, cfg.n_head), (&kb, cfg.n_head_kv)] {
                    let params =
                        buffers::uniform(gpu_ref, "rope", &[heads as u32, cfg.head_dim_k as u32, half as u32, neox]);
                    let groups = (heads * half).div_ceil(64) as u32;
                    b.out.push(Dispatch::new(
                        gpu_ref,
                        &kernels.rope,
                        &[y, &tables.cos, &tables.sin, &params],
                        [groups, 1, 1],
                        1,
                    ));
                }
            }
            if cfg.scale_queries {
                b.elementwise(&e.scale, &q, None, q_dim, cfg.attn_scale);
            }
            let kv_params = buffers::uniform(gpu_ref, "kv", &[k_dim as u32, v_dim as u32]);
            let groups = (k_dim.max(v_dim) / 2).div_ceil(64) as u32;
            b.out.push(Dispatch::new(
                gpu_ref,
                &kernels.kv_store,
                &[&kb, &vb, &k_cache, &v_cache, &kv_params, &step],
                [groups, 1, 1],
                1,
            ));
            let window = if is_swa { cfg.sliding_window.unwrap_or(0) } else { 0 };
            let scale = if cfg.scale_queries { 1.0f32 } else { cfg.attn_scale };
            let att_params = buffers::uniform(
                gpu_ref,
                "attention",
                &[
                    cfg.n_head as u32,
                    cfg.n_head_kv as u32,
                    cfg.head_dim_k as u32,
                    cfg.head_dim_v as u32,
                    window as u32,
                    scale.to_bits(),
                ],
            );
            b.out.push(Dispatch::new(
                gpu_ref,
                &kernels.attention,
                &[&q, &k_cache, &v_cache, &att, &att_params, &step],
                [cfg.n_head as u32, 1, 1],
                1,
            ));
            b.project(&att, &[(&l.wo, &proj)]);
            b.residual(&x, &proj, l.post_attn_norm.as_ref(), NormRows { n: n_embd, rows: 1, eps });
            // ---- feed-forward
            b.out.push(dispatch::rms_norm(
                gpu_ref,
                kernels,
                &x,
                &l.ffn_norm,
                &xn,
                NormRows { n: n_embd, rows: 1, eps },
            ));
            b.project(&xn, &[(&l.gate, &gate), (&l.up, &up)]);
            match &weights.gelu {
                None => b.elementwise(&e.swiglu, &gate, Some(&up), n_ff, 0.0),
                Some(table) => {
                    let a = gate.as_entire_buffer_binding();
                    let d = dispatch::elementwise(gpu_ref, &e.geglu, a, &up, table, n_ff, 0.0);
                    b.out.push(d);
                }
            }
            b.project(&gate, &[(&l.down, &proj)]);
            b.residual(&x, &proj, l.post_ffn_norm.as_ref(), NormRows { n: n_embd, rows: 1, eps });
        }
        let layer_dispatches = std::mem::take(&mut b.out);
        // ---- output: the last row's logits (from x_last), or every row's in
        // chunks of rows whose logits fit one binding (Gemma 3's 262144-entry
        // vocabulary takes 1 MiB a row).
        let output_norm = &weights.output_norm;
        let row_bytes = (n_vocab * 4) as u64;
        let out_act = b.act(output.act).clone();
        let stride = output.act.row_words(n_embd);
        let logit_rows = |b: &mut Builder<'_>, row0: usize, rows: usize| {
            let y = buffers::range(&logits, row0 as u64 * row_bytes, rows as u64 * row_bytes);
            let d = output.dispatches(gpu_ref, kernels, &out_act, row0 * stride, stride, y.clone());
            b.out.extend(d);
            if let Some(cap) = cfg.final_logit_softcap {
                let d = dispatch::elementwise(gpu_ref, &e.softcap, y, &b.dummy, &b.dummy, n_vocab, cap);
                b.out.push(d);
            }
        };
        let prepare = |b: &mut Builder<'_>, src: &wgpu::Buffer| {
            b.out.push(dispatch::rms_norm(
                gpu_ref,
                kernels,
                src,
                output_norm,
                &xn,
                NormRows { n: n_embd, rows: 1, eps },
            ));
            b.out.push(dispatch::quantize(gpu_ref, kernels, output.act, n_embd, &xn, &out_act));
            std::mem::take(&mut b.out)
        };
        let mut output_last = prepare(&mut b, &x_last);
        logit_rows(&mut b, 0, 1);
        output_last.append(&mut b.out);
        let output_prepare = prepare(&mut b, &x);
        let mut output_chunks = Vec::new();
        if logits_all {
            let align = gpu_ref.limits.min_storage_buffer_offset_alignment as u64;
            let step = (align / gcd(row_bytes, align)) as usize;
            let rows = (gpu_ref.max_binding() / row_bytes) as usize / step * step;
            if rows == 0 {
                return Err(GpuError::TooLarge {
                    what: format!("the logits of {} rows", step),
                    bytes: step as u64 * row_bytes,
                    limit: gpu_ref.max_binding(),
                    adapter: gpu_ref.describe(),
                });
            }
            for row0 in (0..n_batch).step_by(rows) {
                logit_rows(&mut b, row0, rows.min(n_batch - row0));
                output_chunks.push((row0, std::mem::take(&mut b.out)));
            }
        }
        let buffer_bytes = b.buffer_bytes;
        let staging = buffers::read_back(gpu_ref, logits.size());
        drop(b);
        gpu.check()?;
        Ok(GpuForward {
            gpu,
            n_embd,
            n_vocab,
            n_batch,
            n_ctx,
            logits_all,
            x,
            x_last,
            logits,
            staging,
            rope,
            step,
            layers: layer_dispatches,
            output_last,
            output_prepare,
            output_chunks,
            pending_rows: None,
            reading: None,
            buffer_bytes,
        })
    }
}

impl GpuForward {
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Evaluates `tokens` at positions `pos0..`, writing the logits of the
    /// last one, or of all with `all`, into `logits` (`[rows, n_vocab]`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn forward_batch(
        &mut self,
        model: &Model<'_>,
        tokens: &[u32],
        pos0: usize,
        all: bool,
        logits: &mut [f32],
    ) -> Result<()> {
        self.submit_batch(model, tokens, pos0, all)?;
        let rows = self.pending_rows.take().unwrap_or(0);
        let bytes = (rows * self.n_vocab * 4) as u64;
        let values = buffers::read_through(&self.gpu, &self.logits, 0, bytes, &self.staging)?;
        logits[..rows * self.n_vocab].copy_from_slice(bytemuck::cast_slice(&values));
        Ok(())
    }

    /// Encodes and submits the evaluation of `tokens` at positions `pos0..`;
    /// the logits (of the last token, or of all with `all`) stay on the GPU
    /// until read ([`GpuForward::start_read`]). A later batch replaces them.
    pub fn submit_batch(&mut self, model: &Model<'_>, tokens: &[u32], pos0: usize, all: bool) -> Result<()> {
        let n = tokens.len();
        let cfg = &model.config;
        if let Some((_, outcome)) = &self.reading {
            // A read that completed but was never taken (a completion given
            // up while its logits were on their way) is dropped.
            match outcome.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                Some(Ok(())) => self.staging.unmap(),
                Some(Err(_)) => {}
                None => {
                    return Err(GpuError::Unsupported(
                        "a batch submitted while the last logits were being read back (await the read first)".into(),
                    ))
                }
            }
            self.reading = None;
        }
        if n == 0 || n > self.n_batch || pos0 + n > self.n_ctx || (all && !self.logits_all) {
            return Err(GpuError::Unsupported(format!(
                "a batch of {n} tokens at position {pos0} (this GPU context holds {} positions in batches of {}{})",
                self.n_ctx,
                self.n_batch,
                if self.logits_all { "" } else { ", last logits only" }
            )));
        }
        let q = &self.gpu.queue;
        // Embeddings, as the CPU path computes them.
        let mut rows = vec![0.0f32; n * self.n_embd]; // [n, n_embd]
        for (&token, row) in tokens.iter().zip(rows.chunks_exact_mut(self.n_embd)) {
            model.weights.token_embd.row(token, row)?;
            if cfg.embed_scale != 1.0 {
                row.iter_mut().for_each(|v| *v *= cfg.embed_scale);
            }
        }
        q.write_buffer(&self.x, 0, bytemuck::cast_slice(&rows));
        let half = cfg.rope.n_rot / 2;
        if half > 0 {
            let (mut cos, mut sin) = (vec![0.0f32; n * half], vec![0.0f32; n * half]); // [n, half]
            for t in &self.rope {
                for i in 0..n {
                    let (c, s) = (&mut cos[i * half..(i + 1) * half], &mut sin[i * half..(i + 1) * half]);
                    ops::rope_angles(pos0 + i, cfg.rope.n_rot, t.freq_base, t.freq_scale, c, s);
                }
                q.write_buffer(&t.cos, 0, bytemuck::cast_slice(&cos));
                q.write_buffer(&t.sin, 0, bytemuck::cast_slice(&sin));
            }
        }
        q.write_buffer(&self.step, 0, bytemuck::cast_slice(&[pos0 as u32, n as u32, 0, 0]));
        let mut encoder = self.gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            dispatch::encode_all(&self.layers, &mut pass, n as u32);
        }
        let out_rows = if all { n } else { 1 };
        if !all {
            let row_bytes = (self.n_embd * 4) as u64;
            encoder.copy_buffer_to_buffer(&self.x, (n as u64 - 1) * row_bytes, &self.x_last, 0, row_bytes);
        }
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            if all {
                dispatch::encode_all(&self.output_prepare, &mut pass, n as u32);
                let mut chunks = self.output_chunks.iter().peekable();
                while let Some((row0, dispatches)) = chunks.next() {
                    let end = chunks.peek().map_or(self.n_batch, |(next, _)| *next).min(n);
                    if *row0 < end {
                        dispatch::encode_all(dispatches, &mut pass, (end - row0) as u32);
                    }
                }
            } else {
                dispatch::encode_all(&self.output_last, &mut pass, 1);
            }
        }
        q.submit([encoder.finish()]);
        self.pending_rows = Some(out_rows);
        Ok(())
    }

    /// Whether logits were computed and not yet read back (or are being read).
    pub fn logits_pending(&self) -> bool {
        self.pending_rows.is_some() || self.reading.is_some()
    }

    /// Whether a read-back was started and has not completed yet.
    pub fn read_in_flight(&self) -> bool {
        self.reading.as_ref().is_some_and(|(_, outcome)| outcome.lock().unwrap_or_else(|p| p.into_inner()).is_none())
    }

    /// Whether logits were computed and their read-back not started yet.
    pub fn logits_pending_read(&self) -> bool {
        self.pending_rows.is_some()
    }

    /// Starts reading back the last batch's logits: `on_mapped` runs once
    /// they can be taken with [`GpuForward::finish_read`] (on the web, once
    /// the worker's event loop has turned).
    pub fn start_read(
        &mut self,
        on_mapped: impl FnOnce(std::result::Result<(), String>) + wgpu::WasmNotSend + 'static,
    ) -> Result<()> {
        let rows = self.pending_rows.take().ok_or_else(|| GpuError::Unsupported("no logits to read back".into()))?;
        let outcome: MapOutcome = Arc::default();
        let sink = Arc::clone(&outcome);
        let bytes = (rows * self.n_vocab * 4) as u64;
        buffers::copy_and_map(&self.gpu, &self.logits, 0, bytes, &self.staging, move |r| {
            let r = r.map_err(|e| e.to_string());
            *sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(r.clone());
            on_mapped(r);
        });
        self.reading = Some((rows, outcome));
        self.gpu.check()
    }

    /// Copies the logits [`GpuForward::start_read`] mapped into `logits`
    /// (`[rows, n_vocab]`, as many rows as the batch produced).
    pub fn finish_read(&mut self, logits: &mut [f32]) -> Result<()> {
        let Some((rows, outcome)) = self.reading.take() else {
            return Err(GpuError::Unsupported("no logits are being read back".into()));
        };
        let outcome = outcome.lock().unwrap_or_else(|p| p.into_inner()).take();
        let driver = |why: String| GpuError::Driver { adapter: self.gpu.describe(), why };
        match outcome {
            Some(Ok(())) => {}
            Some(Err(why)) => return Err(driver(format!("reading the logits back: {why}"))),
            None => {
                self.staging.unmap();
                return Err(driver("the logits were taken before their read-back completed".into()));
            }
        }
        let n = rows * self.n_vocab;
        if logits.len() < n {
            self.staging.unmap();
            return Err(GpuError::Unsupported(format!("{} logits for {rows} rows of {}", logits.len(), self.n_vocab)));
        }
        buffers::take_mapped(&self.gpu, &self.staging, bytemuck::cast_slice_mut(&mut logits[..n]))?;
        self.gpu.check()
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
