//! A model's weights on the GPU: every matrix in its blocks, the norms and
//! biases as f32, the GELU table; uploaded once and shared by every context
//! (`GpuForward`) made over them. As a core `OffloadFactory`, it gives each
//! new context of the model its GPU forward pass.

use std::sync::Arc;

use fuselm_core::kernels::WeightMatrix;
use fuselm_core::model::{ops, FfnActivation, ForwardOffload, Model, OffloadFactory};

use crate::buffers;
use crate::device::Gpu;
use crate::error::Result;
use crate::forward::GpuForward;
use crate::kernels::Kernels;
use crate::matrix::GpuMatrix;

pub struct GpuLayer {
    pub wq: GpuMatrix,
    pub wk: GpuMatrix,
    pub wv: GpuMatrix,
    pub wo: GpuMatrix,
    pub gate: GpuMatrix,
    pub up: GpuMatrix,
    pub down: GpuMatrix,
    pub attn_norm: wgpu::Buffer,
    pub ffn_norm: wgpu::Buffer,
    pub biases: [Option<wgpu::Buffer>; 3], // q, k, v
    pub q_norm: Option<wgpu::Buffer>,
    pub k_norm: Option<wgpu::Buffer>,
    pub post_attn_norm: Option<wgpu::Buffer>,
    pub post_ffn_norm: Option<wgpu::Buffer>,
}

pub struct GpuModel {
    pub gpu: Arc<Gpu>,
    pub kernels: Arc<Kernels>,
    pub layers: Vec<GpuLayer>,
    pub output: GpuMatrix,
    pub output_norm: wgpu::Buffer,
    /// GELU of every f16 value (GeGLU models).
    pub gelu: Option<wgpu::Buffer>,
    /// Bytes uploaded: matrices, norms, biases, tables.
    pub bytes: u64,
}

struct Uploader<'g> {
    gpu: &'g Gpu,
    bytes: u64,
}

impl Uploader<'_> {
    fn matrix(&mut self, m: &WeightMatrix<'_>) -> Result<GpuMatrix> {
        self.bytes += m.bytes();
        GpuMatrix::upload(self.gpu, &m.name, m.ggml_type, m.n_in, m.n_out, m.file_rows())
    }

    fn vector(&mut self, label: &str, v: &[f32]) -> wgpu::Buffer {
        self.bytes += v.len() as u64 * 4;
        buffers::storage_init(self.gpu, label, bytemuck::cast_slice(v))
    }

    fn optional(&mut self, label: &str, v: &Option<Vec<f32>>) -> Option<wgpu::Buffer> {
        v.as_ref().map(|v| self.vector(label, v))
    }
}

impl GpuModel {
    /// Uploads `model`'s weights; a matrix in a format without a kernel is
    /// an error naming it.
    pub fn upload(gpu: Arc<Gpu>, kernels: Arc<Kernels>, model: &Model<'_>) -> Result<GpuModel> {
        let w = &model.weights;
        let mut u = Uploader { gpu: &gpu, bytes: 0 };
        let mut layers = Vec::with_capacity(w.layers.len());
        for l in &w.layers {
            layers.push(GpuLayer {
                wq: u.matrix(&l.wq)?,
                wk: u.matrix(&l.wk)?,
                wv: u.matrix(&l.wv)?,
                wo: u.matrix(&l.wo)?,
                gate: u.matrix(&l.w_gate)?,
                up: u.matrix(&l.w_up)?,
                down: u.matrix(&l.w_down)?,
                attn_norm: u.vector("attn_norm", &l.attn_norm),
                ffn_norm: u.vector("ffn_norm", &l.ffn_norm),
                biases: [
                    u.optional("attn_q.bias", &l.bq),
                    u.optional("attn_k.bias", &l.bk),
                    u.optional("attn_v.bias", &l.bv),
                ],
                q_norm: u.optional("attn_q_norm", &l.q_norm),
                k_norm: u.optional("attn_k_norm", &l.k_norm),
                post_attn_norm: u.optional("post_attention_norm", &l.post_attn_norm),
                post_ffn_norm: u.optional("post_ffw_norm", &l.post_ffn_norm),
            });
        }
        let output = u.matrix(&w.output)?;
        let output_norm = u.vector("output_norm", &w.output_norm);
        let gelu = match model.config.ffn_activation {
            FfnActivation::GeluTanh => Some(u.vector("gelu table", ops::gelu_table())),
            FfnActivation::Silu => None,
        };
        let bytes = u.bytes;
        gpu.check()?;
        Ok(GpuModel { gpu, kernels, layers, output, output_norm, gelu, bytes })
    }

    /// Every matrix, layer by layer, then the output.
    pub fn matrices(&self) -> impl Iterator<Item = &GpuMatrix> {
        self.layers
            .iter()
            .flat_map(|l| [&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down])
            .chain(std::iter::once(&self.output))
    }
}

impl OffloadFactory for GpuModel {
    fn offload(
        &self,
        model: &Model<'_>,
        n_ctx: usize,
        n_batch: usize,
        logits_all: bool,
    ) -> fuselm_core::Result<Box<dyn ForwardOffload>> {
        GpuForward::new(self, model, n_ctx, n_batch, logits_all)
            .map(|f| Box::new(f) as Box<dyn ForwardOffload>)
            .map_err(|e| crate::offload::to_core(e, &self.gpu))
    }
}
