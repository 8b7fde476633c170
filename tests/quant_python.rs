//! Our dequantizers against the official `gguf` package's (gguf.quants, numpy):
//! on blocks from every tensor type in the real models present, and on random
//! blocks of every format gguf-py can dequantize.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{present_models, run_python};
use fuselm::gguf::GgufFile;
use fuselm::quant;
use fuselm::GgmlType;

/// Writes each case to `dir`, has gguf-py dequantize them all, and compares.
fn compare_with_gguf_py(cases: &[(String, GgmlType, Vec<u8>)]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, ty, bytes) in cases {
        std::fs::write(dir.path().join(format!("{name}.{}.bin", ty.name())), bytes).unwrap();
    }
    run_python("dequantize.py", &[dir.path()]);
    for (name, ty, bytes) in cases {
        let theirs: Vec<f32> = std::fs::read(dir.path().join(format!("{name}.{}.f32", ty.name())))
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let n_values = bytes.len() / ty.block_bytes() * ty.block_len();
        let mut ours = vec![0.0f32; n_values];
        quant::dequantize_row(*ty, bytes, &mut ours).unwrap();
        assert_eq!(ours.len(), theirs.len(), "{name} ({ty})");
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            // Exact: the same f32 operations in the same order give the same bits.
            assert!(o == t, "{name} ({ty}) value {i}: ours {o:e}, gguf-py {t:e}");
        }
    }
}

#[test]
fn dequantization_matches_gguf_py_on_every_tensor_type_of_the_real_models() {
    let models = present_models();
    let mut cases = Vec::new();
    for (path, _) in &models {
        let bytes = std::fs::read(path).unwrap();
        let gguf = GgufFile::parse(&bytes).unwrap();
        // Up to three tensors of each type per model, 64 KiB of whole blocks from each.
        let mut per_type: BTreeMap<GgmlType, usize> = BTreeMap::new();
        for t in &gguf.tensors {
            let seen = per_type.entry(t.ggml_type).or_default();
            if *seen == 3 {
                continue;
            }
            *seen += 1;
            let data = gguf.tensor_data(t);
            let block = t.ggml_type.block_bytes();
            let take = data.len().min(65536) / block * block;
            let stem = Path::new(path).file_stem().unwrap().to_string_lossy().replace('.', "_");
            cases.push((format!("{stem}-{}", t.name.replace('.', "_")), t.ggml_type, data[..take].to_vec()));
        }
    }
    if models.is_empty() {
        eprintln!("note: no real models present; only random blocks are compared");
        return;
    }
    let types: std::collections::BTreeSet<_> = cases.iter().map(|c| c.1).collect();
    eprintln!("comparing {} tensors of types {types:?}", cases.len());
    compare_with_gguf_py(&cases);
}

#[test]
fn dequantization_matches_gguf_py_on_random_blocks() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut cases = Vec::new();
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
        GgmlType::F16,
        GgmlType::BF16,
    ] {
        let n_blocks = 64;
        let mut bytes: Vec<u8> = (0..n_blocks * ty.block_bytes()).map(|_| next() as u8).collect();
        sanitize_scales(ty, &mut bytes);
        cases.push((format!("random-{}", ty.name()), ty, bytes));
    }
    compare_with_gguf_py(&cases);
}

/// Clears the top exponent bit of each half-float field so every scale is finite
/// and below 2 (random exponents would give inf/NaN, which never compare equal).
fn sanitize_scales(ty: GgmlType, bytes: &mut [u8]) {
    let block = ty.block_bytes();
    let fields = quant::f16_field_offsets(ty);
    for b in bytes.chunks_exact_mut(block) {
        for &f in fields {
            // Bit 14 is the top exponent bit in both f16 and bf16.
            b[f + 1] &= 0xBF;
        }
    }
}
