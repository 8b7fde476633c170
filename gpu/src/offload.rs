//! The GPU forward pass as fuselm-core's [`ForwardOffload`]: installed in a
//! context, it runs every `Model::forward` of generate, bench, perplexity
//! and sessions.

use fuselm_core::model::{ForwardOffload, Model};

use crate::device::Gpu;
use crate::error::GpuError;
use crate::forward::GpuForward;

/// A GPU error as the core's, naming the adapter.
pub(crate) fn to_core(e: GpuError, gpu: &Gpu) -> fuselm_core::Error {
    match e {
        GpuError::Core(e) => e,
        e => fuselm_core::Error::Offload { backend: format!("GPU {}", gpu.describe()), why: e.to_string() },
    }
}

impl ForwardOffload for GpuForward {
    fn forward_batch(
        &mut self,
        model: &Model<'_>,
        tokens: &[u32],
        pos0: usize,
        all: bool,
        logits: &mut [f32],
    ) -> fuselm_core::Result<()> {
        GpuForward::forward_batch(self, model, tokens, pos0, all, logits).map_err(|e| to_core(e, self.gpu()))
    }
}
