//! Parsing a whole GGUF file: header, metadata, tensor infos, data section,
//! and the validation that makes every later tensor access in bounds.
//!
//! Layout (versions 2 and 3, little-endian):
//! `"GGUF" | u32 version | u64 n_tensors | u64 n_kv | n_kv × (string key, u32 type, value)
//!  | n_tensors × (string name, u32 n_dims, n_dims × u64, u32 type, u64 offset)
//!  | padding to alignment | data section`.

use std::collections::HashMap;

use super::cursor::Cursor;
use super::tensor::{TensorInfo, MAX_DIMS};
use super::value::{MetaValue, ValueType};
use super::Metadata;
use crate::error::{Error, Result};
use crate::GgmlType;

pub const MAGIC: [u8; 4] = *b"GGUF";
/// The alignment of tensor data when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
pub const ALIGNMENT_KEY: &str = "general.alignment";

/// Smallest on-disk size of one metadata entry: key length, type id, one byte of value.
const MIN_KV_BYTES: u64 = 8 + 4 + 1;
/// Smallest on-disk size of one tensor info: name length, n_dims, type, offset.
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 4 + 8;

/// A stretch of a file held in memory: the file's bytes from `offset` on.
/// A file too large for one allocation (2 GiB - 1 in wasm32) is held as
/// several, cut between tensors (see `stream.rs`).
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub offset: u64,
    pub bytes: &'a [u8],
}

/// A parsed GGUF file borrowing the bytes it was parsed from (one slice, or
/// segments; or the files of a split model, see `split.rs`).
#[derive(Clone, Debug)]
pub struct GgufFile<'a> {
    pub version: u32,
    pub alignment: u64,
    pub metadata: Metadata<'a>,
    /// In file order.
    pub tensors: Vec<TensorInfo<'a>>,
    /// Byte offset of the data section in the file.
    pub data_offset: u64,
    /// Bytes of the file (of all its files, for a split model).
    pub file_len: u64,
    /// Each tensor's data, parallel to `tensors`.
    data: Vec<&'a [u8]>,
    tensor_index: HashMap<&'a str, usize>,
}

/// What the header says: everything but the tensors' data.
struct Header<'a> {
    version: u32,
    alignment: u64,
    metadata: Metadata<'a>,
    tensors: Vec<TensorInfo<'a>>,
    data_offset: u64,
    tensor_index: HashMap<&'a str, usize>,
}

impl<'a> GgufFile<'a> {
    /// Parses and validates `bytes`. Errors carry no file name; see [`GgufFile::parse_named`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        Self::parse_segments(&[Segment { offset: 0, bytes }], bytes.len() as u64)
    }

    /// Parses a file of `file_len` bytes held as `segments` in file order, the
    /// first from offset 0 holding the whole header; every tensor's data must
    /// lie within one segment.
    pub fn parse_segments(segments: &[Segment<'a>], file_len: u64) -> Result<Self> {
        let first = segments.first().filter(|s| s.offset == 0).map_or(&[][..], |s| s.bytes);
        let header = Header::parse(first)?;
        header.check_data_ranges(file_len)?;
        let data = header
            .tensors
            .iter()
            .map(|t| {
                let (start, end) = (header.data_offset + t.offset, header.data_offset + t.offset + t.n_bytes);
                segment_slice(segments, start, end).ok_or_else(|| Error::TensorNotLoaded {
                    tensor: t.name.to_string(),
                    start,
                    end,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let Header { version, alignment, metadata, tensors, data_offset, tensor_index } = header;
        Ok(GgufFile { version, alignment, metadata, tensors, data_offset, file_len, data, tensor_index })
    }

    /// Where the tensors' data lies in a file of `file_len` bytes whose first
    /// bytes are `prefix`: `[start, end)` per tensor, in file order. Fails when
    /// the prefix does not hold the whole header (or the header is bad).
    pub fn tensor_ranges(prefix: &[u8], file_len: u64) -> Result<Vec<(u64, u64)>> {
        let header = Header::parse(prefix)?;
        header.check_data_ranges(file_len)?;
        let at = header.data_offset;
        Ok(header.tensors.iter().map(|t| (at + t.offset, at + t.offset + t.n_bytes)).collect())
    }

    /// Like [`GgufFile::parse`], with `name` (a path or URL) put in front of any error.
    pub fn parse_named(name: &str, bytes: &'a [u8]) -> Result<Self> {
        Self::parse(bytes).map_err(|e| e.in_file(name))
    }

    /// This file followed by the tensors of `rest` (the later files of a
    /// split model, checked by the caller); the metadata stays this file's.
    pub(crate) fn append_splits(mut self, rest: Vec<GgufFile<'a>>) -> Result<Self> {
        for file in rest {
            self.file_len += file.file_len;
            for (t, data) in file.tensors.into_iter().zip(file.data) {
                if self.tensor_index.insert(t.name, self.tensors.len()).is_some() {
                    return Err(Error::DuplicateTensor { tensor: t.name.to_string() });
                }
                self.tensors.push(t);
                self.data.push(data);
            }
        }
        Ok(self)
    }
}

/// The bytes `[start, end)` of the file, when one segment holds them all.
fn segment_slice<'a>(segments: &[Segment<'a>], start: u64, end: u64) -> Option<&'a [u8]> {
    // The last segment starting at or before `start`.
    let i = segments.partition_point(|s| s.offset <= start).checked_sub(1)?;
    let s = &segments[i];
    let (from, to) = (start - s.offset, end - s.offset);
    (to <= s.bytes.len() as u64).then(|| &s.bytes[from as usize..to as usize])
}

impl<'a> Header<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut cur = Cursor::new(bytes);
        let magic: [u8; 4] = cur.array(&|| "magic".to_string())?;
        if magic != MAGIC {
            return Err(Error::BadMagic { found: magic });
        }
        let version = cur.u32(&|| "version".to_string())?;
        if !(2..=3).contains(&version) {
            return Err(Error::UnsupportedVersion { found: version });
        }
        let n_tensors_at = cur.pos();
        let n_tensors = cur.u64(&|| "tensor count".to_string())?;
        let n_kv = cur.count(MIN_KV_BYTES, &|| "metadata count".to_string())?;

        let mut metadata = Metadata::with_capacity(n_kv);
        for i in 0..n_kv {
            let key = cur.utf8(&|| format!("key of metadata entry {i}"))?;
            let type_id = cur.u32(&|| format!("type of metadata key `{key}`"))?;
            let ty = ValueType::from_id(type_id)
                .ok_or_else(|| Error::UnknownValueType { key: key.to_string(), found: type_id })?;
            let value = MetaValue::parse(&mut cur, ty, key, 0)?;
            metadata.insert(key, value)?;
        }
        let alignment = read_alignment(&metadata)?;

        let n_tensors = checked_tensor_count(n_tensors, n_tensors_at, cur.remaining())?;
        let mut tensors = Vec::with_capacity(n_tensors);
        let mut tensor_index = HashMap::with_capacity(n_tensors);
        for i in 0..n_tensors {
            let info = parse_tensor_info(&mut cur, i)?;
            if info.offset % alignment != 0 {
                return Err(Error::TensorMisaligned { tensor: info.name.to_string(), offset: info.offset, alignment });
            }
            if tensor_index.insert(info.name, tensors.len()).is_some() {
                return Err(Error::DuplicateTensor { tensor: info.name.to_string() });
            }
            tensors.push(info);
        }

        let data_offset = cur.pos().next_multiple_of(alignment);
        Ok(Header { version, alignment, metadata, tensors, data_offset, tensor_index })
    }

    /// Every tensor's data lies inside the file and no two tensors share bytes.
    fn check_data_ranges(&self, file_len: u64) -> Result<()> {
        for t in &self.tensors {
            let start = self.data_offset.checked_add(t.offset);
            let end = start.and_then(|s| s.checked_add(t.n_bytes));
            match (start, end) {
                (Some(_), Some(end)) if end <= file_len => {}
                _ => {
                    return Err(Error::TensorOutOfBounds {
                        tensor: t.name.to_string(),
                        start: start.unwrap_or(u64::MAX),
                        end: end.unwrap_or(u64::MAX),
                        file_len,
                    })
                }
            }
        }
        let mut by_offset: Vec<&TensorInfo> = self.tensors.iter().filter(|t| t.n_bytes > 0).collect();
        by_offset.sort_by_key(|t| t.offset);
        for pair in by_offset.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a.offset + a.n_bytes > b.offset {
                return Err(Error::TensorsOverlap {
                    first: a.name.to_string(),
                    first_start: a.offset,
                    first_end: a.offset + a.n_bytes,
                    second: b.name.to_string(),
                    second_start: b.offset,
                });
            }
        }
        Ok(())
    }
}

impl<'a> GgufFile<'a> {
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo<'a>> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    pub fn require_tensor(&self, name: &str) -> Result<&TensorInfo<'a>> {
        self.tensor(name).ok_or_else(|| Error::MissingTensor { tensor: name.to_string() })
    }

    /// The data of a tensor of this file, borrowed (bounds were checked at
    /// parse). `info` is one of this file's tensors.
    pub fn tensor_data(&self, info: &TensorInfo<'_>) -> &'a [u8] {
        self.tensor_index.get(info.name).map_or(&[], |&i| self.data[i])
    }

    /// Total bytes of tensor data.
    pub fn total_tensor_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.n_bytes).sum()
    }

    /// Total number of elements (parameters) over all tensors.
    pub fn total_elements(&self) -> u64 {
        self.tensors.iter().map(|t| t.n_elements()).sum()
    }
}

fn read_alignment(metadata: &Metadata<'_>) -> Result<u64> {
    if !metadata.contains(ALIGNMENT_KEY) {
        return Ok(DEFAULT_ALIGNMENT);
    }
    let alignment = metadata.get_u64(ALIGNMENT_KEY)?;
    if !alignment.is_power_of_two() {
        return Err(Error::BadAlignment { found: alignment });
    }
    Ok(alignment)
}

fn checked_tensor_count(count: u64, offset: u64, available: u64) -> Result<usize> {
    let fits = count.checked_mul(MIN_TENSOR_INFO_BYTES).is_some_and(|n| n <= available);
    match usize::try_from(count) {
        Ok(n) if fits => Ok(n),
        _ => Err(Error::CountTooLarge {
            what: "tensor count".to_string(),
            offset,
            count,
            min_entry_bytes: MIN_TENSOR_INFO_BYTES,
            available,
        }),
    }
}

fn parse_tensor_info<'a>(cur: &mut Cursor<'a>, index: usize) -> Result<TensorInfo<'a>> {
    let name = cur.utf8(&|| format!("name of tensor info {index}"))?;
    let what = || format!("tensor info of `{name}`");
    let n_dims = cur.u32(&what)?;
    if n_dims as usize > MAX_DIMS {
        return Err(Error::TooManyDims { tensor: name.to_string(), n_dims });
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        dims.push(cur.u64(&what)?);
    }
    let type_id = cur.u32(&what)?;
    let ggml_type =
        GgmlType::from_id(type_id).ok_or_else(|| Error::UnknownTensorType { tensor: name.to_string(), id: type_id })?;
    let offset = cur.u64(&what)?;
    TensorInfo::new(name, ggml_type, dims, offset)
}
