//! One compute dispatch with its bindings, and the builders for each kernel.
//! A forward pass is a list of these, encoded into one pass per batch.

use crate::buffers;
use crate::device::Gpu;
use crate::formats::GpuAct;
use crate::kernels::Kernels;

/// A kernel bound to its buffers. The workgroup count along `token_axis`
/// is multiplied by the batch's tokens.
pub struct Dispatch {
    pipeline: wgpu::ComputePipeline,
    group: wgpu::BindGroup,
    dims: [u32; 3],
    token_axis: usize,
}

impl Dispatch {
    pub fn new(
        gpu: &Gpu,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
        dims: [u32; 3],
        token_axis: usize,
    ) -> Dispatch {
        let ranges: Vec<wgpu::BufferBinding<'_>> = buffers.iter().map(|b| b.as_entire_buffer_binding()).collect();
        Self::with_ranges(gpu, pipeline, &ranges, dims, token_axis)
    }

    /// [`Dispatch::new`] over buffer ranges.
    pub fn with_ranges(
        gpu: &Gpu,
        pipeline: &wgpu::ComputePipeline,
        ranges: &[wgpu::BufferBinding<'_>],
        dims: [u32; 3],
        token_axis: usize,
    ) -> Dispatch {
        let group = buffers::bind_group_ranges(gpu, pipeline, ranges);
        Dispatch { pipeline: pipeline.clone(), group, dims, token_axis }
    }

    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, n_tok: u32) {
        let mut dims = self.dims;
        dims[self.token_axis] *= n_tok;
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.group, &[]);
        pass.dispatch_workgroups(dims[0], dims[1], dims[2]);
    }
}

pub fn encode_all(dispatches: &[Dispatch], pass: &mut wgpu::ComputePass<'_>, n_tok: u32) {
    for d in dispatches {
        d.encode(pass, n_tok);
    }
}

/// Quantizes `[n_tok, n]` f32 rows of `src` into `act` (rows of `format.row_words(n)`).
pub fn quantize(gpu: &Gpu, k: &Kernels, format: GpuAct, n: usize, src: &wgpu::Buffer, act: &wgpu::Buffer) -> Dispatch {
    let params = buffers::uniform(gpu, "quantize", &[n as u32, format.row_words(n) as u32]);
    Dispatch::new(gpu, k.quantize(format), &[src, act, &params], [format.workgroups(n), 1, 1], 1)
}

/// The rows an RMSNorm runs over: `rows` per token of `n` values each.
#[derive(Clone, Copy)]
pub struct NormRows {
    pub n: usize,
    pub rows: usize,
    pub eps: f32,
}

/// `dst = rms_norm(src) · weight`.
pub fn rms_norm(
    gpu: &Gpu,
    k: &Kernels,
    src: &wgpu::Buffer,
    weight: &wgpu::Buffer,
    dst: &wgpu::Buffer,
    r: NormRows,
) -> Dispatch {
    let params = buffers::uniform(gpu, "rms_norm", &[r.n as u32, r.eps.to_bits()]);
    Dispatch::new(gpu, &k.rms_norm, &[dst, weight, &params, src], [r.rows as u32, 1, 1], 0)
}

/// RMSNorm of `x` in place.
pub fn rms_norm_in_place(gpu: &Gpu, k: &Kernels, x: &wgpu::Buffer, weight: &wgpu::Buffer, r: NormRows) -> Dispatch {
    let params = buffers::uniform(gpu, "rms_norm", &[r.n as u32, r.eps.to_bits()]);
    Dispatch::new(gpu, &k.rms_norm_in_place, &[x, weight, &params], [r.rows as u32, 1, 1], 0)
}

/// An elementwise.wgsl kernel over rows of `n` values of `a`, one per token.
pub fn elementwise(
    gpu: &Gpu,
    pipeline: &wgpu::ComputePipeline,
    a: wgpu::BufferBinding<'_>,
    b: &wgpu::Buffer,
    c: &wgpu::Buffer,
    n: usize,
    s: f32,
) -> Dispatch {
    let params = buffers::uniform(gpu, "elementwise", &[n as u32, s.to_bits()]);
    let ranges = [a, b.as_entire_buffer_binding(), c.as_entire_buffer_binding(), params.as_entire_buffer_binding()];
    Dispatch::with_ranges(gpu, pipeline, &ranges, [n.div_ceil(256) as u32, 1, 1], 1)
}
