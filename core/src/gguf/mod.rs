//! GGUF: the container format of llama.cpp models. Reader (zero-copy over a
//! byte slice) and writer. The GGML type table they name is `crate::ggml_type`.

mod cursor;
mod file;
pub mod json;
mod metadata;
pub mod split;
pub mod stream;
mod tensor;
mod value;
mod writer;

pub use file::{GgufFile, Segment, ALIGNMENT_KEY, DEFAULT_ALIGNMENT};
pub use metadata::Metadata;
pub use tensor::{tensor_bytes, TensorInfo, MAX_DIMS};
pub use value::{MetaArray, MetaValue, Value, ValueType, MAX_ARRAY_DEPTH};
pub use writer::GgufWriter;
