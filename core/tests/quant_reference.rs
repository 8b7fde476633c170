//! The reference formats: quantize-then-dequantize error and fused-dot error
//! within llama.cpp's `test-quantize-fns` bounds, on its own test signal; zero
//! blocks; and the row API's errors.

use fuselm_core::quant::{self, *};
use fuselm_core::Error;
use fuselm_core::GgmlType;

/// test-quantize-fns' signal: 0.1 + amplitude·cos(i + offset).
fn signal(offset: f32, n: usize, amplitude: f32) -> Vec<f32> {
    (0..n).map(|i| 0.1 + amplitude * (i as f32 + offset).cos()).collect()
}

/// test-quantize-fns' error measure: sqrt(Σ diff²) / n.
fn rmse_over_n(a: &[f32], b: &[f32]) -> f32 {
    let sum: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    (sum.sqrt() as f32) / a.len() as f32
}

const TEST_SIZE: usize = 32 * 128;

fn round_trip(ty: GgmlType, x: &[f32]) -> Vec<f32> {
    let mut bytes = Vec::new();
    quant::quantize_row(ty, x, &mut bytes).unwrap();
    assert_eq!(bytes.len() as u64, ty.row_bytes(x.len() as u64).unwrap());
    let mut out = vec![0.0; x.len()];
    quant::dequantize_row(ty, &bytes, &mut out).unwrap();
    out
}

#[test]
fn quantize_dequantize_error_within_llama_cpp_bounds() {
    let x = signal(0.0, TEST_SIZE, 2.0);
    for (ty, bound) in [
        (GgmlType::Q4_0, 0.002),
        (GgmlType::Q4_1, 0.002),
        (GgmlType::Q5_0, 0.002),
        (GgmlType::Q5_1, 0.002),
        (GgmlType::Q8_0, 0.002),
        (GgmlType::Q8_1, 0.002),
        (GgmlType::Q2_K, 0.0075),
        (GgmlType::Q3_K, 0.0040),
        (GgmlType::Q4_K, 0.002),
        (GgmlType::Q5_K, 0.002),
        (GgmlType::Q6_K, 0.002),
        (GgmlType::Q8_K, 0.002),
        (GgmlType::F16, 0.002),
        (GgmlType::BF16, 0.002),
    ] {
        let error = rmse_over_n(&x, &round_trip(ty, &x));
        assert!(error < bound, "{ty}: error {error} >= {bound}");
        assert!(error > 0.0 || ty == GgmlType::F32, "{ty}: a lossy format cannot be exact on this signal");
    }
    assert_eq!(round_trip(GgmlType::F32, &x), x);
}

#[test]
fn fused_dot_error_within_llama_cpp_bounds() {
    let w = signal(0.0, TEST_SIZE, 2.0);
    let a = signal(1.0, TEST_SIZE, 2.0);
    let exact: f32 = w.iter().zip(&a).map(|(x, y)| x * y).sum();
    let k_acts = quantize_blocks::<BlockQ8K>(&a);
    let q8_0_acts = quantize_blocks::<BlockQ8_0>(&a);
    let q8_1_acts = quantize_blocks::<BlockQ8_1>(&a);
    let cases: Vec<(GgmlType, f32, f32)> = vec![
        (GgmlType::Q4_0, q4_0::vec_dot(&quantize_blocks(&w), &q8_0_acts), 0.02),
        (GgmlType::Q4_1, q4_1::vec_dot(&quantize_blocks(&w), &q8_1_acts), 0.02),
        (GgmlType::Q5_0, q5_0::vec_dot(&quantize_blocks(&w), &q8_0_acts), 0.02),
        (GgmlType::Q5_1, q5_1::vec_dot(&quantize_blocks(&w), &q8_1_acts), 0.02),
        (GgmlType::Q8_0, q8_0::vec_dot(&quantize_blocks(&w), &q8_0_acts), 0.02),
        (GgmlType::Q2_K, q2_k::vec_dot(&quantize_blocks(&w), &k_acts), 0.04),
        (GgmlType::Q3_K, q3_k::vec_dot(&quantize_blocks(&w), &k_acts), 0.02),
        (GgmlType::Q4_K, q4_k::vec_dot(&quantize_blocks(&w), &k_acts), 0.02),
        (GgmlType::Q5_K, q5_k::vec_dot(&quantize_blocks(&w), &k_acts), 0.02),
        (GgmlType::Q6_K, q6_k::vec_dot(&quantize_blocks(&w), &k_acts), 0.02),
    ];
    for (ty, dot, bound) in cases {
        let error = (dot - exact).abs() / TEST_SIZE as f32;
        assert!(error < bound, "{ty}: dot error {error} >= {bound} ({dot} vs {exact})");
    }
}

/// The fused dot equals the dot of the dequantized rows (same integers, so the
/// only difference is float rounding).
#[test]
fn fused_dot_matches_dot_of_dequantized_rows() {
    let w = signal(0.5, 1024, 1.5);
    let a = signal(2.0, 1024, 1.0);
    let deq = |ty: GgmlType, bytes: &[u8]| {
        let mut out = vec![0.0; 1024];
        quant::dequantize_row(ty, bytes, &mut out).unwrap();
        out
    };
    let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| (p * q) as f64).sum::<f64>() as f32;
    let ka = quantize_blocks::<BlockQ8K>(&a);
    let ka_f = deq(GgmlType::Q8_K, bytemuck::cast_slice(&ka));
    let wq4 = quantize_blocks::<BlockQ4K>(&w);
    let wq5 = quantize_blocks::<BlockQ5K>(&w);
    let wq6 = quantize_blocks::<BlockQ6K>(&w);
    let wq3 = quantize_blocks::<BlockQ3K>(&w);
    let wq2 = quantize_blocks::<BlockQ2K>(&w);
    for (ty, fused, bytes) in [
        (GgmlType::Q4_K, q4_k::vec_dot(&wq4, &ka), bytemuck::cast_slice::<_, u8>(&wq4).to_vec()),
        (GgmlType::Q5_K, q5_k::vec_dot(&wq5, &ka), bytemuck::cast_slice::<_, u8>(&wq5).to_vec()),
        (GgmlType::Q6_K, q6_k::vec_dot(&wq6, &ka), bytemuck::cast_slice::<_, u8>(&wq6).to_vec()),
        (GgmlType::Q3_K, q3_k::vec_dot(&wq3, &ka), bytemuck::cast_slice::<_, u8>(&wq3).to_vec()),
        (GgmlType::Q2_K, q2_k::vec_dot(&wq2, &ka), bytemuck::cast_slice::<_, u8>(&wq2).to_vec()),
    ] {
        let unfused = dot(&deq(ty, &bytes), &ka_f);
        assert!((fused - unfused).abs() <= 1e-3 * unfused.abs().max(1.0), "{ty}: {fused} vs {unfused}");
    }
}

#[test]
fn zero_input_quantizes_to_zero_everywhere() {
    let zeros = vec![0.0f32; 512];
    for ty in [
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
        GgmlType::Q8_K,
    ] {
        assert!(round_trip(ty, &zeros).iter().all(|&v| v == 0.0), "{ty}");
    }
}

#[test]
fn row_api_rejects_unsupported_types_and_wrong_sizes() {
    let mut out = vec![0.0; 256];
    assert!(matches!(
        quant::dequantize_row(GgmlType::IQ2_XS, &[0; 74], &mut out).unwrap_err(),
        Error::UnsupportedType { ggml_type: GgmlType::IQ2_XS, .. }
    ));
    assert!(matches!(
        quant::dequantize_row(GgmlType::Q4_K, &[0; 100], &mut out).unwrap_err(),
        Error::RowSize { expected: Some(144), n_bytes: 100, .. }
    ));
    assert!(matches!(
        quant::quantize_row(GgmlType::Q4_K, &[0.0; 100], &mut Vec::new()).unwrap_err(),
        Error::RowSize { expected: None, .. }
    ));
}
