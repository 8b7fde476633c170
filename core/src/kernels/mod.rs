//! Kernels and the one dispatch layer that picks them.
//!
//! ```text
//!  weight tensor (GgmlType) ──► select_kernel(type, KernelMode, detected Isa) ──► Kernel
//!                                   │ table.rs: one row per (format, isa)          │ name, fused?, act format
//!                                   ▼                                               ▼
//!  x: [n_in] f32 ──► Activations::quantize (once per row, SIMD) ──► Kernel::dot(row bytes, acts) per output row
//! ```
//!
//! [`KernelMode`] forces a path (hosts read it from `FUSELM_KERNELS` / `--kernels`).

// Index loops mirror ggml's definitions element for element, which is what
// lets a reader check them line by line; iterator chains would hide that.
#![allow(clippy::needless_range_loop)]

mod activations;
#[cfg(target_arch = "aarch64")]
pub mod arm;
mod matrix;
pub mod stats;
mod table;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm;
#[cfg(target_arch = "x86_64")]
pub mod x86;

pub use activations::{ActFormat, Activations};
pub use matrix::WeightMatrix;
pub use table::{select_kernel, DotFn, Kernel};

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The instruction set a kernel uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    Scalar,
    Avx2,
    Neon,
    /// NEON with the dotprod extension (`sdot`).
    NeonDotprod,
    Simd128,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Neon => "neon",
            Isa::NeonDotprod => "neon-dotprod",
            Isa::Simd128 => "simd128",
        }
    }

    /// Every kernel ISA this CPU can run, best first (ends with Scalar). Tests
    /// run each; dispatch uses the first.
    pub fn available() -> Vec<Isa> {
        let mut isas = Vec::new();
        match Isa::detect() {
            Isa::NeonDotprod => isas.extend([Isa::NeonDotprod, Isa::Neon]),
            Isa::Scalar => {}
            best => isas.push(best),
        }
        isas.push(Isa::Scalar);
        isas
    }

    /// The best SIMD instruction set this CPU offers (checked at run time on x86_64).
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("f16c")
            {
                return Isa::Avx2;
            }
        }
        if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
            return Isa::Simd128;
        }
        #[cfg(target_arch = "aarch64")]
        {
            if std::arch::is_aarch64_feature_detected!("dotprod") {
                return Isa::NeonDotprod;
            }
            if std::arch::is_aarch64_feature_detected!("neon") {
                return Isa::Neon;
            }
        }
        Isa::Scalar
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which kernels to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KernelMode {
    /// The fastest fused kernel for each format on this CPU.
    #[default]
    Auto,
    /// Like Auto, but an error on a CPU with no SIMD kernels at all.
    Simd,
    /// The fused scalar reference kernels.
    Scalar,
    /// The pre-fused baseline: dequantize each row to f32, then an f32 dot.
    Unfused,
}

impl KernelMode {
    /// The env variable the native host reads a mode from; parse errors name it.
    pub const ENV: &'static str = "FUSELM_KERNELS";

    pub fn name(self) -> &'static str {
        match self {
            KernelMode::Auto => "auto",
            KernelMode::Simd => "simd",
            KernelMode::Scalar => "scalar",
            KernelMode::Unfused => "unfused",
        }
    }
}

impl FromStr for KernelMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<KernelMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(KernelMode::Auto),
            "simd" => Ok(KernelMode::Simd),
            "scalar" => Ok(KernelMode::Scalar),
            "unfused" => Ok(KernelMode::Unfused),
            _ => Err(Error::BadOption {
                option: Self::ENV,
                value: s.to_string(),
                expected: "auto, simd, scalar or unfused",
            }),
        }
    }
}
