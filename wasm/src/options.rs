//! Completion and load options as JS passes them (JSON, camelCase, every
//! field optional with llama.cpp's defaults), turned into the core's types.

use fuselm_core::chat::ChatMessage;
use fuselm_core::generation::GenerateOptions;
use fuselm_core::kernels::KernelMode;
use fuselm_core::model::{ContextOptions, KvType, DEFAULT_CTX_CAP};
use fuselm_core::sampler::SamplerConfig;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadOptionsJs {
    /// `auto` (default), `scalar` or `unfused`.
    pub kernels: Option<String>,
    /// `cpu` (default), `webgpu` or `auto` (WebGPU on a hardware adapter
    /// that has every kernel the model needs, else the CPU).
    pub backend: Option<String>,
}

impl LoadOptionsJs {
    pub fn kernel_mode(&self) -> Result<KernelMode, String> {
        self.kernels.as_deref().unwrap_or("auto").parse::<KernelMode>().map_err(|e| e.to_string())
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompletionOptionsJs {
    pub max_tokens: Option<usize>,
    pub temperature: Option<f32>,
    pub top_k: Option<usize>,
    pub top_p: Option<f32>,
    pub min_p: Option<f32>,
    pub repeat_penalty: Option<f32>,
    pub repeat_last_n: Option<usize>,
    pub seed: Option<u64>,
    #[serde(default)]
    pub stop: Vec<String>,
    #[serde(default)]
    pub ignore_eos: bool,
    /// KV cache positions; default: prompt + max tokens, at most the model's context.
    pub n_ctx: Option<usize>,
    /// `f16` (default) or `f32`.
    pub cache_type: Option<String>,
    #[serde(default)]
    pub context_shift: bool,
    /// Chat messages: when given, the prompt is the chat template applied to them.
    pub messages: Option<Vec<MessageJs>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageJs {
    pub role: String,
    pub content: String,
}

impl CompletionOptionsJs {
    /// `maxTokens`, by default the core's (`GenerateOptions::default()`), the
    /// one place the default is written; JS leaves it out rather than repeat it.
    fn max_tokens(&self) -> usize {
        self.max_tokens.unwrap_or(fuselm_core::generation::DEFAULT_MAX_TOKENS)
    }

    pub fn generate_options(&self) -> GenerateOptions {
        let d = SamplerConfig::default();
        GenerateOptions {
            max_tokens: self.max_tokens(),
            sampler: SamplerConfig {
                temperature: self.temperature.unwrap_or(d.temperature),
                top_k: self.top_k.unwrap_or(d.top_k),
                top_p: self.top_p.unwrap_or(d.top_p),
                min_p: self.min_p.unwrap_or(d.min_p),
                repeat_penalty: self.repeat_penalty.unwrap_or(d.repeat_penalty),
                repeat_last_n: self.repeat_last_n.unwrap_or(d.repeat_last_n),
                seed: self.seed.unwrap_or(d.seed),
            },
            stop: self.stop.clone(),
            ignore_eos: self.ignore_eos,
            context_shift: self.context_shift,
            keep: 0,
        }
    }

    /// The context to run in: `nCtx` when given, else room for this prompt
    /// and its reply and at least the core's default context (at most the
    /// model's), so a conversation can grow in one session. The KV cache grows
    /// as positions are used, so a large context costs memory only once it is
    /// filled (wasm32 has 4 GiB in all).
    pub fn context_options(&self, n_prompt: usize, n_ctx_train: usize) -> Result<ContextOptions, String> {
        let kv_type = match self.cache_type.as_deref().unwrap_or("f16") {
            "f16" => KvType::F16,
            "f32" => KvType::F32,
            other => return Err(format!("cacheType must be \"f16\" or \"f32\", not {other:?}")),
        };
        let wanted = n_prompt.saturating_add(self.max_tokens()).max(DEFAULT_CTX_CAP).min(n_ctx_train).max(1);
        let n_ctx = self.n_ctx.unwrap_or(wanted);
        Ok(ContextOptions { n_ctx: Some(n_ctx), kv_type, ..ContextOptions::default() })
    }

    pub fn chat_messages(&self) -> Option<Vec<ChatMessage>> {
        self.messages
            .as_ref()
            .map(|m| m.iter().map(|m| ChatMessage { role: m.role.clone(), content: m.content.clone() }).collect())
    }
}

/// Parses `[{role, content}]` (JSON) into chat messages.
pub fn parse_messages(json: &str) -> Result<Vec<ChatMessage>, String> {
    let messages: Vec<MessageJs> = serde_json::from_str(json).map_err(|e| format!("chat messages: {e}"))?;
    Ok(messages.into_iter().map(|m| ChatMessage { role: m.role, content: m.content }).collect())
}

/// Parses an options object; an unknown or mistyped field is an error naming it.
pub fn parse<T: for<'de> Deserialize<'de> + Default>(what: &str, json: &str) -> Result<T, String> {
    if json.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(json).map_err(|e| format!("{what}: {e}"))
}
