//! Which kernels run: the instruction sets a CPU offers ([`Isa`], detected at
//! run time; one place decides) and the user's choice ([`KernelMode`]).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The instruction set a kernel uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    Scalar,
    Avx2,
    /// AVX-512 F/BW/VL with VNNI (`vpdpbusd`): tiled matrix-matrix kernels, and
    /// a per-row Q6_K kernel bit-equal to AVX2's; its other per-row kernels
    /// and its activation quantizers are the AVX2 ones.
    Avx512Vnni,
    /// AVX2 with AVX-VNNI (256-bit `vpdpbusd`, VEX encoded; Alder Lake and
    /// later, Zen 5): AVX2's tiles and Q4_K/Q5_K/Q6_K group kernels with
    /// `vpdpbusd` in place of `vpmaddubsw` pairs; its per-row kernels, other
    /// group kernels and activation quantizers are AVX2's.
    AvxVnni,
    Neon,
    /// NEON with the dotprod extension (`sdot`).
    NeonDotprod,
    /// NEON with dotprod and the int8 matrix-multiply extension (`smmla`):
    /// tiled products with `smmla`; its per-row kernels and activation
    /// quantizers are the dotprod tier's.
    NeonI8mm,
    Simd128,
    /// simd128 with relaxed SIMD (`i32x4.relaxed_dot_i8x16_i7x16_add_s`), a
    /// compile-time feature of the `relaxed` browser build.
    Simd128Relaxed,
}

impl Isa {
    /// Every tier, for parsing names.
    pub const ALL: [Isa; 9] = [
        Isa::Avx512Vnni,
        Isa::AvxVnni,
        Isa::Avx2,
        Isa::NeonI8mm,
        Isa::NeonDotprod,
        Isa::Neon,
        Isa::Simd128Relaxed,
        Isa::Simd128,
        Isa::Scalar,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512Vnni => "avx512vnni",
            Isa::AvxVnni => "avxvnni",
            Isa::Neon => "neon",
            Isa::NeonDotprod => "neon-dotprod",
            Isa::NeonI8mm => "neon-i8mm",
            Isa::Simd128 => "simd128",
            Isa::Simd128Relaxed => "simd128-relaxed",
        }
    }

    /// Whether this tier has the fast kernel set (tiled prefill products, f32
    /// prefill attention). Tiers without it (plain NEON, simd128, scalar) run the
    /// exact set's arithmetic in every mode, so the simd and threads browser
    /// builds give the ids of native `exact`; simd128-relaxed (the relaxed
    /// builds) has it.
    pub fn has_fast_set(self) -> bool {
        self.has_avx2_fma() || matches!(self, Isa::NeonDotprod | Isa::NeonI8mm | Isa::Simd128Relaxed)
    }

    /// The kernel name of this tier's tiled products (`avx2-tiled`).
    pub fn tiled_name(self) -> &'static str {
        match self {
            Isa::Avx2 => "avx2-tiled",
            Isa::Avx512Vnni => "avx512vnni-tiled",
            Isa::AvxVnni => "avxvnni-tiled",
            Isa::Neon => "neon-tiled",
            Isa::NeonDotprod => "neon-dotprod-tiled",
            Isa::NeonI8mm => "neon-i8mm-tiled",
            Isa::Simd128 => "simd128-tiled",
            Isa::Simd128Relaxed => "simd128-relaxed-tiled",
            Isa::Scalar => "scalar-tiled",
        }
    }

    /// Every kernel ISA this CPU can run, best first (ends with Scalar). Tests
    /// run each; dispatch uses the first.
    pub fn available() -> Vec<Isa> {
        let mut isas = Vec::new();
        match Isa::detect() {
            Isa::NeonI8mm => isas.extend([Isa::NeonI8mm, Isa::NeonDotprod, Isa::Neon]),
            Isa::NeonDotprod => isas.extend([Isa::NeonDotprod, Isa::Neon]),
            Isa::Avx512Vnni if Isa::has_avx_vnni() => isas.extend([Isa::Avx512Vnni, Isa::AvxVnni, Isa::Avx2]),
            Isa::Avx512Vnni => isas.extend([Isa::Avx512Vnni, Isa::Avx2]),
            Isa::AvxVnni => isas.extend([Isa::AvxVnni, Isa::Avx2]),
            Isa::Simd128Relaxed => isas.extend([Isa::Simd128Relaxed, Isa::Simd128]),
            Isa::Scalar => {}
            best => isas.push(best),
        }
        isas.push(Isa::Scalar);
        isas
    }

    /// Whether code compiled for `avx2,fma,f16c` may run: every x86 tier
    /// includes AVX2's kernels (the element-wise ops in `model/ops.rs` pick
    /// their AVX2+FMA build by this).
    pub fn has_avx2_fma(self) -> bool {
        matches!(self, Isa::Avx2 | Isa::AvxVnni | Isa::Avx512Vnni)
    }

    /// The tier whose activation quantizers this one uses: itself, except
    /// the VNNI tiers, which reuse AVX2's, and i8mm, which reuses dotprod's.
    pub fn quantizer_isa(self) -> Isa {
        match self {
            Isa::Avx512Vnni | Isa::AvxVnni => Isa::Avx2,
            Isa::NeonI8mm => Isa::NeonDotprod,
            isa => isa,
        }
    }

    /// Whether this CPU has AVX-VNNI (false off x86_64).
    fn has_avx_vnni() -> bool {
        #[cfg(target_arch = "x86_64")]
        return std::arch::is_x86_feature_detected!("avxvnni");
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// The best SIMD instruction set this CPU offers (checked at run time on x86_64).
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            let avx512 = std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512vnni");
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("f16c")
            {
                return if avx512 {
                    Isa::Avx512Vnni
                } else if Isa::has_avx_vnni() {
                    Isa::AvxVnni
                } else {
                    Isa::Avx2
                };
            }
        }
        if cfg!(all(target_arch = "wasm32", target_feature = "relaxed-simd")) {
            return Isa::Simd128Relaxed;
        }
        if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
            return Isa::Simd128;
        }
        #[cfg(target_arch = "aarch64")]
        {
            if std::arch::is_aarch64_feature_detected!("dotprod") {
                if std::arch::is_aarch64_feature_detected!("i8mm") {
                    return Isa::NeonI8mm;
                }
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
    /// The fastest fused kernels on this CPU: tiled matrix-matrix kernels for
    /// prefill where the tier has them (they sum floats in another order than
    /// llama.cpp, see `kernels/unpacked.rs`), per-row kernels otherwise.
    #[default]
    Auto,
    /// The best per-row kernels only: logits bit-equal to llama.cpp's plain
    /// kernels (`-ub 1 --no-repack`) on x86, whatever the batch size.
    Exact,
    /// Like Auto, but an error on a CPU with no SIMD kernels at all.
    Simd,
    /// Like Auto on one named tier (`avx2` on an AVX-512 machine, to measure
    /// it); loading fails where the CPU lacks it.
    Tier(Isa),
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
            KernelMode::Exact => "exact",
            KernelMode::Simd => "simd",
            KernelMode::Scalar => "scalar",
            KernelMode::Unfused => "unfused",
            KernelMode::Tier(isa) => isa.name(),
        }
    }
}

impl FromStr for KernelMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<KernelMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(KernelMode::Auto),
            "exact" => Ok(KernelMode::Exact),
            "simd" => Ok(KernelMode::Simd),
            "scalar" => Ok(KernelMode::Scalar),
            "unfused" => Ok(KernelMode::Unfused),
            name => match Isa::ALL.into_iter().find(|isa| isa.name() == name) {
                Some(isa) => Ok(KernelMode::Tier(isa)),
                None => Err(Error::BadOption {
                    option: Self::ENV,
                    value: s.to_string(),
                    expected:
                        "auto, exact, simd, scalar, unfused or a tier (avx512vnni, avxvnni, avx2, neon-i8mm, neon-dotprod, neon, simd128-relaxed, simd128)",
                }),
            },
        }
    }
}
