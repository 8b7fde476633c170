//! The one instruction in which the x86 tiers' 256-bit integer kernels
//! differ: unsigned × signed bytes, four products summed into each i32 lane.
//! AVX-512 VNNI (with VL) and AVX-VNNI both have it as `vpdpbusd`, behind
//! two intrinsics that need different CPU features; AVX2 has none
//! (`vpmaddubsw` sums pairs in saturating i16, `vpmaddwd` widens them), so
//! its kernels keep their own i16 path. A kernel takes its tier as a type
//! parameter ([`ByteDot`]) and is compiled once per tier inside that tier's
//! `#[target_feature]` wrapper, where the intrinsic inlines.

#![allow(clippy::missing_safety_doc)]

use std::arch::x86_64::*;

/// How a tier multiplies u8 by i8 bytes into i32 lanes.
pub trait ByteDot {
    /// Whether [`ByteDot::dpbusd`] is one instruction with exact i32 sums
    /// (kernels then accumulate straight into i32 lanes); AVX2's is not,
    /// and kernels take their i16 path on it instead.
    const VNNI: bool;
    /// `acc + Σ u·s` over each lane's 4 byte pairs (`u` unsigned, `s` signed).
    ///
    /// # Safety
    /// Called only inside a function whose target features include the tier's.
    unsafe fn dpbusd(acc: __m256i, u: __m256i, s: __m256i) -> __m256i;
}

/// AVX2: no VNNI. Its `dpbusd` saturates where a pair's sum leaves i16, so
/// it is exact only where `u` is at most 127; kernels check
/// [`ByteDot::VNNI`] and do not call it.
pub struct Avx2Pairs;

/// AVX-512 VNNI with VL: `vpdpbusd` on 256-bit registers (EVEX encoding).
pub struct Avx512VlDot;

/// AVX-VNNI (Alder Lake, Zen 5 and later): the same `vpdpbusd`, VEX encoded,
/// on CPUs with or without AVX-512.
pub struct AvxVnniDot;

impl ByteDot for Avx2Pairs {
    const VNNI: bool = false;
    #[inline(always)]
    unsafe fn dpbusd(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
        _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)))
    }
}

impl ByteDot for Avx512VlDot {
    const VNNI: bool = true;
    #[inline(always)]
    unsafe fn dpbusd(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(acc, u, s)
    }
}

impl ByteDot for AvxVnniDot {
    const VNNI: bool = true;
    #[inline(always)]
    unsafe fn dpbusd(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
        _mm256_dpbusd_avx_epi32(acc, u, s)
    }
}
