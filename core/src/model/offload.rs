//! A forward pass run outside the CPU kernels: a backend (the GPU crate)
//! installs itself in a [`Context`](super::Context) and
//! [`Model::forward`](super::Model::forward) hands it each batch, after the
//! same checks as the CPU path (token ids, context room). The context's
//! position counter still advances, so sessions, truncation and prompt
//! reuse work unchanged; the CPU KV cache stays unallocated.
//!
//! A model given an [`OffloadFactory`] installs one in every context it
//! makes, so code that makes its own contexts (bench, perplexity) runs there too.
//!
//! A backend whose results come back asynchronously (WebGPU, where a buffer
//! maps only once the worker's event loop turns) may leave the logits on
//! their way: [`ForwardOffload::logits_pending`] says so, the host awaits them
//! through the backend's own API and hands them in with
//! [`Context::receive_logits`](super::Context::receive_logits) before sampling.

use std::any::Any;

use super::Model;
use crate::error::Result;

pub trait ForwardOffload: Send {
    /// Evaluates `tokens` at positions `pos0..pos0 + tokens.len()` (all
    /// earlier positions already evaluated, later ones forgotten), writing
    /// the logits of the last token, or of every token with `all`, into
    /// `logits` (`[1 or tokens.len(), n_vocab]`), or leaving them pending.
    fn forward_batch(
        &mut self,
        model: &Model<'_>,
        tokens: &[u32],
        pos0: usize,
        all: bool,
        logits: &mut [f32],
    ) -> Result<()>;

    /// Whether the last batch's logits have not been written yet (an
    /// asynchronous backend: see the module's docs).
    fn logits_pending(&self) -> bool {
        false
    }

    /// The backend itself, for hosts that drive its asynchronous read-back.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Makes the offload of each new context of a model (the GPU backend's
/// per-sequence buffers over weights it uploaded once).
pub trait OffloadFactory: Send + Sync {
    fn offload(
        &self,
        model: &Model<'_>,
        n_ctx: usize,
        n_batch: usize,
        logits_all: bool,
    ) -> Result<Box<dyn ForwardOffload>>;
}
