//! A weight matrix on the GPU: the file's blocks, row by row, in parts of
//! whole rows that each fit one storage binding (lavapipe binds 128 MiB, so
//! a 151936 x 1536 Q6_K embedding takes two parts), and the matrix-vector
//! product over them.

use fuselm_core::GgmlType;

use crate::buffers;
use crate::device::Gpu;
use crate::dispatch::Dispatch;
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
    /// writing `y` (`[n_tok, n_out]`): a dispatch per part.
    pub fn dispatches(
        &self,
        gpu: &Gpu,
        kernels: &Kernels,
        act: &wgpu::Buffer,
        act_offset: usize,
        act_stride: usize,
        y: wgpu::BufferBinding<'_>,
    ) -> Vec<Dispatch> {
        let pipeline = kernels.matvec(self.ggml_type).expect("upload checked the format");
        let n_blocks = self.n_in / self.act.block_values();
        self.parts
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
                let workgroups = part.n_rows.div_ceil(ROWS_PER_WORKGROUP) as u32;
                let ranges = [
                    part.weights.as_entire_buffer_binding(),
                    act.as_entire_buffer_binding(),
                    y.clone(),
                    params.as_entire_buffer_binding(),
                ];
                Dispatch::with_ranges(gpu, pipeline, &ranges, [workgroups, 1, 1], 2)
            })
            .collect()
    }
}

/// matvec.wgsl's ROWS.
const ROWS_PER_WORKGROUP: usize = 8;
