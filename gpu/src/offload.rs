//! The GPU forward pass as fuselm-core's [`ForwardOffload`]: installed in a
//! context, it runs every `Model::forward` of generate, bench, perplexity
//! and sessions.

use fuselm_core::model::{ForwardOffload, Model};

use crate::error::GpuError;
use crate::forward::GpuForward;

impl ForwardOffload for GpuForward {
    fn forward_batch(
        &mut self,
        model: &Model<'_>,
        tokens: &[u32],
        pos0: usize,
        all: bool,
        logits: &mut [f32],
    ) -> fuselm_core::Result<()> {
        GpuForward::forward_batch(self, model, tokens, pos0, all, logits).map_err(|e| match e {
            GpuError::Core(e) => e,
            e => fuselm_core::Error::Offload { backend: format!("GPU {}", self.gpu().describe()), why: e.to_string() },
        })
    }

    fn describe(&self) -> String {
        self.gpu().describe()
    }
}
