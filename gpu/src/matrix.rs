//! A weight matrix on the GPU: the file's blocks, row by row, in parts of
//! whole rows that each fit one storage binding (lavapipe binds 128 MiB, so
//! a 151936 x 1536 Q6_K embedding takes two parts), and the matrix-vector
//! product over them.

use fuselm_core::GgmlType;

use crate::buffers;
use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::formats::{self, GpuAct};
use crate::kernels::Kernels;

pub struct MatrixPart {
    pub weights: wgpu::Buffer, // [n_rows, row_bytes], padded to a word
    pub row0: usize,
    pub n_rows: usize,
}

/// `[n_out, n_in]` weights in their GGUF blocks.
pub struct GpuMatrix {
    pub name: String,
    pub ggml_type: GgmlType,
    pub act: GpuAct,
    pub n_in: usize,
    pub n_out: usize,
    pub row_bytes: usize,
    pub parts: Vec<MatrixPart>,
}

impl GpuMatrix {
    /// Uploads `data` (`[n_out, row_bytes]`, the tensor's bytes in the file)
    /// in parts of at most one storage binding.
    pub fn upload(gpu: &Gpu, name: &str, ggml_type: GgmlType, n_in: usize, n_out: usize, data: &[u8]) -> Result<Self> {
        Self::upload_in_parts(gpu, name, ggml_type, n_in, n_out, data, gpu.max_binding())
    }

    /// [`GpuMatrix::upload`] in parts of at most `limit` bytes.
    pub fn upload_in_parts(
        gpu: &Gpu,
        name: &str,
        ggml_type: GgmlType,
        n_in: usize,
        n_out: usize,
        data: &[u8],
        limit: u64,
    ) -> Result<Self> {
        let format = formats::format(ggml_type).ok_or_else(|| GpuError::UnsupportedFormat {
            tensor: name.to_string(),
            ggml_type,
            supported: formats::supported_names(),
        })?;
        let row_bytes = data.len() / n_out.max(1);
        assert_eq!(row_bytes * n_out, data.len(), "{name}: the data must be whole rows");
        let rows_per_part = (limit / row_bytes.max(1) as u64) as usize;
        if rows_per_part == 0 {
            return Err(GpuError::TooLarge {
                what: format!("{name}: one row"),
                bytes: row_bytes as u64,
                limit,
                adapter: gpu.describe(),
            });
        }
        let parts = (0..n_out)
            .step_by(rows_per_part)
            .map(|row0| {
                let n_rows = rows_per_part.min(n_out - row0);
                let bytes = &data[row0 * row_bytes..(row0 + n_rows) * row_bytes];
                MatrixPart { weights: buffers::storage_init(gpu, name, bytes), row0, n_rows }
            })
            .collect();
        Ok(GpuMatrix { name: name.to_string(), ggml_type, act: format.act, n_in, n_out, row_bytes, parts })
    }

    /// The product reading activations from `act` (rows of `act_stride`
    /// words from word `act_offset`, quantized to [`GpuMatrix::act`]) and
    /// writing `y` (`[n_tok, n_out]`).
    pub fn bind(
        &self,
        gpu: &Gpu,
        kernels: &Kernels,
        act: &wgpu::Buffer,
        act_offset: usize,
        act_stride: usize,
        y: &wgpu::Buffer,
    ) -> BoundMatvec {
        let pipeline = kernels.matvec(self.ggml_type).expect("upload checked the format").clone();
        let n_blocks = self.n_in / self.act.block_values();
        let parts = self
            .parts
            .iter()
            .map(|part| {
                let params = buffers::uniform(
                    gpu,
                    &self.name,
                    &[
                        part.n_rows as u32,
                        self.row_bytes as u32,
                        n_blocks as u32,
                        part.row0 as u32,
                        self.n_out as u32,
                        act_stride as u32,
                        act_offset as u32,
                    ],
                );
                let group = buffers::bind_group(gpu, &pipeline, &[&part.weights, act, y, &params]);
                (group, part.n_rows.div_ceil(ROWS_PER_WORKGROUP) as u32)
            })
            .collect();
        BoundMatvec { pipeline, parts }
    }
}

/// matvec.wgsl's ROWS.
const ROWS_PER_WORKGROUP: usize = 8;

/// A matrix-vector product with its buffers bound, ready to encode.
pub struct BoundMatvec {
    pipeline: wgpu::ComputePipeline,
    parts: Vec<(wgpu::BindGroup, u32)>,
}

impl BoundMatvec {
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, n_tok: u32) {
        pass.set_pipeline(&self.pipeline);
        for (group, workgroups) in &self.parts {
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(*workgroups, 1, n_tok);
        }
    }
}

/// Quantizes `[n_tok, n]` f32 rows of `src` into `act` for `act` format.
pub struct BoundQuantize {
    pipeline: wgpu::ComputePipeline,
    group: wgpu::BindGroup,
    workgroups: u32,
}

impl BoundQuantize {
    pub fn new(gpu: &Gpu, kernels: &Kernels, format: GpuAct, n: usize, src: &wgpu::Buffer, act: &wgpu::Buffer) -> Self {
        let pipeline = kernels.quantize(format).clone();
        let params = buffers::uniform(gpu, "quantize", &[n as u32, format.row_words(n) as u32]);
        let group = buffers::bind_group(gpu, &pipeline, &[src, act, &params]);
        BoundQuantize { pipeline, group, workgroups: format.workgroups(n) }
    }

    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, n_tok: u32) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.group, &[]);
        pass.dispatch_workgroups(self.workgroups, n_tok, 1);
    }
}
