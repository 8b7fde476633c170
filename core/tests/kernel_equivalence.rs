//! Every SIMD kernel on this target equals its scalar twin: activation
//! quantizers bit for bit, fused dots within float rounding of the same integer
//! sums, on random blocks including extreme and zero scales. One generic test
//! body runs over every format and every ISA this CPU offers (`Isa::available`:
//! AVX2 on x86_64 CI, AVX-512 VNNI (also bit-equal to AVX2) where present, NEON with and without dotprod on aarch64 under qemu,
//! simd128 on wasm32).

use fuselm_core::kernels::{select_kernel, ActFormat, Activations, DotFn, Isa, KernelMode};
use fuselm_core::quant;
use fuselm_core::GgmlType;
use proptest::prelude::*;

const FORMATS: &[GgmlType] = &[
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
];

/// An f16 scale: typical, tiny (subnormal), huge, or zero.
fn scale_strategy() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -0.1f32..0.1,
        1 => Just(0.0f32),
        1 => Just(5.96e-8f32),
        1 => Just(65504.0f32),
        1 => Just(-1.0f32),
    ]
}

fn weight_row(ty: GgmlType, raw: &[u8], scales: &[f32]) -> Vec<u8> {
    let mut row = raw.to_vec();
    let block = ty.block_bytes();
    for (b, chunk) in row.chunks_exact_mut(block).enumerate() {
        for (k, &off) in quant::f16_field_offsets(ty).iter().enumerate() {
            let s = scales[(b * 2 + k) % scales.len()];
            chunk[off..off + 2].copy_from_slice(&half::f16::from_f32(s).to_le_bytes());
        }
    }
    row
}

fn activation_strategy(len: usize) -> impl Strategy<Value = Vec<f32>> {
    prop_oneof![
        4 => proptest::collection::vec(-3.0f32..3.0, len),
        1 => Just(vec![0.0f32; len]),
        // Large, but within what Q8_0's f16 scale can carry (65504·127).
        1 => proptest::collection::vec(-1e6f32..1e6, len),
        1 => (0..len, -1e4f32..1e4).prop_map(move |(i, v)| { let mut x = vec![0.0; len]; x[i] = v; x }),
    ]
}

fn dot(kernel: &DotFn, w: &[u8], acts: &Activations) -> f32 {
    match kernel {
        DotFn::Q8K(f) => f(w, acts.q8k_row(0)),
        DotFn::Q8_0(f) => f(w, acts.q8_0_row(0)),
        DotFn::Q8_1(f) => f(w, acts.q8_1_row(0)),
        DotFn::F32(f) => f(w, acts.f32_row(0)),
    }
}

/// Σ|w_i·a_i| over the dequantized values: the scale of rounding differences.
fn magnitude(ty: GgmlType, w: &[u8], x: &[f32], format: ActFormat) -> f64 {
    let mut wf = vec![0.0f32; x.len()];
    quant::dequantize_row(ty, w, &mut wf).unwrap();
    let mut acts = Activations::default();
    acts.quantize(x, x.len(), format, Isa::Scalar);
    let af: Vec<f32> = match format {
        ActFormat::Q8K => acts.q8k.iter().flat_map(|b| b.qs.map(|q| q as f32 * b.d)).collect(),
        ActFormat::Q8_0 => acts.q8_0.iter().flat_map(|b| b.qs.map(|q| q as f32 * b.d.to_f32())).collect(),
        ActFormat::Q8_1 => {
            return wf.iter().zip(x).map(|(w, a)| (w * a).abs() as f64).sum::<f64>()
                + acts.q8_1.iter().map(|b| b.s.to_f32().abs() as f64).sum::<f64>() * 65504.0
        }
        ActFormat::F32 => x.to_vec(),
    };
    wf.iter().zip(&af).map(|(w, a)| (*w as f64 * *a as f64).abs()).sum()
}

fn check_format(ty: GgmlType, raw: &[u8], scales: &[f32], x: &[f32]) -> Result<(), TestCaseError> {
    for isa in Isa::available() {
        check_format_on(isa, ty, raw, scales, x)?;
    }
    Ok(())
}

fn check_format_on(isa: Isa, ty: GgmlType, raw: &[u8], scales: &[f32], x: &[f32]) -> Result<(), TestCaseError> {
    let simd = select_kernel("w", ty, KernelMode::Auto, isa).unwrap();
    let scalar = select_kernel("w", ty, KernelMode::Scalar, isa).unwrap();
    let w = weight_row(ty, raw, scales);
    let format = scalar.dot.act_format();
    prop_assert_eq!(simd.dot.act_format(), format);

    let (mut acts_simd, mut acts_scalar) = (Activations::default(), Activations::default());
    acts_simd.quantize(x, x.len(), format, simd.isa);
    acts_scalar.quantize(x, x.len(), format, Isa::Scalar);
    // Activation quantizers: bit-identical.
    prop_assert_eq!(bytemuck::cast_slice::<_, u8>(&acts_simd.q8k), bytemuck::cast_slice::<_, u8>(&acts_scalar.q8k));
    prop_assert_eq!(bytemuck::cast_slice::<_, u8>(&acts_simd.q8_0), bytemuck::cast_slice::<_, u8>(&acts_scalar.q8_0));
    prop_assert_eq!(bytemuck::cast_slice::<_, u8>(&acts_simd.q8_1), bytemuck::cast_slice::<_, u8>(&acts_scalar.q8_1));

    let (a, b) = (dot(&simd.dot, &w, &acts_scalar), dot(&scalar.dot, &w, &acts_scalar));
    // Same integer sums; only the float accumulation order differs.
    let tolerance = 1e-5 * magnitude(ty, &w, x, format) + 1e-30;
    prop_assert!(
        ((a as f64) - (b as f64)).abs() <= tolerance || (a.is_nan() && b.is_nan()) || a == b,
        "{} {}: simd {} vs scalar {} (tolerance {})",
        ty,
        simd.name,
        a,
        b,
        tolerance
    );
    // AVX-512's row kernels claim the AVX2 kernels' arithmetic, so the exact
    // kernel set may use them: bit for bit.
    if isa == Isa::Avx512Vnni {
        let avx2 = select_kernel("w", ty, KernelMode::Exact, Isa::Avx2).unwrap();
        let wide = select_kernel("w", ty, KernelMode::Exact, isa).unwrap();
        let (x2, x5) = (dot(&avx2.dot, &w, &acts_simd), dot(&wide.dot, &w, &acts_simd));
        prop_assert!(
            x2.to_bits() == x5.to_bits() || (x2.is_nan() && x5.is_nan()),
            "{} {} vs avx2: {} vs {}",
            ty,
            wide.name,
            x5,
            x2
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn simd_kernels_match_scalar_on_random_blocks(
        format_index in 0..FORMATS.len(),
        n_blocks in 1usize..9,
        seed_bytes in proptest::collection::vec(any::<u8>(), 9 * 210),
        scales in proptest::collection::vec(scale_strategy(), 1..8),
        x in activation_strategy(8 * 256),
    ) {
        let ty = FORMATS[format_index];
        let raw = &seed_bytes[..n_blocks * ty.block_bytes()];
        let n_values = n_blocks * ty.block_len();
        check_format(ty, raw, &scales, &x[..n_values])?;
    }
}

#[test]
fn every_format_is_covered_with_zero_blocks_and_each_scale_extreme() {
    for &ty in FORMATS {
        for scale in [0.0f32, 5.96e-8, 65504.0, 0.01] {
            let raw = vec![0xA5u8; 4 * ty.block_bytes()];
            let x: Vec<f32> = (0..4 * ty.block_len()).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
            check_format(ty, &raw, &[scale], &x).unwrap();
            check_format(ty, &vec![0u8; 4 * ty.block_bytes()], &[scale], &x).unwrap();
        }
    }
}

#[test]
fn default_build_selects_simd_where_a_kernel_exists() {
    let isa = Isa::detect();
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        let avx512 = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512vnni");
        let avx_vnni = std::arch::is_x86_feature_detected!("avxvnni");
        let expected = match (avx512, avx_vnni) {
            (true, _) => Isa::Avx512Vnni,
            (false, true) => Isa::AvxVnni,
            (false, false) => Isa::Avx2,
        };
        assert_eq!(isa, expected);
        // Every x86 tier the CPU has is offered, best first.
        let mut tiers = vec![Isa::Avx2, Isa::Scalar];
        if avx_vnni {
            tiers.insert(0, Isa::AvxVnni);
        }
        if avx512 {
            tiers.insert(0, Isa::Avx512Vnni);
        }
        assert_eq!(Isa::available(), tiers);
    }
    if isa != Isa::Scalar {
        for ty in [
            GgmlType::Q4_K,
            GgmlType::Q5_K,
            GgmlType::Q6_K,
            GgmlType::Q8_0,
            GgmlType::Q4_0,
            GgmlType::Q5_0,
            GgmlType::Q4_1,
        ] {
            let k = select_kernel("w", ty, KernelMode::Auto, isa).unwrap();
            assert_eq!((k.isa, k.fused), (isa, true), "{ty}");
        }
    }
    let unfused = select_kernel("w", GgmlType::Q4_K, KernelMode::Unfused, isa).unwrap();
    assert!(!unfused.fused);
    assert!(select_kernel("blk.0.attn_q.weight", GgmlType::IQ2_XS, KernelMode::Auto, isa)
        .unwrap_err()
        .to_string()
        .contains("blk.0.attn_q.weight"));
}
