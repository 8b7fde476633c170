//! Small numeric helpers shared by the quant formats, each matching the ggml
//! definition bit for bit (that is what makes our quantizers reproduce
//! llama.cpp's files exactly).

use half::f16;

/// An f16 stored as two little-endian bytes (keeps every weight block at
/// alignment 1, so a block slice can be cast from any file offset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(transparent)]
pub struct F16Bytes(pub [u8; 2]);

impl F16Bytes {
    #[inline]
    pub fn to_f32(self) -> f32 {
        f16::from_le_bytes(self.0).to_f32()
    }

    /// Round to nearest even, as ggml's `GGML_FP32_TO_FP16`.
    #[inline]
    pub fn from_f32(v: f32) -> F16Bytes {
        F16Bytes(f16::from_f32(v).to_le_bytes())
    }
}

/// ggml's `nearest_int`: round half to even via the 1.5·2^23 trick. Valid for
/// |v| <= 4194303 (ggml asserts that; larger values wrap the same way here).
#[inline]
pub fn nearest_int(v: f32) -> i32 {
    let shifted = v + 12_582_912.0;
    (shifted.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// The largest |x| and the first value that has it, sign kept (ggml's
/// `amax`/`max` pair; the first wins ties).
#[inline]
pub fn signed_absmax(x: &[f32]) -> (f32, f32) {
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    (amax, max)
}

/// C's `(int)` conversion of a float known to be in range (truncation toward zero).
#[inline]
pub fn trunc_to_i32(v: f32) -> i32 {
    v as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_int_rounds_half_to_even() {
        assert_eq!(nearest_int(0.5), 0);
        assert_eq!(nearest_int(1.5), 2);
        assert_eq!(nearest_int(2.5), 2);
        assert_eq!(nearest_int(-0.5), 0);
        assert_eq!(nearest_int(-1.5), -2);
        assert_eq!(nearest_int(-3.7), -4);
        assert_eq!(nearest_int(127.49), 127);
    }

    #[test]
    fn f16_round_trip_is_round_to_nearest_even() {
        assert_eq!(F16Bytes::from_f32(1.0).0, [0x00, 0x3c]);
        // 1 + 2^-11 is exactly between two f16 values; ties go to the even one (1.0).
        assert_eq!(F16Bytes::from_f32(1.0 + 1.0 / 2048.0).to_f32(), 1.0);
        assert_eq!(F16Bytes::from_f32(65504.0).to_f32(), 65504.0);
    }
}
