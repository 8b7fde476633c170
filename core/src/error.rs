//! The one error type of fuselm-core.
//!
//! Every variant carries what a user needs to act: which key, tensor or byte
//! offset, what was expected and what was found. The file name is added once,
//! by [`Error::InFile`], where the caller knows it (the core never sees paths).

use crate::GgmlType;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Wraps an error with the name of the file it came from. The message
    /// already holds the inner one, so it is not also reported as the
    /// `source()` (error-chain printers such as anyhow's `{:#}` showed it twice).
    #[error("{file}: {inner}")]
    InFile { file: String, inner: Box<Error> },

    // ---- GGUF container structure -------------------------------------------------
    #[error("not a GGUF file: it starts with bytes {found:02x?}, expected \"GGUF\" (47 47 55 46)")]
    BadMagic { found: [u8; 4] },

    #[error("GGUF version {found} is not supported; fuselm reads versions 2 and 3")]
    UnsupportedVersion { found: u32 },

    #[error("file is truncated: {what} at byte {offset} needs {needed} bytes but only {available} remain")]
    Truncated { what: String, offset: u64, needed: u64, available: u64 },

    #[error("{what} at byte {offset} claims {count} entries of at least {min_entry_bytes} bytes each, but only {available} bytes remain")]
    CountTooLarge { what: String, offset: u64, count: u64, min_entry_bytes: u64, available: u64 },

    #[error("{what} at byte {offset} is not valid UTF-8")]
    InvalidUtf8 { what: String, offset: u64 },

    #[error("metadata key `{key}` has unknown value type {found} (known: 0..=12)")]
    UnknownValueType { key: String, found: u32 },

    #[error("metadata key `{key}` nests arrays {depth} deep; at most {max} levels are accepted")]
    ArrayTooDeep { key: String, depth: usize, max: usize },

    #[error("metadata key `{key}` appears more than once")]
    DuplicateKey { key: String },

    #[error("`general.alignment` is {found}; expected a power of two")]
    BadAlignment { found: u64 },

    // ---- tensor infos --------------------------------------------------------------
    #[error("tensor `{tensor}` has unknown GGML type id {id}")]
    UnknownTensorType { tensor: String, id: u32 },

    #[error("tensor `{tensor}` has {n_dims} dimensions; at most 4 are allowed")]
    TooManyDims { tensor: String, n_dims: u32 },

    #[error("tensor `{tensor}` with dims {dims:?} has more elements or bytes than fit in 64 bits")]
    TensorSizeOverflow { tensor: String, dims: Vec<u64> },

    #[error("tensor `{tensor}` of type {ggml_type} has rows of {row_len} elements, not a multiple of the block size {block_len}")]
    RowNotBlockAligned { tensor: String, ggml_type: GgmlType, row_len: u64, block_len: u64 },

    #[error("tensor `{tensor}` data offset {offset} is not a multiple of the alignment {alignment}")]
    TensorMisaligned { tensor: String, offset: u64, alignment: u64 },

    #[error("tensor `{tensor}` data spans file bytes [{start}, {end}) but the file ends at byte {file_len} (truncated file?)")]
    TensorOutOfBounds { tensor: String, start: u64, end: u64, file_len: u64 },

    #[error("tensor `{tensor}` data (file bytes [{start}, {end})) is not within one loaded segment of the file")]
    TensorNotLoaded { tensor: String, start: u64, end: u64 },

    #[error("split model: {why}")]
    Split { why: String },

    #[error("{why}")]
    Stream { why: String },

    #[error("the header (metadata and tensor infos) does not parse within the first {limit} bytes: {why}")]
    HeaderTooLarge { limit: u64, why: String },

    #[error("tensors `{first}` (data bytes [{first_start}, {first_end})) and `{second}` (starting at {second_start}) overlap")]
    TensorsOverlap { first: String, first_start: u64, first_end: u64, second: String, second_start: u64 },

    #[error("tensor name `{tensor}` appears more than once")]
    DuplicateTensor { tensor: String },

    #[error(
        "tensor `{tensor}`: expected {expected} bytes of data for type {ggml_type} and dims {dims:?}, got {found}"
    )]
    TensorDataSize { tensor: String, ggml_type: GgmlType, dims: Vec<u64>, expected: u64, found: u64 },

    // ---- metadata and tensor lookups -------------------------------------------------
    #[error("required metadata key `{key}` is missing")]
    MissingKey { key: String },

    #[error("metadata key `{key}`: expected {expected}, found {found}")]
    WrongType { key: String, expected: &'static str, found: String },

    #[error("metadata key `{key}`: value {value} does not fit in {expected}")]
    ValueOutOfRange { key: String, expected: &'static str, value: String },

    // ---- formats and kernels -----------------------------------------------------------
    #[error("{option}={value:?} is not valid; expected {expected}")]
    BadOption { option: &'static str, value: String, expected: &'static str },

    #[error("tensor `{tensor}` has type {ggml_type}, which fuselm cannot compute with{hint}")]
    UnsupportedTensorType { tensor: String, ggml_type: GgmlType, hint: &'static str },

    #[error("{mode} kernels were requested but this CPU has no SIMD kernels (detected: {detected})")]
    NoSimd { mode: &'static str, detected: &'static str },

    #[error("tensor `{tensor}` has shape {dims:?}; expected a matrix [n_in, n_out]")]
    NotAMatrix { tensor: String, dims: Vec<u64> },

    #[error("tensor type {ggml_type} is not supported for {operation}")]
    UnsupportedType { ggml_type: GgmlType, operation: &'static str },

    #[error("a {ggml_type} row of {n_values} values needs {expected:?} bytes, got {n_bytes}")]
    RowSize { ggml_type: GgmlType, n_values: usize, n_bytes: usize, expected: Option<u64> },

    #[error("required tensor `{tensor}` is missing")]
    MissingTensor { tensor: String },

    // ---- models and generation ---------------------------------------------------------
    #[error("architecture `{arch}` is not supported; fuselm runs {supported}")]
    UnsupportedArchitecture { arch: String, supported: &'static str },

    #[error("tensor `{tensor}` has shape {found:?}; expected {expected:?} ({why})")]
    TensorShape { tensor: String, expected: Vec<u64>, found: Vec<u64>, why: String },

    #[error("model hyperparameter {what} is invalid: {why}")]
    BadHyperparameter { what: String, why: String },

    #[error("the logits at position {position} are not finite ({value}): a weight or hyperparameter of the model is broken (`fuselm inspect --check` scans every tensor); start a new context")]
    NonFiniteLogits { position: usize, value: f32 },

    #[error("the context is full: {used} of {n_ctx} positions are used and {requested} more were requested (raise the context size, or enable context shift)")]
    ContextFull { n_ctx: usize, used: usize, requested: usize },

    #[error("invalid setting {what}: {why}")]
    BadSetting { what: &'static str, why: String },

    #[error("could not allocate {bytes} bytes for {what}")]
    OutOfMemory { what: String, bytes: u64 },

    #[error("chat template: {0}")]
    ChatTemplate(String),

    /// A forward pass run by another backend (the GPU) failed there.
    #[error("{backend}: {why}")]
    Offload { backend: String, why: String },
}

impl Error {
    /// Attaches a file name (shown first in the message).
    pub fn in_file(self, file: impl Into<String>) -> Error {
        Error::InFile { file: file.into(), inner: Box::new(self) }
    }

    /// What kind of failure this is, as a stable code for programs (the npm
    /// package's `error.code`): `BAD_FILE` (the file is malformed or
    /// inconsistent), `UNSUPPORTED_MODEL` (valid, but an architecture or
    /// tensor type fuselm does not run), `BAD_OPTION` (a setting or option),
    /// `CONTEXT_FULL`, `OUT_OF_MEMORY`, `NON_FINITE_LOGITS` (NaN or infinity
    /// from the weights), `CHAT_TEMPLATE`, `GPU_ERROR` (the GPU backend
    /// failed, or a model does not fit its kernels or limits).
    pub fn code(&self) -> &'static str {
        match self.root() {
            Error::UnsupportedTensorType { .. }
            | Error::UnsupportedType { .. }
            | Error::UnsupportedArchitecture { .. } => "UNSUPPORTED_MODEL",
            Error::BadOption { .. } | Error::BadSetting { .. } | Error::NoSimd { .. } => "BAD_OPTION",
            Error::ContextFull { .. } => "CONTEXT_FULL",
            Error::OutOfMemory { .. } => "OUT_OF_MEMORY",
            Error::NonFiniteLogits { .. } => "NON_FINITE_LOGITS",
            Error::ChatTemplate(_) => "CHAT_TEMPLATE",
            Error::Offload { .. } => "GPU_ERROR",
            _ => "BAD_FILE",
        }
    }

    /// The error without any [`Error::InFile`] wrapping, for matching on the variant.
    pub fn root(&self) -> &Error {
        match self {
            Error::InFile { inner, .. } => inner.root(),
            other => other,
        }
    }
}

#[cfg(test)]
mod code_tests {
    use super::*;

    #[test]
    fn codes_name_the_kind_of_failure_through_file_wrapping() {
        let bad = Error::BadMagic { found: *b"GGML" }.in_file("x.gguf");
        assert_eq!(bad.code(), "BAD_FILE");
        let arch = Error::UnsupportedArchitecture { arch: "mamba".into(), supported: "llama" };
        assert_eq!(arch.code(), "UNSUPPORTED_MODEL");
        assert_eq!(Error::ContextFull { n_ctx: 8, used: 8, requested: 1 }.code(), "CONTEXT_FULL");
        assert_eq!(Error::OutOfMemory { what: "kv".into(), bytes: 1 }.in_file("y").code(), "OUT_OF_MEMORY");
        assert_eq!(Error::ChatTemplate("x".into()).code(), "CHAT_TEMPLATE");
        assert_eq!(Error::BadSetting { what: "context size", why: "0".into() }.code(), "BAD_OPTION");
    }
}
