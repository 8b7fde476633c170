//! Binding a GGUF file's tensors to the decoder: every tensor is looked up by
//! its llama.cpp name and its shape checked against the hyperparameters, so a
//! wrong file fails at load with the tensor and the shape it should have.
//! Matrices stay in the file's bytes (zero copy); norms and biases, which are
//! small, are converted to f32 once.

use super::config::{Arch, ModelConfig};
use crate::error::{Error, Result};
use crate::gguf::{GgufFile, TensorInfo};
use crate::kernels::{Isa, KernelMode, WeightMatrix};
use crate::quant;
use crate::GgmlType;

/// The token embedding table `[n_vocab, n_embd]`, read one row at a time.
pub struct Embedding<'a> {
    pub ggml_type: GgmlType,
    pub n_embd: usize,
    pub n_vocab: usize,
    row_bytes: usize,
    data: &'a [u8],
}

impl Embedding<'_> {
    /// Writes the embedding of `token` into `out` (`[n_embd]`).
    pub fn row(&self, token: u32, out: &mut [f32]) -> Result<()> {
        let t = token as usize;
        if t >= self.n_vocab {
            return Err(Error::BadSetting {
                what: "token id",
                why: format!("{token} is outside the vocabulary of {} tokens", self.n_vocab),
            });
        }
        quant::dequantize_row(self.ggml_type, &self.data[t * self.row_bytes..(t + 1) * self.row_bytes], out)
    }
}

pub struct LayerWeights<'a> {
    pub attn_norm: Vec<f32>,
    pub wq: WeightMatrix<'a>,
    pub wk: WeightMatrix<'a>,
    pub wv: WeightMatrix<'a>,
    pub bq: Option<Vec<f32>>,
    pub bk: Option<Vec<f32>>,
    pub bv: Option<Vec<f32>>,
    /// Per-head RMSNorm of queries and keys, `[head_dim_k]` (Gemma 3).
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub wo: WeightMatrix<'a>,
    /// Norm of the attention output before the residual add (Gemma 3).
    pub post_attn_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub w_gate: WeightMatrix<'a>,
    pub w_up: WeightMatrix<'a>,
    pub w_down: WeightMatrix<'a>,
    /// Norm of the FFN output before the residual add (Gemma 3).
    pub post_ffn_norm: Option<Vec<f32>>,
}

pub struct ModelWeights<'a> {
    pub token_embd: Embedding<'a>,
    pub layers: Vec<LayerWeights<'a>>,
    pub output_norm: Vec<f32>,
    /// `[n_vocab, n_embd]`; the embedding table itself when `output.weight` is absent.
    pub output: WeightMatrix<'a>,
    pub output_tied: bool,
}

struct Loader<'f, 'a> {
    file: &'f GgufFile<'a>,
    mode: KernelMode,
    isa: Isa,
}

impl<'a> Loader<'_, 'a> {
    fn info(&self, name: &str, expected: &[u64], why: &str) -> Result<&TensorInfo<'a>> {
        let info = self.file.require_tensor(name)?;
        check_shape(info, expected, why)?;
        Ok(info)
    }

    /// A `[n_in, n_out]` matrix (GGUF order) bound to its kernel.
    fn matrix(&self, name: &str, n_in: usize, n_out: usize, why: &str) -> Result<WeightMatrix<'a>> {
        let info = self.info(name, &[n_in as u64, n_out as u64], why)?;
        let (n_in, n_out) = (info.dims[0] as usize, info.dims[1] as usize);
        WeightMatrix::bind_plain(
            info.name,
            info.ggml_type,
            n_in,
            n_out,
            self.file.tensor_data(info),
            self.mode,
            self.isa,
        )
    }

    /// A vector of `len` values converted to f32.
    fn vector(&self, name: &str, len: usize, why: &str) -> Result<Vec<f32>> {
        let info = self.info(name, &[len as u64], why)?;
        let mut out = vec![0.0; len];
        quant::dequantize_row(info.ggml_type, self.file.tensor_data(info), &mut out).map_err(|_| {
            Error::UnsupportedTensorType {
                tensor: name.to_string(),
                ggml_type: info.ggml_type,
                hint: " (norm and bias vectors must be F32, F16 or BF16)",
            }
        })?;
        Ok(out)
    }

    fn optional_vector(&self, name: &str, len: usize, why: &str) -> Result<Option<Vec<f32>>> {
        match self.file.tensor(name) {
            Some(_) => self.vector(name, len, why).map(Some),
            None => Ok(None),
        }
    }
}

fn check_shape(info: &TensorInfo<'_>, expected: &[u64], why: &str) -> Result<()> {
    if info.dims != expected {
        return Err(Error::TensorShape {
            tensor: info.name.to_string(),
            expected: expected.to_vec(),
            found: info.dims.clone(),
            why: why.to_string(),
        });
    }
    Ok(())
}

impl<'a> ModelWeights<'a> {
    pub fn load(file: &GgufFile<'a>, cfg: &ModelConfig, mode: KernelMode, isa: Isa) -> Result<ModelWeights<'a>> {
        let l = Loader { file, mode, isa };
        let (n_embd, n_ff) = (cfg.n_embd, cfg.n_ff);
        let embd_info = file.require_tensor("token_embd.weight")?;
        let n_vocab = match embd_info.dims[..] {
            [d, v] if d == n_embd as u64 && v > 0 => v as usize,
            _ => {
                let found_vocab = embd_info.dims.get(1).copied().unwrap_or(0);
                return Err(Error::TensorShape {
                    tensor: embd_info.name.to_string(),
                    expected: vec![n_embd as u64, found_vocab],
                    found: embd_info.dims.clone(),
                    why: "[n_embd, n_vocab]".into(),
                });
            }
        };
        if !quant::is_supported(embd_info.ggml_type) {
            return Err(Error::UnsupportedTensorType {
                tensor: embd_info.name.to_string(),
                ggml_type: embd_info.ggml_type,
                hint: "",
            });
        }
        let token_embd = Embedding {
            ggml_type: embd_info.ggml_type,
            n_embd,
            n_vocab,
            row_bytes: embd_info.n_bytes as usize / n_vocab,
            data: file.tensor_data(embd_info),
        };
        let gemma = cfg.arch == Arch::Gemma3;
        let mut layers = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let n = |role: &str| format!("blk.{i}.{role}");
            let q_why = format!("[n_embd, n_head * head_dim] = [{n_embd}, {} * {}]", cfg.n_head, cfg.head_dim_k);
            let kv_why = format!("[n_embd, n_head_kv * head_dim] = [{n_embd}, {} * {}]", cfg.n_head_kv, cfg.head_dim_k);
            let ffn_why = format!("[n_embd, n_ff] = [{n_embd}, {n_ff}]");
            let norm_why = format!("[n_embd] = [{n_embd}]");
            let head_why = format!("[head_dim] = [{}]", cfg.head_dim_k);
            let (q_norm, k_norm, post_attn_norm, post_ffn_norm) = if gemma {
                (
                    Some(l.vector(&n("attn_q_norm.weight"), cfg.head_dim_k, &head_why)?),
                    Some(l.vector(&n("attn_k_norm.weight"), cfg.head_dim_k, &head_why)?),
                    Some(l.vector(&n("post_attention_norm.weight"), n_embd, &norm_why)?),
                    Some(l.vector(&n("post_ffw_norm.weight"), n_embd, &norm_why)?),
                )
            } else {
                (
                    l.optional_vector(&n("attn_q_norm.weight"), cfg.head_dim_k, &head_why)?,
                    l.optional_vector(&n("attn_k_norm.weight"), cfg.head_dim_k, &head_why)?,
                    None,
                    None,
                )
            };
            layers.push(LayerWeights {
                attn_norm: l.vector(&n("attn_norm.weight"), n_embd, &norm_why)?,
                wq: l.matrix(&n("attn_q.weight"), n_embd, cfg.q_dim(), &q_why)?,
                wk: l.matrix(&n("attn_k.weight"), n_embd, cfg.k_dim(), &kv_why)?,
                wv: l.matrix(&n("attn_v.weight"), n_embd, cfg.v_dim(), &kv_why)?,
                bq: l.optional_vector(&n("attn_q.bias"), cfg.q_dim(), "[n_head * head_dim]")?,
                bk: l.optional_vector(&n("attn_k.bias"), cfg.k_dim(), "[n_head_kv * head_dim]")?,
                bv: l.optional_vector(&n("attn_v.bias"), cfg.v_dim(), "[n_head_kv * head_dim]")?,
                q_norm,
                k_norm,
                wo: l.matrix(
                    &n("attn_output.weight"),
                    cfg.n_head * cfg.head_dim_v,
                    n_embd,
                    &format!("[n_head * head_dim, n_embd] = [{} * {}, {n_embd}]", cfg.n_head, cfg.head_dim_v),
                )?,
                post_attn_norm,
                ffn_norm: l.vector(&n("ffn_norm.weight"), n_embd, &norm_why)?,
                w_gate: l.matrix(&n("ffn_gate.weight"), n_embd, n_ff, &ffn_why)?,
                w_up: l.matrix(&n("ffn_up.weight"), n_embd, n_ff, &ffn_why)?,
                w_down: l.matrix(
                    &n("ffn_down.weight"),
                    n_ff,
                    n_embd,
                    &format!("[n_ff, n_embd] = [{n_ff}, {n_embd}]"),
                )?,
                post_ffn_norm,
            });
        }
        let output_norm = l.vector("output_norm.weight", n_embd, &format!("[n_embd] = [{n_embd}]"))?;
        let vocab_why = format!("[n_embd, n_vocab] = [{n_embd}, {n_vocab}] like token_embd.weight");
        let (output, output_tied) = match file.tensor("output.weight") {
            Some(_) => (l.matrix("output.weight", n_embd, n_vocab, &vocab_why)?, false),
            None => {
                let data = file.tensor_data(embd_info);
                let m =
                    WeightMatrix::bind_plain("output.weight", embd_info.ggml_type, n_embd, n_vocab, data, mode, isa)?;
                (m, true)
            }
        };
        let mut weights = ModelWeights { token_embd, layers, output_norm, output, output_tied };
        // The copies the group kernels read, in one allocation (`interleave_together`).
        let mut matrices: Vec<&mut WeightMatrix<'a>> = weights
            .layers
            .iter_mut()
            .flat_map(|l| [&mut l.wq, &mut l.wk, &mut l.wv, &mut l.wo, &mut l.w_gate, &mut l.w_up, &mut l.w_down])
            .chain(std::iter::once(&mut weights.output))
            .collect();
        WeightMatrix::interleave_together(&mut matrices);
        Ok(weights)
    }

    /// Weight bytes one decoded token streams from memory: every matrix once
    /// (the token embedding contributes one row, left out; KV cache reads,
    /// a few MB at short contexts, are not counted).
    pub fn bytes_per_token(&self) -> u64 {
        self.matrices().map(|m| m.bytes()).sum()
    }

    /// Every weight matrix with its role, layer by layer, then the output.
    pub fn matrices(&self) -> impl Iterator<Item = &WeightMatrix<'a>> {
        self.layers
            .iter()
            .flat_map(|l| [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down])
            .chain(std::iter::once(&self.output))
    }
}
