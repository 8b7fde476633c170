//! `--backend cpu|gpu|auto`: where the forward pass runs. `gpu` moves it to
//! fuselm-gpu (wgpu: Vulkan, Metal or DX12) and fails if that cannot be;
//! `auto` takes a hardware adapter when there is one and stays on the CPU
//! otherwise (a software adapter such as lavapipe is slower than the CPU
//! kernels), saying which on stderr.

use std::sync::Arc;

use anyhow::Result;
use fuselm_core::model::Model;
use fuselm_gpu::{Gpu, Placement};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    #[default]
    Cpu,
    Gpu,
    Auto,
}

/// Makes every later context of `model` run its forward pass on the GPU,
/// as `backend` asks; returns the adapter's description when it does.
pub fn install(backend: Backend, model: &mut Model<'_>) -> Result<Option<String>> {
    if backend == Backend::Cpu {
        return Ok(None);
    }
    let gpu = Gpu::new_blocking().map(Arc::new);
    let placement = fuselm_gpu::install(gpu, backend == Backend::Auto, model)?;
    eprintln!("backend: {}", placement.describe());
    Ok(match placement {
        Placement::Gpu { adapter, limits, .. } => Some(format!("{adapter} [{limits}]")),
        Placement::Cpu { .. } => None,
    })
}
