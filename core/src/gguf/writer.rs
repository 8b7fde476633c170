//! Writing GGUF files: metadata and tensors, data aligned as the reader expects.
//!
//! Used by tests to build fixtures and by the synthetic-model tool. Everything
//! is checked when added (duplicate names, data size against type and dims), so
//! `write_to` can only fail on I/O.

use std::borrow::Cow;
use std::io::{self, Write};

use super::file::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, MAGIC};
use super::tensor::{tensor_bytes, MAX_DIMS};
use super::value::Value;
use crate::error::{Error, Result};
use crate::GgmlType;

struct PendingTensor<'d> {
    name: String,
    ggml_type: GgmlType,
    dims: Vec<u64>,
    data: Cow<'d, [u8]>,
}

/// Builds a GGUF file. `'d` is the lifetime of tensor data passed by reference.
pub struct GgufWriter<'d> {
    version: u32,
    alignment: u64,
    metadata: Vec<(String, Value)>,
    tensors: Vec<PendingTensor<'d>>,
}

impl std::fmt::Debug for GgufWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufWriter")
            .field("version", &self.version)
            .field("alignment", &self.alignment)
            .field("metadata_keys", &self.metadata.len())
            .field("tensors", &self.tensors.iter().map(|t| &t.name).collect::<Vec<_>>())
            .finish()
    }
}

impl Default for GgufWriter<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'d> GgufWriter<'d> {
    /// A version-3 writer with the default alignment (32).
    pub fn new() -> Self {
        GgufWriter { version: 3, alignment: DEFAULT_ALIGNMENT, metadata: Vec::new(), tensors: Vec::new() }
    }

    /// Writes this GGUF version (2 or 3; they share one layout).
    pub fn version(mut self, version: u32) -> Result<Self> {
        if !(2..=3).contains(&version) {
            return Err(Error::UnsupportedVersion { found: version });
        }
        self.version = version;
        Ok(self)
    }

    /// Aligns tensor data to `alignment` bytes and records it as `general.alignment`.
    pub fn alignment(mut self, alignment: u32) -> Result<Self> {
        if !alignment.is_power_of_two() {
            return Err(Error::BadAlignment { found: alignment.into() });
        }
        self.alignment = alignment.into();
        self.metadata.retain(|(k, _)| k != ALIGNMENT_KEY);
        self.metadata.push((ALIGNMENT_KEY.to_string(), Value::U32(alignment)));
        Ok(self)
    }

    /// Adds a metadata entry. Array elements must all have the array's element type.
    pub fn add(&mut self, key: &str, value: impl Into<Value>) -> Result<&mut Self> {
        let value = value.into();
        if self.metadata.iter().any(|(k, _)| k == key) {
            return Err(Error::DuplicateKey { key: key.to_string() });
        }
        check_array_types(key, &value)?;
        self.metadata.push((key.to_string(), value));
        Ok(self)
    }

    /// Adds a tensor; `dims` in GGML order (`dims[0]` = row length).
    pub fn add_tensor(
        &mut self,
        name: &str,
        ggml_type: GgmlType,
        dims: &[u64],
        data: impl Into<Cow<'d, [u8]>>,
    ) -> Result<&mut Self> {
        if dims.len() > MAX_DIMS {
            return Err(Error::TooManyDims { tensor: name.to_string(), n_dims: dims.len() as u32 });
        }
        if self.tensors.iter().any(|t| t.name == name) {
            return Err(Error::DuplicateTensor { tensor: name.to_string() });
        }
        let data = data.into();
        let expected = tensor_bytes(name, ggml_type, dims)?;
        if data.len() as u64 != expected {
            return Err(Error::TensorDataSize {
                tensor: name.to_string(),
                ggml_type,
                dims: dims.to_vec(),
                expected,
                found: data.len() as u64,
            });
        }
        self.tensors.push(PendingTensor { name: name.to_string(), ggml_type, dims: dims.to_vec(), data });
        Ok(self)
    }

    /// Writes the whole file.
    pub fn write_to<W: Write>(&self, out: &mut W) -> io::Result<()> {
        let mut out = CountingWriter { inner: out, written: 0 };
        out.write_all(&MAGIC)?;
        out.write_all(&self.version.to_le_bytes())?;
        out.write_all(&(self.tensors.len() as u64).to_le_bytes())?;
        out.write_all(&(self.metadata.len() as u64).to_le_bytes())?;
        for (key, value) in &self.metadata {
            write_string(&mut out, key.as_bytes())?;
            out.write_all(&value.value_type().id().to_le_bytes())?;
            write_value(&mut out, value)?;
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            write_string(&mut out, t.name.as_bytes())?;
            out.write_all(&(t.dims.len() as u32).to_le_bytes())?;
            for d in &t.dims {
                out.write_all(&d.to_le_bytes())?;
            }
            out.write_all(&t.ggml_type.id().to_le_bytes())?;
            out.write_all(&offset.to_le_bytes())?;
            offset = (offset + t.data.len() as u64).next_multiple_of(self.alignment);
        }
        out.pad_to(self.alignment)?;
        for t in &self.tensors {
            out.write_all(&t.data)?;
            out.pad_to(self.alignment)?;
        }
        out.inner.flush()
    }

    /// The whole file in memory.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = self.write_to(&mut bytes);
        bytes
    }
}

fn check_array_types(key: &str, value: &Value) -> Result<()> {
    if let Value::Array(elem, items) = value {
        for item in items {
            if item.value_type() != *elem {
                return Err(Error::WrongType {
                    key: key.to_string(),
                    expected: "array elements of the declared element type",
                    found: format!("a {} element in an array[{}]", item.value_type(), elem),
                });
            }
            check_array_types(key, item)?;
        }
    }
    Ok(())
}

struct CountingWriter<'w, W: Write> {
    inner: &'w mut W,
    written: u64,
}

impl<W: Write> CountingWriter<'_, W> {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn pad_to(&mut self, alignment: u64) -> io::Result<()> {
        let pad = self.written.next_multiple_of(alignment) - self.written;
        self.write_all(&vec![0u8; pad as usize])
    }
}

fn write_string<W: Write>(out: &mut CountingWriter<'_, W>, s: &[u8]) -> io::Result<()> {
    out.write_all(&(s.len() as u64).to_le_bytes())?;
    out.write_all(s)
}

fn write_value<W: Write>(out: &mut CountingWriter<'_, W>, value: &Value) -> io::Result<()> {
    match value {
        Value::U8(v) => out.write_all(&v.to_le_bytes()),
        Value::I8(v) => out.write_all(&v.to_le_bytes()),
        Value::U16(v) => out.write_all(&v.to_le_bytes()),
        Value::I16(v) => out.write_all(&v.to_le_bytes()),
        Value::U32(v) => out.write_all(&v.to_le_bytes()),
        Value::I32(v) => out.write_all(&v.to_le_bytes()),
        Value::U64(v) => out.write_all(&v.to_le_bytes()),
        Value::I64(v) => out.write_all(&v.to_le_bytes()),
        Value::F32(v) => out.write_all(&v.to_le_bytes()),
        Value::F64(v) => out.write_all(&v.to_le_bytes()),
        Value::Bool(v) => out.write_all(&[u8::from(*v)]),
        Value::Str(s) => write_string(out, s.as_bytes()),
        Value::Array(elem, items) => {
            out.write_all(&elem.id().to_le_bytes())?;
            out.write_all(&(items.len() as u64).to_le_bytes())?;
            for item in items {
                write_value(out, item)?;
            }
            Ok(())
        }
    }
}
