//! Tensor infos: name, GGML type, dims and where the data lives.

use crate::error::{Error, Result};
use crate::GgmlType;

/// GGML allows at most four dimensions.
pub const MAX_DIMS: usize = 4;

/// One tensor as the file describes it. `dims` are in GGML order: `dims[0]` is
/// the row length (contiguous), so a `[n_out, n_in]` matrix has `dims = [n_in, n_out]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo<'a> {
    pub name: &'a str,
    pub ggml_type: GgmlType,
    pub dims: Vec<u64>,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Bytes of data (a whole number of blocks per row).
    pub n_bytes: u64,
}

impl TensorInfo<'_> {
    /// Checks dims against the type and computes the byte size.
    pub(crate) fn new<'a>(name: &'a str, ggml_type: GgmlType, dims: Vec<u64>, offset: u64) -> Result<TensorInfo<'a>> {
        let n_bytes = tensor_bytes(name, ggml_type, &dims)?;
        Ok(TensorInfo { name, ggml_type, dims, offset, n_bytes })
    }

    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Elements in one row (`dims[0]`, or 1 for a scalar).
    pub fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Number of rows: the product of every dim but the first.
    pub fn n_rows(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }
}

/// Bytes taken by a tensor of `ggml_type` and `dims`, checking that rows are
/// whole blocks and that nothing overflows 64 bits (element counts included,
/// since ggml keeps them in an int64).
pub fn tensor_bytes(name: &str, ggml_type: GgmlType, dims: &[u64]) -> Result<u64> {
    let overflow = || Error::TensorSizeOverflow { tensor: name.to_string(), dims: dims.to_vec() };
    let n_elements = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).ok_or_else(overflow)?;
    if n_elements > i64::MAX as u64 {
        return Err(overflow());
    }
    let row_len = dims.first().copied().unwrap_or(1);
    let block_len = ggml_type.block_len() as u64;
    if row_len % block_len != 0 {
        return Err(Error::RowNotBlockAligned { tensor: name.to_string(), ggml_type, row_len, block_len });
    }
    (n_elements / block_len).checked_mul(ggml_type.block_bytes() as u64).ok_or_else(overflow)
}
