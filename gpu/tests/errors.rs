//! What the GPU backend refuses, and how it says so: a format without a
//! kernel (naming the tensor and the formats that have one), a row larger
//! than a binding, a batch larger than its context.

use std::sync::Arc;

use fuselm_core::gguf::GgufFile;
use fuselm_core::model::{LoadOptions, Model};
use fuselm_core::GgmlType;
use fuselm_gpu::{Gpu, GpuError, GpuForward, GpuMatrix, GpuModel, Kernels};

#[test]
fn unsupported_formats_rows_past_a_binding_and_oversized_batches_are_clear_errors() {
    let gpu = Arc::new(Gpu::new_blocking().expect("a GPU adapter (scripts/setup installs lavapipe)"));
    eprintln!("adapter: {}", gpu.describe());

    let f16 = vec![0u8; GgmlType::F16.row_bytes(256).unwrap() as usize * 2];
    let e = GpuMatrix::upload(&gpu, "blk.0.ffn_down.weight", GgmlType::F16, 256, 2, &f16).err().unwrap();
    assert!(matches!(e, GpuError::UnsupportedFormat { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("blk.0.ffn_down.weight") && text.contains("F16") && text.contains("Q4_K"), "{text}");

    let q8 = vec![0u8; 34 * 8 * 3];
    let e = GpuMatrix::upload_in_parts(&gpu, "output.weight", GgmlType::Q8_0, 256, 3, &q8, 100).err().unwrap();
    assert!(matches!(e, GpuError::TooLarge { bytes: 272, limit: 100, .. }), "{e:?}");
    assert!(e.to_string().contains("output.weight: one row"), "{e}");

    // A batch past what the context was built for is refused before any GPU work.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bytes = std::fs::read(root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf"))
        .expect("models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch-models)");
    let file = GgufFile::parse(&bytes).unwrap();
    let model = Model::load(&file, LoadOptions::default()).unwrap();
    let kernels = Arc::new(Kernels::new(&gpu).unwrap());
    let weights = GpuModel::upload(Arc::clone(&gpu), kernels, &model).unwrap();
    let mut forward = GpuForward::new(&weights, &model, 8, 4, false).unwrap();
    let mut logits = vec![0.0; model.n_vocab()];
    let e = forward.forward_batch(&model, &[1, 2, 3, 4, 5], 0, false, &mut logits).err().unwrap();
    assert!(e.to_string().contains("a batch of 5 tokens at position 0"), "{e}");
    let e = forward.forward_batch(&model, &[1, 2], 7, false, &mut logits).err().unwrap();
    assert!(e.to_string().contains("holds 8 positions"), "{e}");
    forward.forward_batch(&model, &[1, 2], 0, false, &mut logits).unwrap();
    assert!(logits.iter().all(|v| v.is_finite()));
}
