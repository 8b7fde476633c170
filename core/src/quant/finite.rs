//! Scanning a tensor for non-finite values (`fuselm inspect --check`): one NaN
//! or infinite block scale makes every logit NaN, so a file can be checked
//! before it is trusted. Rows are dequantized with the reference kernels, so
//! every field that scales a value (block scales, mins, super-block scales)
//! is covered, whatever the format.

use super::{dequantize_row, is_supported};
use crate::error::Result;
use crate::GgmlType;

/// The first non-finite value of a tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NonFinite {
    pub row: usize,
    pub column: usize,
    pub value: f32,
}

/// Scans `data` (rows of `row_len` values of type `ty`) and returns the first
/// non-finite value, or `None`; `Ok(None)` too for formats it cannot
/// dequantize (the caller reports them as unchecked via [`can_check`]).
pub fn first_non_finite(ty: GgmlType, row_len: usize, data: &[u8]) -> Result<Option<NonFinite>> {
    if !can_check(ty) || row_len == 0 {
        return Ok(None);
    }
    let row_bytes = ty.row_bytes(row_len as u64).unwrap_or(0) as usize;
    let mut values = vec![0.0f32; row_len];
    for (row, bytes) in data.chunks_exact(row_bytes.max(1)).enumerate() {
        dequantize_row(ty, bytes, &mut values)?;
        if let Some(column) = values.iter().position(|v| !v.is_finite()) {
            return Ok(Some(NonFinite { row, column, value: values[column] }));
        }
    }
    Ok(None)
}

/// Whether [`first_non_finite`] can scan tensors of type `ty`.
pub fn can_check(ty: GgmlType) -> bool {
    is_supported(ty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{BlockQ8_0, QuantBlock};

    #[test]
    fn finds_a_nan_block_scale_and_passes_finite_rows() {
        let x: Vec<f32> = (0..128).map(|i| (i as f32 - 64.0) / 10.0).collect();
        let mut blocks: Vec<BlockQ8_0> = x.chunks(32).map(BlockQ8_0::quantize).collect();
        let bytes = |b: &[BlockQ8_0]| bytemuck::cast_slice::<_, u8>(b).to_vec();
        assert_eq!(first_non_finite(GgmlType::Q8_0, 64, &bytes(&blocks)).unwrap(), None);
        blocks[3].d.0 = 0x7E00u16.to_le_bytes(); // NaN: row 1, values 32..64
        let found = first_non_finite(GgmlType::Q8_0, 64, &bytes(&blocks)).unwrap().unwrap();
        assert_eq!((found.row, found.column), (1, 32));
        assert!(found.value.is_nan());
        blocks[3].d.0 = 0x7C00u16.to_le_bytes(); // +inf
        let found = first_non_finite(GgmlType::Q8_0, 64, &bytes(&blocks)).unwrap().unwrap();
        assert_eq!(found.row, 1);
    }
}
