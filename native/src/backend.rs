//! `--backend cpu|gpu|auto`: where the forward pass runs. `gpu` moves it to
//! fuselm-gpu (wgpu: Vulkan, Metal or DX12) and fails if that cannot be;
//! `auto` takes a hardware adapter when there is one and stays on the CPU
//! otherwise (a software adapter such as lavapipe is slower than the CPU
//! kernels), saying which on stderr.

use std::sync::Arc;

use anyhow::{bail, Result};
use fuselm_core::model::{Context, Model};
use fuselm_gpu::{Gpu, GpuForward, Kernels};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    #[default]
    Cpu,
    Gpu,
    Auto,
}

/// Installs the GPU forward pass in `ctx` as `backend` asks; returns the
/// adapter's description when the GPU runs it.
pub fn install(backend: Backend, model: &Model<'_>, ctx: &mut Context) -> Result<Option<String>> {
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
    let built = Kernels::new(&gpu).and_then(|kernels| {
        GpuForward::new(Arc::clone(&gpu), &kernels, model, ctx.n_ctx(), ctx.n_batch, ctx.logits_all)
    });
    match built {
        Ok(forward) => {
            let name = gpu.describe();
            eprintln!(
                "backend: gpu {name}{}: {:.0} MiB of weights, {:.0} MiB of buffers",
                if gpu.is_software() { " (a software adapter: correctness only, not GPU speed)" } else { "" },
                forward.weight_bytes as f64 / (1 << 20) as f64,
                forward.buffer_bytes as f64 / (1 << 20) as f64
            );
            ctx.set_offload(Box::new(forward));
            Ok(Some(name))
        }
        Err(e) if backend == Backend::Auto => {
            eprintln!("backend: cpu ({e})");
            Ok(None)
        }
        Err(e) => bail!(e),
    }
}
