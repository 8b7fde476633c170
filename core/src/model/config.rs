//! Hyperparameters of a decoder, read from GGUF metadata (`{arch}.*` keys),
//! never hard-coded per model. What differs between the supported
//! architectures is expressed as data here, so the forward pass has one body.

use crate::error::{Error, Result};
use crate::gguf::Metadata;

/// The architectures fuselm runs (`general.architecture`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// TinyLlama, Llama-2, Mistral, SmolLM2: RMSNorm, normal RoPE, SwiGLU.
    Llama,
    /// Qwen2 / Qwen2.5: like llama with Q/K/V biases and NEOX RoPE.
    Qwen2,
    /// Gemma 3: scaled embeddings, q/k norms, post norms, GELU, sliding windows.
    Gemma3,
}

pub const SUPPORTED_ARCHITECTURES: &str = "llama, qwen2, gemma3";

impl Arch {
    pub fn from_name(name: &str) -> Result<Arch> {
        match name {
            "llama" => Ok(Arch::Llama),
            "qwen2" => Ok(Arch::Qwen2),
            "gemma3" => Ok(Arch::Gemma3),
            other => {
                Err(Error::UnsupportedArchitecture { arch: other.to_string(), supported: SUPPORTED_ARCHITECTURES })
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Gemma3 => "gemma3",
        }
    }
}

/// How RoPE pairs dimensions: adjacent (`Normal`, llama's GGUF layout after
/// conversion) or split halves (`Neox`: `i` with `i + n_rot/2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeKind {
    Normal,
    Neox,
}

/// The gate activation of the gated feed-forward network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FfnActivation {
    /// `silu(gate) * up` (SwiGLU).
    Silu,
    /// `gelu_tanh(gate) * up` (GeGLU).
    GeluTanh,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RopeConfig {
    pub kind: RopeKind,
    /// Rotated dimensions per head (the rest pass through).
    pub n_rot: usize,
    pub freq_base: f32,
    /// Linear position scaling (1 / `rope.scaling.factor`).
    pub freq_scale: f32,
    /// Base and scale for sliding-window layers (Gemma 3: local base 10000).
    pub freq_base_swa: f32,
    pub freq_scale_swa: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub arch: Arch,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim_k: usize,
    pub head_dim_v: usize,
    /// Training context (`{arch}.context_length`).
    pub n_ctx_train: usize,
    pub rms_eps: f32,
    pub rope: RopeConfig,
    /// Keys further back than this many positions are masked on sliding-window layers.
    pub sliding_window: Option<usize>,
    /// `[n_layer]`: whether each layer uses the sliding window (and the local RoPE base).
    pub swa_layers: Vec<bool>,
    /// Multiplies Q·K before the softmax.
    pub attn_scale: f32,
    /// Apply `attn_scale` to the queries before attention (Gemma, as its
    /// reference does) rather than to the scores; the two differ in rounding.
    pub scale_queries: bool,
    /// Multiplies token embeddings (Gemma: sqrt(n_embd)).
    pub embed_scale: f32,
    pub ffn_activation: FfnActivation,
    /// `cap * tanh(logit / cap)` on the output logits when set.
    pub final_logit_softcap: Option<f32>,
}

/// Reads `{arch}.{name}` as a positive count.
fn count(md: &Metadata<'_>, arch: &str, name: &str) -> Result<usize> {
    let key = format!("{arch}.{name}");
    let v = md.get_u64(&key)?;
    if v == 0 || v > (1 << 24) {
        return Err(Error::ValueOutOfRange { key, expected: "1..=16777216", value: v.to_string() });
    }
    Ok(v as usize)
}

/// Like [`count`], with a default when the key is absent.
fn count_or(md: &Metadata<'_>, arch: &str, name: &str, default: usize) -> Result<usize> {
    if md.contains(&format!("{arch}.{name}")) {
        count(md, arch, name)
    } else {
        Ok(default)
    }
}

fn optional<'m, T>(md: &Metadata<'m>, key: &str, get: impl Fn(&Metadata<'m>, &str) -> Result<T>) -> Result<Option<T>> {
    if md.contains(key) {
        get(md, key).map(Some)
    } else {
        Ok(None)
    }
}

impl ModelConfig {
    pub fn from_metadata(md: &Metadata<'_>) -> Result<ModelConfig> {
        let arch_name = md.get_str("general.architecture")?;
        let arch = Arch::from_name(arch_name)?;
        let a = arch_name;
        let n_layer = count(md, a, "block_count")?;
        let n_embd = count(md, a, "embedding_length")?;
        let n_ff = count(md, a, "feed_forward_length")?;
        let n_head = count(md, a, "attention.head_count")?;
        let n_head_kv = count_or(md, a, "attention.head_count_kv", n_head)?;
        if n_head % n_head_kv != 0 {
            return Err(Error::BadHyperparameter {
                what: format!("{a}.attention.head_count_kv"),
                why: format!("{n_head_kv} does not divide head_count {n_head}"),
            });
        }
        let explicit_head_dim = md.contains(&format!("{a}.attention.key_length"));
        if !explicit_head_dim && n_embd % n_head != 0 {
            return Err(Error::BadHyperparameter {
                what: format!("{a}.attention.head_count"),
                why: format!(
                    "embedding_length {n_embd} is not a multiple of {n_head} heads (and no attention.key_length gives the head size)"
                ),
            });
        }
        let default_head_dim = n_embd / n_head;
        let head_dim_k = count_or(md, a, "attention.key_length", default_head_dim)?;
        let head_dim_v = count_or(md, a, "attention.value_length", default_head_dim)?;
        if head_dim_k == 0 || head_dim_k % 2 != 0 {
            return Err(Error::BadHyperparameter {
                what: "head dimension".into(),
                why: format!("{head_dim_k} (embedding {n_embd} / {n_head} heads) must be even and non-zero"),
            });
        }
        let n_ctx_train = count(md, a, "context_length")?;
        let eps_key = format!("{a}.attention.layer_norm_rms_epsilon");
        let rms_eps = checked(&eps_key, md.get_f32(&eps_key)?, RMS_EPS)?;
        let n_rot = count_or(md, a, "rope.dimension_count", head_dim_k)?;
        if n_rot > head_dim_k || n_rot % 2 != 0 {
            return Err(Error::BadHyperparameter {
                what: format!("{a}.rope.dimension_count"),
                why: format!("{n_rot} must be even and at most the head dimension {head_dim_k}"),
            });
        }
        let freq_base = optional_checked(md, &format!("{a}.rope.freq_base"), ROPE_BASE)?.unwrap_or(10000.0);
        let freq_scale = rope_freq_scale(md, a)?;
        let kind = match arch {
            Arch::Llama => RopeKind::Normal,
            Arch::Qwen2 | Arch::Gemma3 => RopeKind::Neox,
        };

        let mut sliding_window = None;
        let mut swa_layers = vec![false; n_layer];
        let mut freq_base_swa = freq_base;
        let mut freq_scale_swa = freq_scale;
        if arch == Arch::Gemma3 {
            let window = optional(md, &format!("{a}.attention.sliding_window"), Metadata::get_u64)?.unwrap_or(0);
            if window > 0 {
                sliding_window = Some(window as usize);
                // Five local layers, then one global, as llama.cpp's default pattern of 6.
                let pattern =
                    optional(md, &format!("{a}.attention.sliding_window_pattern"), Metadata::get_u64)?.unwrap_or(6);
                for (il, is_swa) in swa_layers.iter_mut().enumerate() {
                    *is_swa = pattern == 0 || (il as u64 % pattern) < pattern - 1;
                }
                freq_base_swa = optional_checked(md, &format!("{a}.rope.freq_base_swa"), ROPE_BASE)?.unwrap_or(10000.0);
                freq_scale_swa = 1.0;
            }
        }
        let (attn_scale, embed_scale, ffn_activation) = match arch {
            Arch::Llama | Arch::Qwen2 => (1.0 / (head_dim_k as f32).sqrt(), 1.0, FfnActivation::Silu),
            // Gemma 3 scales by the key length (query_pre_attn_scalar = head_dim
            // for every size but 27B, whose 62 layers llama.cpp special-cases).
            Arch::Gemma3 => {
                let scale_dim = if n_layer == 62 { n_embd / n_head } else { head_dim_k };
                (1.0 / (scale_dim as f32).sqrt(), (n_embd as f32).sqrt(), FfnActivation::GeluTanh)
            }
        };
        // 0 turns soft-capping off, as in llama.cpp.
        let final_logit_softcap =
            optional_checked(md, &format!("{a}.final_logit_softcapping"), SOFTCAP)?.filter(|&c| c != 0.0);
        Ok(ModelConfig {
            arch,
            n_layer,
            n_embd,
            n_ff,
            n_head,
            n_head_kv,
            head_dim_k,
            head_dim_v,
            n_ctx_train,
            rms_eps,
            rope: RopeConfig { kind, n_rot, freq_base, freq_scale, freq_base_swa, freq_scale_swa },
            sliding_window,
            swa_layers,
            attn_scale,
            scale_queries: arch == Arch::Gemma3,
            embed_scale,
            ffn_activation,
            final_logit_softcap,
        })
    }

    /// Q width: `n_head * head_dim_k`.
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim_k
    }

    /// K width per position: `n_head_kv * head_dim_k`.
    pub fn k_dim(&self) -> usize {
        self.n_head_kv * self.head_dim_k
    }

    /// V width per position: `n_head_kv * head_dim_v`.
    pub fn v_dim(&self) -> usize {
        self.n_head_kv * self.head_dim_v
    }
}

/// `rope.scaling.type`: none or linear (`freq_scale = 1 / factor`). YaRN and
/// Llama-3 frequency factors change the rotation itself and are refused
/// rather than silently run wrong.
fn rope_freq_scale(md: &Metadata<'_>, a: &str) -> Result<f32> {
    let type_key = format!("{a}.rope.scaling.type");
    let kind = optional(md, &type_key, Metadata::get_str)?.unwrap_or("none");
    // 0 means unset (llama.cpp reads it the same way).
    let factor = optional_checked(md, &format!("{a}.rope.scaling.factor"), ROPE_SCALING)?.unwrap_or(0.0);
    match kind {
        "none" => Ok(1.0),
        "linear" if factor != 0.0 => Ok(1.0 / factor),
        "linear" => Ok(1.0),
        other => Err(Error::WrongType {
            key: type_key,
            expected: "rope scaling none or linear",
            found: format!("{other:?}"),
        }),
    }
}

/// What a float hyperparameter may be: finite and inside a range that makes
/// sense (a NaN epsilon or a zero RoPE base would otherwise "work" and print
/// one token forever), said in words for the error.
struct FloatRule {
    ok: fn(f32) -> bool,
    expected: &'static str,
}

/// Typical 1e-5 / 1e-6.
const RMS_EPS: FloatRule = FloatRule { ok: |v| (1e-12..=1.0).contains(&v), expected: "between 1e-12 and 1" };
/// Typical 1e4 to 1e6; at or below 1 every dimension rotates at the same rate or faster.
const ROPE_BASE: FloatRule = FloatRule { ok: |v| v > 1.0 && v <= 1e12, expected: "above 1 and at most 1e12" };
/// A context-length multiplier; 0 means unset.
const ROPE_SCALING: FloatRule =
    FloatRule { ok: |v| v == 0.0 || (0.01..=1e4).contains(&v), expected: "0 (unset) or between 0.01 and 1e4" };
/// Typical 30; a tiny cap flattens every logit to about zero. 0 turns it off.
const SOFTCAP: FloatRule =
    FloatRule { ok: |v| v == 0.0 || (1.0..=1e6).contains(&v), expected: "0 (off) or between 1 and 1e6" };

fn checked(key: &str, value: f32, rule: FloatRule) -> Result<f32> {
    if value.is_finite() && (rule.ok)(value) {
        Ok(value)
    } else {
        Err(Error::BadHyperparameter { what: key.to_string(), why: format!("{value:?} must be {}", rule.expected) })
    }
}

fn optional_checked(md: &Metadata<'_>, key: &str, rule: FloatRule) -> Result<Option<f32>> {
    optional(md, key, Metadata::get_f32)?.map(|v| checked(key, v, rule)).transpose()
}
