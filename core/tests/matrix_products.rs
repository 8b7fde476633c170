//! Matrix products over weight matrices: every kernel mode agrees with the
//! per-row reference, prefill (many tokens) equals token-by-token decode, and
//! bad shapes or types are errors naming the tensor. With the `parallel`
//! feature (on in the workspace build) rows are split across threads.

use fuselm_core::gguf::{GgufFile, GgufWriter};
use fuselm_core::kernels::{select_kernel, Activations, Isa, KernelMode, WeightMatrix};
use fuselm_core::quant;
use fuselm_core::Error;
use fuselm_core::GgmlType;

fn weights(ty: GgmlType, n_in: usize, n_out: usize) -> Vec<u8> {
    let x: Vec<f32> = (0..n_in * n_out).map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 0.2).collect();
    let mut bytes = Vec::new();
    quant::quantize_row(ty, &x, &mut bytes).unwrap();
    bytes
}

fn input(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| (((i + seed) * 104729 % 2003) as f32 / 2003.0 - 0.5) * 4.0).collect()
}

/// Dequantize every row and take an f64 dot: the ground truth.
fn reference(ty: GgmlType, w: &[u8], n_in: usize, n_out: usize, x: &[f32]) -> Vec<f32> {
    let row_bytes = w.len() / n_out;
    (0..n_out)
        .map(|r| {
            let mut row = vec![0.0; n_in];
            quant::dequantize_row(ty, &w[r * row_bytes..(r + 1) * row_bytes], &mut row).unwrap();
            row.iter().zip(x).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() as f32
        })
        .collect()
}

#[test]
fn every_mode_matches_the_dequantized_reference() {
    let (n_in, n_out) = (512, 67);
    for ty in [
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
        GgmlType::Q8_0,
        GgmlType::Q4_0,
        GgmlType::Q5_0,
        GgmlType::Q4_1,
        GgmlType::Q5_1,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::F32,
    ] {
        let w = weights(ty, n_in, n_out);
        let x = input(n_in, 3);
        let expected = reference(ty, &w, n_in, n_out, &x);
        let scale: f32 = expected.iter().map(|v| v.abs()).fold(0.0, f32::max).max(1.0);
        for mode in [KernelMode::Auto, KernelMode::Scalar, KernelMode::Unfused] {
            let m = WeightMatrix::from_raw("blk.0.ffn_up.weight", ty, n_in, n_out, &w, mode, Isa::detect()).unwrap();
            let mut out = vec![0.0; n_out];
            m.matmul(&x, &mut Activations::default(), &mut out);
            for (r, (o, e)) in out.iter().zip(&expected).enumerate() {
                // Fused kernels quantize the activations to 8 bits: allow that error.
                let tolerance = if m.kernel.fused && ty != GgmlType::F32 { 0.02 * scale } else { 1e-4 * scale };
                assert!((o - e).abs() <= tolerance, "{ty} {mode:?} ({}) row {r}: {o} vs {e}", m.kernel.name);
            }
        }
    }
}

#[test]
fn prefill_equals_token_by_token_decode_with_exact_kernels() {
    let (n_in, n_out, n_tok) = (256, 45, 5);
    for ty in [GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::Q4_1, GgmlType::F32] {
        let w = weights(ty, n_in, n_out);
        let m = WeightMatrix::from_raw("w", ty, n_in, n_out, &w, KernelMode::Exact, Isa::detect()).unwrap();
        let xs: Vec<f32> = (0..n_tok).flat_map(|t| input(n_in, t * 11)).collect();
        let mut batched = vec![0.0; n_tok * n_out];
        m.matmul(&xs, &mut Activations::default(), &mut batched);
        let mut acts = Activations::default();
        for t in 0..n_tok {
            let mut one = vec![0.0; n_out];
            m.matmul(&xs[t * n_in..(t + 1) * n_in], &mut acts, &mut one);
            assert_eq!(&batched[t * n_out..(t + 1) * n_out], &one[..], "{ty} token {t}");
        }
    }
}

#[test]
fn shapes_and_types_are_checked_with_the_tensor_named() {
    let err = WeightMatrix::from_raw(
        "blk.1.attn_q.weight",
        GgmlType::Q4_K,
        256,
        2,
        &[0; 100],
        KernelMode::Auto,
        Isa::detect(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::TensorDataSize { ref tensor, expected: 288, .. } if tensor == "blk.1.attn_q.weight"));
    let err = WeightMatrix::from_raw(
        "blk.1.attn_q.weight",
        GgmlType::IQ2_XS,
        256,
        1,
        &[0; 74],
        KernelMode::Auto,
        Isa::detect(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedTensorType { ref tensor, ggml_type: GgmlType::IQ2_XS, .. } if tensor == "blk.1.attn_q.weight")
    );

    let mut writer = GgufWriter::new();
    writer.add_tensor("cube", GgmlType::F32, &[2, 2, 2], vec![0u8; 32]).unwrap();
    let bytes = writer.to_bytes();
    let gguf = GgufFile::parse(&bytes).unwrap();
    let info = gguf.require_tensor("cube").unwrap();
    let err = WeightMatrix::new(info, gguf.tensor_data(info), KernelMode::Auto, Isa::detect()).unwrap_err();
    assert!(matches!(err, Error::NotAMatrix { .. }));
}

#[test]
fn simd_mode_is_an_error_where_no_simd_kernels_exist() {
    let err = select_kernel("w", GgmlType::Q4_K, KernelMode::Simd, Isa::Scalar).unwrap_err();
    assert!(matches!(err, Error::NoSimd { .. }), "{err}");
    let scalar = select_kernel("w", GgmlType::Q4_K, KernelMode::Auto, Isa::Scalar).unwrap();
    assert_eq!((scalar.name, scalar.fused), ("scalar", true));
}

#[test]
fn kernel_mode_parses_from_the_env_spelling() {
    assert_eq!("scalar".parse::<KernelMode>().unwrap(), KernelMode::Scalar);
    assert_eq!("SIMD".parse::<KernelMode>().unwrap(), KernelMode::Simd);
    assert_eq!("unfused".parse::<KernelMode>().unwrap(), KernelMode::Unfused);
    assert_eq!("".parse::<KernelMode>().unwrap(), KernelMode::Auto);
    assert_eq!("exact".parse::<KernelMode>().unwrap(), KernelMode::Exact);
    for isa in Isa::ALL.into_iter().filter(|&i| i != Isa::Scalar) {
        assert_eq!(isa.name().parse::<KernelMode>().unwrap(), KernelMode::Tier(isa));
    }
    let err = "fast".parse::<KernelMode>().unwrap_err().to_string();
    assert!(err.contains("FUSELM_KERNELS") && err.contains("scalar"), "{err}");
}
