//! Moving a model's forward pass onto the GPU, as a host's backend choice
//! asks: `gpu`/`webgpu` fails when that cannot be; `auto` takes a hardware
//! adapter and stays on the CPU otherwise (a software adapter such as
//! lavapipe or SwiftShader is slower than the CPU kernels), saying why.
//! Shared by the CLI's `--backend` and the browser package's `backend`.

use std::sync::Arc;

use fuselm_core::model::Model;

use crate::device::Gpu;
use crate::error::Result;
use crate::kernels::Kernels;
use crate::weights::GpuModel;

/// Where the forward pass runs after [`install`].
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    Gpu {
        adapter: String,
        /// A software adapter: correctness only, not GPU speed.
        software: bool,
        /// [`Gpu::limits_summary`].
        limits: String,
        weight_bytes: u64,
    },
    Cpu {
        why: String,
    },
}

impl Placement {
    /// One line for a log: where it runs and why.
    pub fn describe(&self) -> String {
        match self {
            Placement::Gpu { adapter, software, limits, weight_bytes } => format!(
                "gpu {adapter}{}: {:.0} MiB of weights uploaded ({limits})",
                if *software { " (a software adapter: correctness only, not GPU speed)" } else { "" },
                *weight_bytes as f64 / (1 << 20) as f64,
            ),
            Placement::Cpu { why } => format!("cpu ({why})"),
        }
    }
}

/// Uploads `model`'s weights to `gpu` (the adapter the host found, or why
/// there is none) and makes every later context of the model run there.
/// With `auto`, any reason against the GPU leaves the model on the CPU.
pub fn install(gpu: Result<Arc<Gpu>>, auto: bool, model: &mut Model<'_>) -> Result<Placement> {
    let gpu = match gpu {
        Ok(gpu) => gpu,
        Err(e) if auto => return Ok(Placement::Cpu { why: e.to_string() }),
        Err(e) => return Err(e),
    };
    if auto && gpu.is_software() {
        return Ok(Placement::Cpu { why: format!("the only GPU adapter, {}, is a software one", gpu.describe()) });
    }
    let uploaded = Kernels::new(&gpu).and_then(|k| GpuModel::upload(Arc::clone(&gpu), Arc::new(k), model));
    match uploaded {
        Ok(weights) => {
            let placement = Placement::Gpu {
                adapter: gpu.describe(),
                software: gpu.is_software(),
                limits: gpu.limits_summary(),
                weight_bytes: weights.bytes,
            };
            model.set_offload_factory(Arc::new(weights));
            Ok(placement)
        }
        Err(e) if auto => Ok(Placement::Cpu { why: e.to_string() }),
        Err(e) => Err(e),
    }
}
