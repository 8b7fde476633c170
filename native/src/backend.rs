//! `--backend cpu|gpu|auto`: where the forward pass runs. `gpu` moves it to
//! fuselm-gpu (wgpu: Vulkan, Metal or DX12) and fails if that cannot be;
//! `auto` takes a hardware adapter when there is one and stays on the CPU
//! otherwise (a software adapter such as lavapipe is slower than the CPU
//! kernels), saying which on stderr.

use std::sync::Arc;

use anyhow::{bail, Result};
use fuselm_core::model::Model;
use fuselm_gpu::{Gpu, GpuModel, Kernels};

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
    let gpu = match Gpu::new_blocking() {
        Ok(gpu) => Arc::new(gpu),
        Err(e) if backend == Backend::Auto => {
            eprintln!("backend: cpu ({e})");
            return Ok(None);
        }
        Err(e) => bail!(e),
    };
    if backend == Backend::Auto && gpu.is_software() {
        eprintln!("backend: cpu (the only GPU adapter, {}, is a software one)", gpu.describe());
        return Ok(None);
    }
    let uploaded = Kernels::new(&gpu).and_then(|k| GpuModel::upload(Arc::clone(&gpu), Arc::new(k), model));
    match uploaded {
        Ok(weights) => {
            let name = gpu.describe();
            eprintln!(
                "backend: gpu {name}{}: {:.0} MiB of weights uploaded",
                if gpu.is_software() { " (a software adapter: correctness only, not GPU speed)" } else { "" },
                weights.bytes as f64 / (1 << 20) as f64,
            );
            model.set_offload_factory(Arc::new(weights));
            Ok(Some(name))
        }
        Err(e) if backend == Backend::Auto => {
            eprintln!("backend: cpu ({e})");
            Ok(None)
        }
        Err(e) => bail!(e),
    }
}
