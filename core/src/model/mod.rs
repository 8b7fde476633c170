//! The decoder: a loaded model (hyperparameters, weights bound to kernels,
//! tokenizer) and the per-sequence [`Context`] (KV cache and preallocated
//! buffers) that the forward pass runs in.
//!
//! ```text
//! tokens ─► embed (×embed_scale) ─► for each layer:
//!     x ─► rms_norm ─► Q K V (one activation quantization, biases, q/k norms, RoPE)
//!       ─► K V into the cache ─► attention (causal, GQA, sliding window) ─► W_o
//!       ─► [post norm] ─► + x ─► rms_norm ─► gate, up ─► silu|gelu(gate)·up ─► W_down
//!       ─► [post norm] ─► + x
//! ─► rms_norm ─► output (tied or not) ─► [softcap] ─► logits
//! ```

mod attention;
mod attention_prefill;
mod config;
mod context;
mod forward;
mod kv_cache;
mod offload;
pub mod ops;
pub mod profile;
mod prompt;
mod weights;

pub use config::{Arch, FfnActivation, ModelConfig, RopeConfig, RopeKind, SUPPORTED_ARCHITECTURES};
pub use context::{Context, ContextOptions, DEFAULT_BATCH, DEFAULT_CTX_CAP};
pub use kv_cache::{KvCache, KvType};
pub use offload::{ForwardOffload, OffloadFactory};
pub use weights::{Embedding, LayerWeights, ModelWeights};

use crate::error::{Error, Result};
use crate::gguf::GgufFile;
use crate::kernels::{Isa, KernelMode};
use crate::tokenizer::Tokenizer;

/// How weights are bound to kernels.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    pub kernel_mode: KernelMode,
    /// The instruction set to use; `None` detects the best one.
    pub isa: Option<Isa>,
}

/// A model ready to run, borrowing its tensor data from the file's bytes.
pub struct Model<'a> {
    pub config: ModelConfig,
    pub weights: ModelWeights<'a>,
    pub tokenizer: Tokenizer,
    /// `tokenizer.chat_template`, when the file has one.
    pub chat_template: Option<String>,
    /// `general.name`, or the architecture.
    pub name: String,
    /// Prefill attention in f32 (`attention_prefill.rs`): with the fast kernel
    /// modes on a tier that has the fast set (tiled kernels), not with
    /// `KernelMode::Exact`, `Scalar` or `Unfused`.
    pub fast_attention: bool,
    /// Installs a backend in every new context (`set_offload_factory`).
    offload_factory: Option<std::sync::Arc<dyn OffloadFactory>>,
}

impl<'a> Model<'a> {
    /// Reads hyperparameters, tokenizer and weights; checks every shape.
    pub fn load(file: &GgufFile<'a>, options: LoadOptions) -> Result<Model<'a>> {
        let md = &file.metadata;
        // Every layer has tensors in the file: a larger block count is corruption,
        // and per-layer tables sized from it would allocate what the file cannot justify.
        if let Ok(arch) = md.get_str("general.architecture") {
            let key = format!("{arch}.block_count");
            if let Ok(n_layer) = md.get_u64(&key) {
                if n_layer > file.tensors.len() as u64 {
                    return Err(Error::BadHyperparameter {
                        what: key,
                        why: format!("{n_layer} layers, but the file has only {} tensors", file.tensors.len()),
                    });
                }
            }
        }
        let config = ModelConfig::from_metadata(md)?;
        if config.head_dim_k.max(config.head_dim_v) > attention::MAX_HEAD_DIM {
            return Err(Error::BadHyperparameter {
                what: "head dimension".into(),
                why: format!(
                    "{} exceeds the supported maximum {}",
                    config.head_dim_k.max(config.head_dim_v),
                    attention::MAX_HEAD_DIM
                ),
            });
        }
        let isa = match options.kernel_mode {
            KernelMode::Tier(tier) if !Isa::available().contains(&tier) => {
                let have: Vec<&str> = Isa::available().iter().map(|i| i.name()).collect();
                return Err(Error::BadSetting {
                    what: "kernel tier",
                    why: format!("{tier} is not available on this CPU (it has {})", have.join(", ")),
                });
            }
            KernelMode::Tier(tier) => tier,
            _ => options.isa.unwrap_or_else(Isa::detect),
        };
        let weights = ModelWeights::load(file, &config, options.kernel_mode, isa)?;
        let tokenizer = Tokenizer::from_metadata(md)?;
        let n_vocab = weights.token_embd.n_vocab;
        // One embedding row per token, as llama.cpp requires: more tokens than
        // rows cannot be embedded, more rows than tokens could be sampled as
        // ids the vocabulary cannot print.
        if tokenizer.vocab.len() != n_vocab {
            return Err(Error::TensorShape {
                tensor: "token_embd.weight".into(),
                expected: vec![config.n_embd as u64, tokenizer.vocab.len() as u64],
                found: vec![config.n_embd as u64, n_vocab as u64],
                why: format!("one row per token of the {}-token vocabulary", tokenizer.vocab.len()),
            });
        }
        let chat_template =
            md.contains("tokenizer.chat_template").then(|| md.get_str("tokenizer.chat_template")).transpose()?;
        let name = if md.contains("general.name") { md.get_str("general.name")? } else { config.arch.name() };
        Ok(Model {
            config,
            weights,
            tokenizer,
            chat_template: chat_template.map(str::to_string),
            name: name.to_string(),
            fast_attention: isa.has_fast_set()
                && matches!(options.kernel_mode, KernelMode::Auto | KernelMode::Simd | KernelMode::Tier(_)),
            offload_factory: None,
        })
    }

    /// Runs the forward pass of every context made from now on in the
    /// backend `factory` makes (the GPU); contexts made before stay on the CPU.
    pub fn set_offload_factory(&mut self, factory: std::sync::Arc<dyn OffloadFactory>) {
        self.offload_factory = Some(factory);
    }

    pub fn n_vocab(&self) -> usize {
        self.weights.token_embd.n_vocab
    }

    /// A fresh context (KV cache and buffers) for one sequence.
    pub fn new_context(&self, options: &ContextOptions) -> Result<Context> {
        let mut ctx = Context::new(&self.config, self.n_vocab(), options)?;
        if let Some(factory) = &self.offload_factory {
            let offload = factory.offload(self, ctx.n_ctx(), ctx.n_batch, ctx.logits_all)?;
            ctx.set_offload(offload);
        }
        Ok(ctx)
    }
}
