//! fuselm's GPU backend: the same fused block kernels as the CPU's, in WGSL,
//! run through wgpu (WebGPU in the browser; Vulkan, Metal or DX12 natively;
//! Mesa's lavapipe or SwiftShader on machines without a GPU). Weights stay in
//! their GGUF blocks (`array<u32>`), activations are quantized on the GPU to
//! the blocks the CPU kernels use, so each block's integer sum is the CPU's
//! exactly; only the order of float additions differs.

pub mod buffers;
pub mod device;
pub mod dispatch;
pub mod error;
pub mod formats;
pub mod forward;
mod install;
pub mod kernels;
pub mod matrix;
mod offload;
pub use offload::to_core;
mod shader_source;
pub mod weights;

pub use device::Gpu;
pub use dispatch::Dispatch;
pub use error::{GpuError, Result};
pub use formats::{GpuAct, GpuFormat, FORMATS};
pub use forward::GpuForward;
pub use install::{install, Placement};
pub use kernels::Kernels;
pub use matrix::GpuMatrix;
pub use weights::GpuModel;
