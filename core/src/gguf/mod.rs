//! GGUF: the container format of llama.cpp models. Reader (zero-copy over a
//! byte slice), writer, and the GGML type table.

mod cursor;
mod file;
mod ggml_type;
pub mod json;
mod metadata;
mod tensor;
mod value;
mod writer;

pub use file::{GgufFile, ALIGNMENT_KEY, DEFAULT_ALIGNMENT};
pub use ggml_type::GgmlType;
pub use metadata::Metadata;
pub use tensor::{tensor_bytes, TensorInfo, MAX_DIMS};
pub use value::{MetaArray, MetaValue, Value, ValueType, MAX_ARRAY_DEPTH};
pub use writer::GgufWriter;
