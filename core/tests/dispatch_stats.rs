//! Dispatch instrumentation: each matrix records its (role, format, kernel),
//! and every product adds calls, rows and weight bytes. (A separate test binary:
//! the counters are process-wide.)

use fuselm_core::kernels::{stats, Activations, Isa, KernelMode, WeightMatrix};
use fuselm_core::quant;
use fuselm_core::GgmlType;

#[test]
fn products_are_counted_per_role_format_and_kernel() {
    stats::reset();
    fuselm_core::clock::set_clock(|| 1.0); // a stuck clock: times are recorded as zero, deterministically
    let x: Vec<f32> = (0..512).map(|i| (i as f32).sin()).collect();
    let mut bytes = Vec::new();
    quant::quantize_row(GgmlType::Q4_K, &x[..512], &mut bytes).unwrap();
    quant::quantize_row(GgmlType::Q4_K, &x[..512], &mut bytes).unwrap();
    let mut acts = Activations::default();
    for (name, mode) in [("blk.0.ffn_up.weight", KernelMode::Auto), ("blk.7.ffn_up.weight", KernelMode::Unfused)] {
        let m = WeightMatrix::from_raw(name, GgmlType::Q4_K, 512, 2, &bytes, mode, Isa::detect()).unwrap();
        let mut out = [0.0f32; 2];
        m.matmul(&x, &mut acts, &mut out);
        m.matmul(&x, &mut acts, &mut out);
    }
    let snapshot = stats::snapshot();
    let fused = snapshot.iter().find(|(k, _)| k.role == "ffn_up" && k.kernel != "unfused").expect("fused entry");
    let unfused = snapshot.iter().find(|(k, _)| k.role == "ffn_up" && k.kernel == "unfused").expect("unfused entry");
    for (key, s) in [fused, unfused] {
        assert_eq!(key.ggml_type, GgmlType::Q4_K);
        assert_eq!((s.tensors, s.calls, s.row_dots, s.weight_bytes), (1, 2, 4, 2 * 2 * 288), "{key:?}");
        assert_eq!(s.seconds, 0.0);
    }
}

#[test]
fn roles_come_from_gguf_tensor_names() {
    assert_eq!(stats::role_of("blk.12.attn_q.weight"), "attn_q");
    assert_eq!(stats::role_of("output.weight"), "output");
    assert_eq!(stats::role_of("token_embd.weight"), "token_embd");
    assert_eq!(stats::role_of("blk.3.ffn_down.bias"), "ffn_down.bias");
}
