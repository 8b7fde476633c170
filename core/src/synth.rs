//! Shape-exact synthetic models: the tensor layout of a known llama-family
//! model with seeded random weights, quantized by our reference quantizers
//! (byte-equal to llama.cpp's) with llama.cpp's per-tensor recipe for the
//! file type. Speed depends on shapes and formats, not weight values, so these
//! stand in for models that cannot be downloaded here.

use std::str::FromStr;

use crate::error::{Error, Result};
use crate::gguf::{GgufWriter, Metadata, Value};
use crate::quant;
use crate::sampler::Rng;
use crate::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynthShape {
    pub name: &'static str,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub n_ff: usize,
    /// Used with the built-in vocabulary; a borrowed vocabulary sets its own size.
    pub n_vocab: usize,
    pub n_ctx: usize,
    pub rope_base: f32,
    pub rms_eps: f32,
}

pub const SHAPES: &[SynthShape] = &[
    // A few MB: for tests of the whole pipeline.
    SynthShape {
        name: "tiny",
        n_layer: 2,
        n_embd: 256,
        n_head: 4,
        n_head_kv: 2,
        n_ff: 512,
        n_vocab: 512,
        n_ctx: 1024,
        rope_base: 10000.0,
        rms_eps: 1e-5,
    },
    SynthShape {
        name: "tinyllama-1.1b",
        n_layer: 22,
        n_embd: 2048,
        n_head: 32,
        n_head_kv: 4,
        n_ff: 5632,
        n_vocab: 32000,
        n_ctx: 2048,
        rope_base: 10000.0,
        rms_eps: 1e-5,
    },
    SynthShape {
        name: "llama-2-7b",
        n_layer: 32,
        n_embd: 4096,
        n_head: 32,
        n_head_kv: 32,
        n_ff: 11008,
        n_vocab: 32000,
        n_ctx: 4096,
        rope_base: 10000.0,
        rms_eps: 1e-5,
    },
    SynthShape {
        name: "mistral-7b",
        n_layer: 32,
        n_embd: 4096,
        n_head: 32,
        n_head_kv: 8,
        n_ff: 14336,
        n_vocab: 32000,
        n_ctx: 32768,
        rope_base: 1_000_000.0,
        rms_eps: 1e-5,
    },
];

impl FromStr for SynthShape {
    type Err = Error;
    fn from_str(s: &str) -> Result<SynthShape> {
        SHAPES.iter().find(|shape| shape.name == s).copied().ok_or(Error::BadOption {
            option: "shape",
            value: s.to_string(),
            expected: "tiny, tinyllama-1.1b, llama-2-7b or mistral-7b",
        })
    }
}

/// A llama.cpp file type (`llama-quantize` name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthQuant {
    Q2K,
    Q3KS,
    Q4KM,
    Q5KM,
    Q6K,
    Q8_0,
    /// Every matrix in F16, as convert_hf_to_gguf's `--outtype f16` writes.
    F16,
}

impl FromStr for SynthQuant {
    type Err = Error;
    fn from_str(s: &str) -> Result<SynthQuant> {
        match s.to_ascii_lowercase().as_str() {
            "q2_k" => Ok(SynthQuant::Q2K),
            "q3_k_s" => Ok(SynthQuant::Q3KS),
            "q4_k_m" => Ok(SynthQuant::Q4KM),
            "q5_k_m" => Ok(SynthQuant::Q5KM),
            "q6_k" => Ok(SynthQuant::Q6K),
            "q8_0" => Ok(SynthQuant::Q8_0),
            "f16" => Ok(SynthQuant::F16),
            _ => Err(Error::BadOption {
                option: "quant",
                value: s.to_string(),
                expected: "q2_k, q3_k_s, q4_k_m, q5_k_m, q6_k, q8_0 or f16",
            }),
        }
    }
}

impl SynthQuant {
    pub fn name(self) -> &'static str {
        match self {
            SynthQuant::Q2K => "Q2_K",
            SynthQuant::Q3KS => "Q3_K_S",
            SynthQuant::Q4KM => "Q4_K_M",
            SynthQuant::Q5KM => "Q5_K_M",
            SynthQuant::Q6K => "Q6_K",
            SynthQuant::Q8_0 => "Q8_0",
            SynthQuant::F16 => "F16",
        }
    }

    /// `general.file_type` (llama_ftype).
    fn file_type(self) -> u32 {
        match self {
            SynthQuant::Q2K => 10,
            SynthQuant::Q3KS => 11,
            SynthQuant::Q4KM => 15,
            SynthQuant::Q5KM => 17,
            SynthQuant::Q6K => 18,
            SynthQuant::Q8_0 => 7,
            SynthQuant::F16 => 1,
        }
    }

    /// The type llama-quantize gives a weight of `role` in `layer` (llama.cpp's
    /// `llama_tensor_get_type` for these file types and a dense llama model
    /// whose query heads share each KV head `n_gqa` ways).
    pub fn tensor_type(self, role: &str, layer: usize, n_layer: usize, n_gqa: usize) -> GgmlType {
        // llama.cpp's use_more_bits: the first and last eighth, and every third layer between.
        let more_bits =
            layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer as isize - (n_layer / 8) as isize) % 3 == 2;
        match (self, role) {
            (SynthQuant::Q8_0, _) => GgmlType::Q8_0,
            (SynthQuant::F16, _) => GgmlType::F16,
            (SynthQuant::Q2K, "attn_v") if n_gqa >= 4 => GgmlType::Q4_K,
            (SynthQuant::Q2K, "attn_v" | "attn_output" | "ffn_down") => GgmlType::Q3_K,
            (SynthQuant::Q2K | SynthQuant::Q3KS, "output") => GgmlType::Q6_K,
            (SynthQuant::Q2K, _) => GgmlType::Q2_K,
            (SynthQuant::Q3KS, _) => GgmlType::Q3_K,
            (SynthQuant::Q6K, _) | (_, "output") => GgmlType::Q6_K,
            (SynthQuant::Q4KM | SynthQuant::Q5KM, "attn_v" | "ffn_down") if more_bits => GgmlType::Q6_K,
            (SynthQuant::Q4KM, _) => GgmlType::Q4_K,
            (SynthQuant::Q5KM, _) => GgmlType::Q5_K,
        }
    }
}

/// Tokenizer metadata: copied from a model's file, or a built-in byte-level
/// SentencePiece vocabulary (3 specials, 256 byte tokens, padding).
fn add_vocabulary(w: &mut GgufWriter<'_>, shape: &SynthShape, from: Option<&Metadata<'_>>) -> Result<usize> {
    if let Some(md) = from {
        let n = md.get_array("tokenizer.ggml.tokens")?.len();
        for (key, value) in md.iter().filter(|(k, _)| k.starts_with("tokenizer.")) {
            w.add(key, value.to_value())?;
        }
        return Ok(n);
    }
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    let mut types = vec![2i32, 3, 3];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
    }
    while tokens.len() < shape.n_vocab {
        tokens.push(format!("<unused{}>", tokens.len()));
        types.push(5);
    }
    let n = tokens.len();
    w.add("tokenizer.ggml.model", Value::Str("llama".into()))?;
    w.add("tokenizer.ggml.tokens", Value::strings(tokens))?;
    w.add("tokenizer.ggml.scores", Value::f32s(vec![0.0; n]))?;
    w.add(
        "tokenizer.ggml.token_type",
        Value::Array(crate::gguf::ValueType::I32, types.into_iter().map(Value::I32).collect()),
    )?;
    w.add("tokenizer.ggml.unknown_token_id", Value::U32(0))?;
    w.add("tokenizer.ggml.bos_token_id", Value::U32(1))?;
    w.add("tokenizer.ggml.eos_token_id", Value::U32(2))?;
    Ok(n)
}

/// `[rows, cols]` random values (uniform, standard deviation 0.02), row `r`
/// from its own seed so the result does not depend on threads, quantized to `ty`.
fn random_tensor(ty: GgmlType, rows: usize, cols: usize, seed: u64) -> Result<Vec<u8>> {
    let row_bytes =
        ty.row_bytes(cols as u64).ok_or(Error::RowSize { ggml_type: ty, n_values: cols, n_bytes: 0, expected: None })?
            as usize;
    let mut out = vec![0u8; rows * row_bytes];
    let fill = |r: usize, dst: &mut [u8]| -> Result<()> {
        let mut rng = Rng::new(seed ^ (r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let half_width = 0.02 * 3f64.sqrt();
        let x: Vec<f32> = (0..cols).map(|_| ((rng.next_f64() * 2.0 - 1.0) * half_width) as f32).collect();
        let mut bytes = Vec::with_capacity(row_bytes);
        quant::quantize_row(ty, &x, &mut bytes)?;
        dst.copy_from_slice(&bytes);
        Ok(())
    };
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(row_bytes).enumerate().try_for_each(|(r, dst)| fill(r, dst))?;
    }
    #[cfg(not(feature = "parallel"))]
    for (r, dst) in out.chunks_mut(row_bytes).enumerate() {
        fill(r, dst)?;
    }
    Ok(out)
}

fn name_seed(seed: u64, name: &str) -> u64 {
    name.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// Builds the whole model file in memory. `progress(done, total)` is called
/// after each tensor.
pub fn synthesize(
    shape: &SynthShape,
    quant: SynthQuant,
    vocabulary: Option<&Metadata<'_>>,
    seed: u64,
    mut progress: impl FnMut(usize, usize),
) -> Result<GgufWriter<'static>> {
    let mut w = GgufWriter::new();
    let a = "llama";
    let head_dim = shape.n_embd / shape.n_head;
    w.add("general.architecture", Value::Str(a.into()))?;
    w.add("general.name", Value::Str(format!("synthetic {} {}", shape.name, quant.name())))?;
    w.add("general.file_type", Value::U32(quant.file_type()))?;
    w.add("general.quantization_version", Value::U32(2))?;
    w.add(&format!("{a}.context_length"), Value::U32(shape.n_ctx as u32))?;
    w.add(&format!("{a}.embedding_length"), Value::U32(shape.n_embd as u32))?;
    w.add(&format!("{a}.block_count"), Value::U32(shape.n_layer as u32))?;
    w.add(&format!("{a}.feed_forward_length"), Value::U32(shape.n_ff as u32))?;
    w.add(&format!("{a}.attention.head_count"), Value::U32(shape.n_head as u32))?;
    w.add(&format!("{a}.attention.head_count_kv"), Value::U32(shape.n_head_kv as u32))?;
    w.add(&format!("{a}.rope.dimension_count"), Value::U32(head_dim as u32))?;
    w.add(&format!("{a}.rope.freq_base"), Value::F32(shape.rope_base))?;
    w.add(&format!("{a}.attention.layer_norm_rms_epsilon"), Value::F32(shape.rms_eps))?;
    let n_vocab = add_vocabulary(&mut w, shape, vocabulary)?;
    let (e, kv, ff) = (shape.n_embd, shape.n_head_kv * head_dim, shape.n_ff);
    // (name, role, layer, [n_in, n_out])
    let mut plan: Vec<(String, &str, usize, [usize; 2])> =
        vec![("token_embd.weight".into(), "token_embd", 0, [e, n_vocab])];
    for i in 0..shape.n_layer {
        for (role, dims) in [
            ("attn_q", [e, e]),
            ("attn_k", [e, kv]),
            ("attn_v", [e, kv]),
            ("attn_output", [e, e]),
            ("ffn_gate", [e, ff]),
            ("ffn_up", [e, ff]),
            ("ffn_down", [ff, e]),
        ] {
            plan.push((format!("blk.{i}.{role}.weight"), role, i, dims));
        }
    }
    plan.push(("output.weight".into(), "output", shape.n_layer, [e, n_vocab]));
    let total = plan.len();
    let ones = |n: usize| -> Vec<u8> { (0..n).flat_map(|_| 1.0f32.to_le_bytes()).collect() };
    for (done, (name, role, layer, [n_in, n_out])) in plan.into_iter().enumerate() {
        let ty = quant.tensor_type(role, layer, shape.n_layer, shape.n_head / shape.n_head_kv);
        let data = random_tensor(ty, n_out, n_in, name_seed(seed, &name))?;
        w.add_tensor(&name, ty, &[n_in as u64, n_out as u64], data)?;
        if role == "token_embd" {
            // Norms are ones, as in a freshly initialised model.
            for i in 0..shape.n_layer {
                w.add_tensor(&format!("blk.{i}.attn_norm.weight"), GgmlType::F32, &[e as u64], ones(e))?;
                w.add_tensor(&format!("blk.{i}.ffn_norm.weight"), GgmlType::F32, &[e as u64], ones(e))?;
            }
            w.add_tensor("output_norm.weight", GgmlType::F32, &[e as u64], ones(e))?;
        }
        progress(done + 1, total);
    }
    Ok(w)
}
