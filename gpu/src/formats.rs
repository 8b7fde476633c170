//! The weight formats with a GPU kernel: one entry each, naming the
//! activation blocks its kernel multiplies against and its WGSL `block_dot`.
//! Adding a format is one entry here and one shader beside matvec.wgsl.

use fuselm_core::GgmlType;

/// The activation blocks a format's kernel reads (act_blocks.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GpuAct {
    Q8K,
    Q8_0,
    Q8_1,
}

impl GpuAct {
    pub const ALL: [GpuAct; 3] = [GpuAct::Q8K, GpuAct::Q8_0, GpuAct::Q8_1];

    /// Values per block.
    pub fn block_values(self) -> usize {
        match self {
            GpuAct::Q8K => 256,
            GpuAct::Q8_0 | GpuAct::Q8_1 => 32,
        }
    }

    /// u32 words per block (act_blocks.wgsl).
    pub fn block_words(self) -> usize {
        match self {
            GpuAct::Q8K => 81,
            GpuAct::Q8_0 => 9,
            GpuAct::Q8_1 => 10,
        }
    }

    /// Words of one quantized row of `n` values.
    pub fn row_words(self, n: usize) -> usize {
        n / self.block_values() * self.block_words()
    }

    /// The quantize.wgsl entry point.
    pub(crate) fn entry_point(self) -> &'static str {
        match self {
            GpuAct::Q8K => "quantize_q8k",
            GpuAct::Q8_0 => "quantize_q8_0",
            GpuAct::Q8_1 => "quantize_q8_1",
        }
    }

    /// Workgroups along x that quantize one row of `n` values.
    pub(crate) fn workgroups(self, n: usize) -> u32 {
        match self {
            GpuAct::Q8K => (n / 256) as u32,
            GpuAct::Q8_0 | GpuAct::Q8_1 => (n / 32).div_ceil(8) as u32,
        }
    }
}

pub struct GpuFormat {
    pub ggml_type: GgmlType,
    pub act: GpuAct,
    /// WGSL defining BLOCK_BYTES, ACT_WORDS and `block_dot`.
    pub(crate) block_dot: &'static str,
}

pub const FORMATS: &[GpuFormat] = &[
    GpuFormat { ggml_type: GgmlType::Q4_K, act: GpuAct::Q8K, block_dot: include_str!("shaders/q4_k.wgsl") },
    GpuFormat { ggml_type: GgmlType::Q5_K, act: GpuAct::Q8K, block_dot: include_str!("shaders/q5_k.wgsl") },
    GpuFormat { ggml_type: GgmlType::Q6_K, act: GpuAct::Q8K, block_dot: include_str!("shaders/q6_k.wgsl") },
    GpuFormat { ggml_type: GgmlType::Q8_0, act: GpuAct::Q8_0, block_dot: include_str!("shaders/q8_0.wgsl") },
    GpuFormat { ggml_type: GgmlType::Q4_0, act: GpuAct::Q8_0, block_dot: include_str!("shaders/q4_0.wgsl") },
    GpuFormat { ggml_type: GgmlType::Q4_1, act: GpuAct::Q8_1, block_dot: include_str!("shaders/q4_1.wgsl") },
    GpuFormat { ggml_type: GgmlType::Q5_0, act: GpuAct::Q8_0, block_dot: include_str!("shaders/q5_0.wgsl") },
    GpuFormat { ggml_type: GgmlType::Q5_1, act: GpuAct::Q8_1, block_dot: include_str!("shaders/q5_1.wgsl") },
    GpuFormat { ggml_type: GgmlType::Q2_K, act: GpuAct::Q8K, block_dot: include_str!("shaders/q2_k.wgsl") },
    GpuFormat { ggml_type: GgmlType::Q3_K, act: GpuAct::Q8K, block_dot: include_str!("shaders/q3_k.wgsl") },
];

pub fn format(ggml_type: GgmlType) -> Option<&'static GpuFormat> {
    FORMATS.iter().find(|f| f.ggml_type == ggml_type)
}

/// The formats with a kernel, for messages.
pub fn supported_names() -> String {
    FORMATS.iter().map(|f| f.ggml_type.to_string()).collect::<Vec<_>>().join(", ")
}
