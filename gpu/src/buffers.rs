//! Buffer creation, uniform parameters and read-back.

use wgpu::util::DeviceExt;

use crate::device::Gpu;
use crate::error::Result;

/// A storage buffer of `bytes` (rounded up to a word), zeroed.
pub fn storage(gpu: &Gpu, label: &str, bytes: u64) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4).next_multiple_of(4),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

/// A storage buffer holding `data`, padded with zeros to a whole word.
pub fn storage_init(gpu: &Gpu, label: &str, data: &[u8]) -> wgpu::Buffer {
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC;
    if data.len().is_multiple_of(4) && !data.is_empty() {
        return gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: data,
            usage,
        });
    }
    let size = (data.len() as u64).max(4).next_multiple_of(4);
    let buffer =
        gpu.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size, usage, mapped_at_creation: true });
    {
        let mut view = buffer.slice(..).get_mapped_range_mut().expect("mapped at creation");
        view.slice(..data.len()).copy_from_slice(data);
    }
    buffer.unmap();
    buffer
}

/// A uniform buffer of u32 parameters (padded to 16 bytes as WGSL structs are).
pub fn uniform(gpu: &Gpu, label: &str, params: &[u32]) -> wgpu::Buffer {
    let mut words = params.to_vec();
    words.resize(params.len().next_multiple_of(4), 0);
    gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(&words),
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    })
}

/// A bind group of whole buffers at bindings 0, 1, 2, ...
pub fn bind_group(gpu: &Gpu, pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
    let ranges: Vec<wgpu::BufferBinding<'_>> = buffers.iter().map(|b| b.as_entire_buffer_binding()).collect();
    bind_group_ranges(gpu, pipeline, &ranges)
}

/// A bind group of buffer ranges at bindings 0, 1, 2, ...
pub fn bind_group_ranges(
    gpu: &Gpu,
    pipeline: &wgpu::ComputePipeline,
    ranges: &[wgpu::BufferBinding<'_>],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry<'_>> = ranges
        .iter()
        .enumerate()
        .map(|(i, r)| wgpu::BindGroupEntry { binding: i as u32, resource: wgpu::BindingResource::Buffer(r.clone()) })
        .collect();
    gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

/// `size` bytes of `buffer` from `offset`, as a binding.
pub fn range(buffer: &wgpu::Buffer, offset: u64, size: u64) -> wgpu::BufferBinding<'_> {
    wgpu::BufferBinding { buffer, offset, size: std::num::NonZeroU64::new(size) }
}

/// `len` f32 values of `src` from element `offset`, after the work submitted so far.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_f32(gpu: &Gpu, src: &wgpu::Buffer, offset: u64, len: usize) -> Result<Vec<f32>> {
    let staging = read_back(gpu, len as u64 * 4);
    Ok(bytemuck::cast_slice(&read_through(gpu, src, offset * 4, len as u64 * 4, &staging)?).to_vec())
}

/// A buffer of `bytes` that [`read_through`] can copy into and map.
pub fn read_back(gpu: &Gpu, bytes: u64) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("read-back"),
        size: bytes.max(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// `len` u32 words of `src` from word `offset`.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_u32(gpu: &Gpu, src: &wgpu::Buffer, offset: u64, len: usize) -> Result<Vec<u32>> {
    let staging = read_back(gpu, len as u64 * 4);
    Ok(bytemuck::cast_slice(&read_through(gpu, src, offset * 4, len as u64 * 4, &staging)?).to_vec())
}

/// `bytes` of `src` from byte `offset`, after the work submitted so far,
/// copied through `staging` (a [`read_back`] buffer at least that large,
/// kept by callers that read every step).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_through(gpu: &Gpu, src: &wgpu::Buffer, offset: u64, bytes: u64, staging: &wgpu::Buffer) -> Result<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    copy_and_map(gpu, src, offset, bytes, staging, move |r| {
        let _ = tx.send(r);
    });
    gpu.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| driver(gpu, e))?;
    gpu.check()?;
    match rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(driver(gpu, e)),
        Err(_) => return Err(driver(gpu, "mapping never completed")),
    }
    let mut out = vec![0u8; bytes as usize];
    take_mapped(gpu, staging, &mut out)?;
    Ok(out)
}

/// Copies `bytes` of `src` from byte `offset` into `staging`, after the work
/// submitted so far, and asks for them to be mapped: `on_mapped` runs once
/// they are (natively during a device poll; on the web once the worker's
/// event loop turns). Then [`take_mapped`] reads them.
pub fn copy_and_map(
    gpu: &Gpu,
    src: &wgpu::Buffer,
    offset: u64,
    bytes: u64,
    staging: &wgpu::Buffer,
    on_mapped: impl FnOnce(std::result::Result<(), wgpu::BufferAsyncError>) + wgpu::WasmNotSend + 'static,
) {
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(src, offset, staging, 0, bytes);
    gpu.queue.submit([encoder.finish()]);
    staging.slice(..bytes).map_async(wgpu::MapMode::Read, on_mapped);
}

/// The first `out.len()` bytes of a mapped `staging` buffer; unmaps it.
pub fn take_mapped(gpu: &Gpu, staging: &wgpu::Buffer, out: &mut [u8]) -> Result<()> {
    let slice = staging.slice(..out.len() as u64);
    let copied = slice.get_mapped_range().map(|bytes| out.copy_from_slice(&bytes)).map_err(|e| driver(gpu, e));
    staging.unmap();
    copied
}

fn driver(gpu: &Gpu, why: impl std::fmt::Display) -> crate::GpuError {
    crate::GpuError::Driver { adapter: gpu.describe(), why: why.to_string() }
}
