//! The dispatch table: for each weight format and instruction set, the row
//! kernel to use. This is the one place that decides; adding a format or an ISA
//! means adding rows here.

use crate::error::{Error, Result};
use crate::quant::{self, float, BlockQ8K, BlockQ8_0, BlockQ8_1};
use crate::GgmlType;

use super::interleaved::{group_kernel, GroupKernel};
use super::tiled::{tiled_kernel, TiledKernel};
use super::{ActFormat, Isa, KernelMode};

/// A row kernel, typed by the activation format it reads.
#[derive(Clone, Copy)]
pub enum DotFn {
    Q8K(fn(&[u8], &[BlockQ8K]) -> f32),
    Q8_0(fn(&[u8], &[BlockQ8_0]) -> f32),
    Q8_1(fn(&[u8], &[BlockQ8_1]) -> f32),
    /// Float weights, and the unfused path (`row bytes`, f32 activations).
    F32(fn(&[u8], &[f32]) -> f32),
}

impl DotFn {
    pub fn act_format(&self) -> ActFormat {
        match self {
            DotFn::Q8K(_) => ActFormat::Q8K,
            DotFn::Q8_0(_) => ActFormat::Q8_0,
            DotFn::Q8_1(_) => ActFormat::Q8_1,
            DotFn::F32(_) => ActFormat::F32,
        }
    }
}

/// The kernel chosen for one weight format.
#[derive(Clone, Copy)]
pub struct Kernel {
    pub ggml_type: GgmlType,
    /// ISA of the dot product and of the activation quantizer.
    pub isa: Isa,
    /// False for the dequantize-then-dot baseline.
    pub fused: bool,
    /// Short name for logs and reports: `avx2`, `scalar`, `unfused`, `f32-dot`.
    pub name: &'static str,
    pub dot: DotFn,
    /// The tiled matrix-matrix kernel for prefill, where the tier has one
    /// (not in `KernelMode::Exact`).
    pub tiled: Option<TiledKernel>,
    /// The kernels over rows interleaved by 8, where the tier has them (not
    /// in `KernelMode::Exact`): the matrix is then stored interleaved
    /// (`interleaved.rs`).
    pub group: Option<GroupKernel>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kernel({} {} via {:?})", self.ggml_type, self.name, self.dot.act_format())
    }
}

macro_rules! scalar_dot {
    ($block:ty, $act:ty, $f:path) => {
        |w: &[u8], a: &[$act]| $f(as_blocks::<$block>(w), a)
    };
}

fn scalar_kernel(ty: GgmlType) -> Option<DotFn> {
    use quant::*;
    Some(match ty {
        GgmlType::Q4_0 => DotFn::Q8_0(scalar_dot!(BlockQ4_0, BlockQ8_0, q4_0::vec_dot)),
        GgmlType::Q5_0 => DotFn::Q8_0(scalar_dot!(BlockQ5_0, BlockQ8_0, q5_0::vec_dot)),
        GgmlType::Q8_0 => DotFn::Q8_0(scalar_dot!(BlockQ8_0, BlockQ8_0, q8_0::vec_dot)),
        GgmlType::Q4_1 => DotFn::Q8_1(scalar_dot!(BlockQ4_1, BlockQ8_1, q4_1::vec_dot)),
        GgmlType::Q5_1 => DotFn::Q8_1(scalar_dot!(BlockQ5_1, BlockQ8_1, q5_1::vec_dot)),
        GgmlType::Q2_K => DotFn::Q8K(scalar_dot!(BlockQ2K, BlockQ8K, q2_k::vec_dot)),
        GgmlType::Q3_K => DotFn::Q8K(scalar_dot!(BlockQ3K, BlockQ8K, q3_k::vec_dot)),
        GgmlType::Q4_K => DotFn::Q8K(scalar_dot!(BlockQ4K, BlockQ8K, q4_k::vec_dot)),
        GgmlType::Q5_K => DotFn::Q8K(scalar_dot!(BlockQ5K, BlockQ8K, q5_k::vec_dot)),
        GgmlType::Q6_K => DotFn::Q8K(scalar_dot!(BlockQ6K, BlockQ8K, q6_k::vec_dot)),
        _ => return None,
    })
}

#[cfg(target_arch = "x86_64")]
fn avx2_kernel(ty: GgmlType) -> Option<DotFn> {
    use super::avx2;
    use quant::*;
    // SAFETY (every closure): this table is only consulted with Isa::Avx2, which
    // `Isa::detect` returns only after detecting avx2 and fma on this CPU.
    Some(match ty {
        GgmlType::Q4_0 => DotFn::Q8_0(|w, a| unsafe { avx2::vec_dot_q4_0(as_blocks::<BlockQ4_0>(w), a) }),
        GgmlType::Q5_0 => DotFn::Q8_0(|w, a| unsafe { avx2::vec_dot_q5_0(as_blocks::<BlockQ5_0>(w), a) }),
        GgmlType::Q8_0 => DotFn::Q8_0(|w, a| unsafe { avx2::vec_dot_q8_0(as_blocks::<BlockQ8_0>(w), a) }),
        GgmlType::Q4_1 => DotFn::Q8_1(|w, a| unsafe { avx2::vec_dot_q4_1(as_blocks::<BlockQ4_1>(w), a) }),
        GgmlType::Q2_K => DotFn::Q8K(|w, a| unsafe { avx2::vec_dot_q2_k(as_blocks::<BlockQ2K>(w), a) }),
        GgmlType::Q3_K => DotFn::Q8K(|w, a| unsafe { avx2::vec_dot_q3_k(as_blocks::<BlockQ3K>(w), a) }),
        GgmlType::Q4_K => DotFn::Q8K(|w, a| unsafe { avx2::vec_dot_q4_k(as_blocks::<BlockQ4K>(w), a) }),
        GgmlType::Q5_K => DotFn::Q8K(|w, a| unsafe { avx2::vec_dot_q5_k(as_blocks::<BlockQ5K>(w), a) }),
        GgmlType::Q6_K => DotFn::Q8K(|w, a| unsafe { avx2::vec_dot_q6_k(as_blocks::<BlockQ6K>(w), a) }),
        _ => return None,
    })
}

/// AVX-512 row kernels (bit-equal to AVX2's, `avx512_rows.rs`) where they
/// are faster; the other formats keep AVX2's.
#[cfg(target_arch = "x86_64")]
fn avx512_kernel(ty: GgmlType) -> Option<DotFn> {
    use super::avx512_rows as rows;
    use quant::*;
    // SAFETY (every closure): consulted only with Isa::Avx512Vnni, which
    // `Isa::detect` returns only after detecting avx512f/bw/vnni, avx2, fma and f16c.
    Some(match ty {
        GgmlType::Q6_K => DotFn::Q8K(|w, a| unsafe { rows::vec_dot_q6_k(as_blocks::<BlockQ6K>(w), a) }),
        _ => return None,
    })
}

#[cfg(target_arch = "aarch64")]
fn neon_kernel(ty: GgmlType, dotprod: bool) -> Option<DotFn> {
    use super::neon;
    use quant::*;
    // SAFETY (every closure): consulted only with Isa::Neon / Isa::NeonDotprod,
    // which `Isa::detect` returns only after detecting neon (and dotprod).
    macro_rules! pick {
        ($variant:ident, $block:ty, $plain:path, $dot:path) => {
            if dotprod {
                DotFn::$variant(|w, a| unsafe { $dot(as_blocks::<$block>(w), a) })
            } else {
                DotFn::$variant(|w, a| unsafe { $plain(as_blocks::<$block>(w), a) })
            }
        };
    }
    Some(match ty {
        GgmlType::Q4_0 => pick!(Q8_0, BlockQ4_0, neon::vec_dot_q4_0, neon::vec_dot_q4_0_dotprod),
        GgmlType::Q5_0 => pick!(Q8_0, BlockQ5_0, neon::vec_dot_q5_0, neon::vec_dot_q5_0_dotprod),
        GgmlType::Q8_0 => pick!(Q8_0, BlockQ8_0, neon::vec_dot_q8_0, neon::vec_dot_q8_0_dotprod),
        GgmlType::Q4_1 => pick!(Q8_1, BlockQ4_1, neon::vec_dot_q4_1, neon::vec_dot_q4_1_dotprod),
        GgmlType::Q2_K => pick!(Q8K, BlockQ2K, neon::vec_dot_q2_k, neon::vec_dot_q2_k_dotprod),
        GgmlType::Q3_K => pick!(Q8K, BlockQ3K, neon::vec_dot_q3_k, neon::vec_dot_q3_k_dotprod),
        GgmlType::Q4_K => pick!(Q8K, BlockQ4K, neon::vec_dot_q4_k, neon::vec_dot_q4_k_dotprod),
        GgmlType::Q5_K => pick!(Q8K, BlockQ5K, neon::vec_dot_q5_k, neon::vec_dot_q5_k_dotprod),
        GgmlType::Q6_K => pick!(Q8K, BlockQ6K, neon::vec_dot_q6_k, neon::vec_dot_q6_k_dotprod),
        _ => return None,
    })
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn simd128_kernel(ty: GgmlType) -> Option<DotFn> {
    use super::simd128;
    use quant::*;
    // Safe functions: simd128 is a compile-time feature of this build.
    Some(match ty {
        GgmlType::Q4_0 => DotFn::Q8_0(|w, a| simd128::vec_dot_q4_0(as_blocks::<BlockQ4_0>(w), a)),
        GgmlType::Q5_0 => DotFn::Q8_0(|w, a| simd128::vec_dot_q5_0(as_blocks::<BlockQ5_0>(w), a)),
        GgmlType::Q8_0 => DotFn::Q8_0(|w, a| simd128::vec_dot_q8_0(as_blocks::<BlockQ8_0>(w), a)),
        GgmlType::Q4_1 => DotFn::Q8_1(|w, a| simd128::vec_dot_q4_1(as_blocks::<BlockQ4_1>(w), a)),
        GgmlType::Q2_K => DotFn::Q8K(|w, a| simd128::vec_dot_q2_k(as_blocks::<BlockQ2K>(w), a)),
        GgmlType::Q3_K => DotFn::Q8K(|w, a| simd128::vec_dot_q3_k(as_blocks::<BlockQ3K>(w), a)),
        GgmlType::Q4_K => DotFn::Q8K(|w, a| simd128::vec_dot_q4_k(as_blocks::<BlockQ4K>(w), a)),
        GgmlType::Q5_K => DotFn::Q8K(|w, a| simd128::vec_dot_q5_k(as_blocks::<BlockQ5K>(w), a)),
        GgmlType::Q6_K => DotFn::Q8K(|w, a| simd128::vec_dot_q6_k(as_blocks::<BlockQ6K>(w), a)),
        _ => return None,
    })
}

#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
fn simd128_relaxed_kernel(ty: GgmlType) -> Option<DotFn> {
    use super::simd128_relaxed as relaxed;
    use quant::*;
    // Safe functions: relaxed-simd is a compile-time feature of this build.
    // Q8_0's signed weights do not fit the 7-bit operand: none here, so
    // `simd_kernel` falls back to simd128's.
    Some(match ty {
        GgmlType::Q4_0 => DotFn::Q8_0(|w, a| relaxed::vec_dot_q4_0(as_blocks::<BlockQ4_0>(w), a)),
        GgmlType::Q5_0 => DotFn::Q8_0(|w, a| relaxed::vec_dot_q5_0(as_blocks::<BlockQ5_0>(w), a)),
        GgmlType::Q4_1 => DotFn::Q8_1(|w, a| relaxed::vec_dot_q4_1(as_blocks::<BlockQ4_1>(w), a)),
        GgmlType::Q4_K => DotFn::Q8K(|w, a| relaxed::vec_dot_q4_k(as_blocks::<BlockQ4K>(w), a)),
        GgmlType::Q5_K => DotFn::Q8K(|w, a| relaxed::vec_dot_q5_k(as_blocks::<BlockQ5K>(w), a)),
        GgmlType::Q6_K => DotFn::Q8K(|w, a| relaxed::vec_dot_q6_k(as_blocks::<BlockQ6K>(w), a)),
        _ => return None,
    })
}

/// The per-row kernel for `ty` on `isa`, and the tier that provides it (a
/// tier may fall back to a lesser one's kernel for some formats).
fn simd_kernel(ty: GgmlType, isa: Isa) -> Option<(DotFn, Isa)> {
    let own = |dot: Option<DotFn>| dot.map(|d| (d, isa));
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => own(avx2_kernel(ty)),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni => own(avx512_kernel(ty)).or_else(|| simd_kernel(ty, Isa::Avx2)),
        #[cfg(target_arch = "x86_64")]
        Isa::AvxVnni => simd_kernel(ty, Isa::Avx2),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => own(neon_kernel(ty, false)),
        #[cfg(target_arch = "aarch64")]
        Isa::NeonDotprod => own(neon_kernel(ty, true)),
        #[cfg(target_arch = "aarch64")]
        Isa::NeonI8mm => simd_kernel(ty, Isa::NeonDotprod),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Simd128 => own(simd128_kernel(ty)),
        #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
        Isa::Simd128Relaxed => own(simd128_relaxed_kernel(ty)).or_else(|| simd_kernel(ty, Isa::Simd128)),
        _ => {
            let _ = (ty, own);
            None
        }
    }
}

/// Dequantize the row into a per-thread scratch buffer, then an f32 dot: the
/// pre-fused baseline, kept for comparison.
fn unfused_dot(ty: GgmlType) -> fn(&[u8], &[f32]) -> f32 {
    macro_rules! unfused {
        ($t:expr) => {
            |w: &[u8], x: &[f32]| {
                thread_local! {
                    static ROW: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
                }
                ROW.with_borrow_mut(|row| {
                    row.resize(x.len(), 0.0);
                    match quant::dequantize_row($t, w, row) {
                        Ok(()) => float::dot_f32(row, x),
                        Err(_) => f32::NAN, // sizes are checked when the matrix is built
                    }
                })
            }
        };
    }
    use GgmlType::*;
    match ty {
        F16 => unfused!(F16),
        BF16 => unfused!(BF16),
        Q4_0 => unfused!(Q4_0),
        Q4_1 => unfused!(Q4_1),
        Q5_0 => unfused!(Q5_0),
        Q5_1 => unfused!(Q5_1),
        Q8_0 => unfused!(Q8_0),
        Q2_K => unfused!(Q2_K),
        Q3_K => unfused!(Q3_K),
        Q4_K => unfused!(Q4_K),
        Q5_K => unfused!(Q5_K),
        Q6_K => unfused!(Q6_K),
        _ => unfused!(F32),
    }
}

fn f32_weights_dot(w: &[u8], x: &[f32]) -> f32 {
    // Weights are little-endian f32; a file offset need not be 4-aligned, so
    // view as f32 only when it is, else convert in chunks.
    match bytemuck::try_cast_slice::<u8, f32>(w) {
        Ok(row) if cfg!(target_endian = "little") => float::dot_f32(row, x),
        _ => {
            let mut sum = 0.0f32;
            for (b, &xv) in w.chunks_exact(4).zip(x) {
                sum += f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * xv;
            }
            sum
        }
    }
}

/// Chooses the kernel for weights of type `ty` under `mode` on a CPU with `isa`.
/// `tensor` names the weight in errors.
pub fn select_kernel(tensor: &str, ty: GgmlType, mode: KernelMode, isa: Isa) -> Result<Kernel> {
    if !quant::is_supported(ty) || ty == GgmlType::Q8_K || ty == GgmlType::Q8_1 {
        return Err(Error::UnsupportedTensorType {
            tensor: tensor.to_string(),
            ggml_type: ty,
            hint: " (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K)",
        });
    }
    if mode == KernelMode::Simd && isa == Isa::Scalar {
        return Err(Error::NoSimd { mode: mode.name(), detected: isa.name() });
    }
    let kernel = |isa, fused, name, dot| Kernel { ggml_type: ty, isa, fused, name, dot, tiled: None, group: None };
    if ty == GgmlType::F32 {
        return Ok(kernel(Isa::Scalar, true, "f32-dot", DotFn::F32(f32_weights_dot)));
    }
    if mode == KernelMode::Unfused || matches!(ty, GgmlType::F16 | GgmlType::BF16) {
        let name = if mode == KernelMode::Unfused { "unfused" } else { "dequant-dot" };
        return Ok(kernel(Isa::Scalar, false, name, DotFn::F32(unfused_dot(ty))));
    }
    if mode != KernelMode::Scalar {
        let fast = mode != KernelMode::Exact;
        let tiled = if fast { tiled_kernel(ty, isa) } else { None };
        // A format with a tile but no SIMD row kernel on this tier (Q5_1)
        // still prefills tiled; its rows go through the scalar kernel.
        let scalar_rows = || tiled.and_then(|_| scalar_kernel(ty)).map(|dot| (dot, Isa::Scalar));
        if let Some((dot, row_tier)) = simd_kernel(ty, isa).or_else(scalar_rows) {
            let group = if fast { group_kernel(ty, isa) } else { None };
            // Reports say which products are tiled; a tier without a tiled kernel
            // for this format runs its (or a lesser tier's) per-row kernels.
            let name = if tiled.is_some() { isa.tiled_name() } else { row_tier.name() };
            return Ok(Kernel { tiled, group, ..kernel(isa, true, name, dot) });
        }
    }
    match scalar_kernel(ty) {
        Some(dot) => Ok(kernel(Isa::Scalar, true, "scalar", dot)),
        None => Ok(kernel(Isa::Scalar, false, "unfused", DotFn::F32(unfused_dot(ty)))),
    }
}
