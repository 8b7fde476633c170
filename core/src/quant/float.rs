//! The plain float formats: F32, F16 and BF16 (little-endian).

use half::{bf16, f16};

pub fn dequantize_f32(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

pub fn dequantize_f16(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = f16::from_le_bytes([b[0], b[1]]).to_f32();
    }
}

pub fn dequantize_bf16(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = bf16::from_le_bytes([b[0], b[1]]).to_f32();
    }
}

pub fn quantize_f32(x: &[f32], out: &mut Vec<u8>) {
    out.extend(x.iter().flat_map(|v| v.to_le_bytes()));
}

/// Round to nearest even, as ggml's `GGML_FP32_TO_FP16`.
pub fn quantize_f16(x: &[f32], out: &mut Vec<u8>) {
    out.extend(x.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes()));
}

/// Round to nearest even with NaNs kept quiet, as ggml's `GGML_FP32_TO_BF16`.
pub fn quantize_bf16(x: &[f32], out: &mut Vec<u8>) {
    out.extend(x.iter().flat_map(|&v| bf16::from_f32(v).to_le_bytes()));
}

/// The f32 dot product used by the unfused path and by float weights.
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent partial sums: the compiler vectorizes this, and the
    // result is the same on every target (no reassociation beyond this fixed order).
    let mut acc = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (a8.remainder(), b8.remainder());
    for (x, y) in a8.zip(b8) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}
