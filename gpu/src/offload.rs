//! The GPU forward pass as fuselm-core's [`ForwardOffload`]: installed in a
//! context, it runs every `Model::forward` of generate, bench, perplexity
//! and sessions.

use fuselm_core::model::{ForwardOffload, Model};

use crate::device::Gpu;
use crate::error::GpuError;
use crate::forward::GpuForward;

/// A GPU error as the core's, naming the adapter.
pub fn to_core(e: GpuError, gpu: &Gpu) -> fuselm_core::Error {
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
        #[cfg(not(target_arch = "wasm32"))]
        let done = GpuForward::forward_batch(self, model, tokens, pos0, all, logits);
        // On the web a read-back completes only once the worker's event loop
        // turns: the logits stay pending, and the host awaits them.
        #[cfg(target_arch = "wasm32")]
        let done = {
            let _ = logits;
            self.submit_batch(model, tokens, pos0, all)
        };
        done.map_err(|e| to_core(e, self.gpu()))
    }

    fn logits_pending(&self) -> bool {
        GpuForward::logits_pending(self)
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
