//! Time by operation for `--profile`: the forward pass adds the seconds of
//! each non-matmul operation here when enabled (matrix products are timed per
//! role by the kernel statistics). Reading the host's clock costs a few ns,
//! so it is off by default.

use crate::clock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Embedding,
    Norms,
    Rope,
    /// Quantizing matmul inputs to Q8_K/Q8_0/Q8_1.
    ActivationQuantization,
    Attention,
    /// SiLU/GELU gating of the feed-forward network.
    FfnActivation,
    /// Residual adds, biases, KV stores, soft-capping.
    Other,
}

pub const OPS: [Op; 7] =
    [Op::Embedding, Op::Norms, Op::Rope, Op::ActivationQuantization, Op::Attention, Op::FfnActivation, Op::Other];

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Embedding => "embedding lookup",
            Op::Norms => "norms",
            Op::Rope => "rope",
            Op::ActivationQuantization => "activation quantization",
            Op::Attention => "attention",
            Op::FfnActivation => "ffn activation",
            Op::Other => "other (residuals, biases, kv store)",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct OpProfile {
    pub enabled: bool,
    seconds: [f64; OPS.len()],
}

impl OpProfile {
    /// Runs `f`, adding its time to `op` when enabled.
    #[inline]
    pub fn time<R>(&mut self, op: Op, f: impl FnOnce() -> R) -> R {
        if !self.enabled {
            return f();
        }
        let start = clock::now();
        let r = f();
        self.seconds[op as usize] += clock::now() - start;
        r
    }

    pub fn seconds(&self, op: Op) -> f64 {
        self.seconds[op as usize]
    }

    pub fn reset(&mut self) {
        self.seconds = [0.0; OPS.len()];
    }
}
