//! Metadata values: the twelve GGUF value types, arrays (of arrays), borrowed
//! views for reading and an owned form for writing.

use std::fmt;

use super::cursor::Cursor;
use crate::error::{Error, Result};

/// Arrays of arrays deeper than this are rejected (no real file nests at all;
/// the limit keeps a hostile file from exhausting the stack).
pub const MAX_ARRAY_DEPTH: usize = 8;

/// A GGUF metadata value type, with its on-disk id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    Str = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl ValueType {
    pub fn from_id(id: u32) -> Option<ValueType> {
        use ValueType::*;
        Some(match id {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => Str,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    pub fn id(self) -> u32 {
        self as u32
    }

    /// Bytes of one value of a fixed-size type; `None` for strings and arrays.
    pub fn fixed_size(self) -> Option<usize> {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => Some(1),
            U16 | I16 => Some(2),
            U32 | I32 | F32 => Some(4),
            U64 | I64 | F64 => Some(8),
            Str | Array => None,
        }
    }

    /// The smallest number of bytes one value can take on disk.
    fn min_size(self) -> u64 {
        match self {
            ValueType::Str => 8,
            ValueType::Array => 12,
            fixed => fixed.fixed_size().unwrap_or(1) as u64,
        }
    }

    pub fn name(self) -> &'static str {
        use ValueType::*;
        match self {
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            F32 => "f32",
            Bool => "bool",
            Str => "string",
            Array => "array",
            U64 => "u64",
            I64 => "i64",
            F64 => "f64",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A metadata value borrowed from the file's bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue<'a> {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    /// Raw bytes: GGUF strings are meant to be UTF-8 but vocabularies are not always.
    Str(&'a [u8]),
    Array(MetaArray<'a>),
}

/// An array value. Fixed-size elements stay packed in the file's bytes and are
/// decoded on access; strings and nested arrays are indexed once at parse time.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaArray<'a> {
    elem: ValueType,
    items: ArrayItems<'a>,
}

#[derive(Clone, Debug, PartialEq)]
enum ArrayItems<'a> {
    Packed { len: usize, bytes: &'a [u8] },
    Strings(Vec<&'a [u8]>),
    Arrays(Vec<MetaArray<'a>>),
}

impl<'a> MetaValue<'a> {
    pub fn value_type(&self) -> ValueType {
        match self {
            MetaValue::U8(_) => ValueType::U8,
            MetaValue::I8(_) => ValueType::I8,
            MetaValue::U16(_) => ValueType::U16,
            MetaValue::I16(_) => ValueType::I16,
            MetaValue::U32(_) => ValueType::U32,
            MetaValue::I32(_) => ValueType::I32,
            MetaValue::U64(_) => ValueType::U64,
            MetaValue::I64(_) => ValueType::I64,
            MetaValue::F32(_) => ValueType::F32,
            MetaValue::F64(_) => ValueType::F64,
            MetaValue::Bool(_) => ValueType::Bool,
            MetaValue::Str(_) => ValueType::Str,
            MetaValue::Array(_) => ValueType::Array,
        }
    }

    /// A short description of the type, `array[string]` for arrays.
    pub fn type_name(&self) -> String {
        match self {
            MetaValue::Array(a) => format!("array[{}]", a.elem_type()),
            other => other.value_type().name().to_string(),
        }
    }

    /// The value of any integer type, widened.
    pub fn as_integer(&self) -> Option<i128> {
        Some(match *self {
            MetaValue::U8(v) => v.into(),
            MetaValue::I8(v) => v.into(),
            MetaValue::U16(v) => v.into(),
            MetaValue::I16(v) => v.into(),
            MetaValue::U32(v) => v.into(),
            MetaValue::I32(v) => v.into(),
            MetaValue::U64(v) => v.into(),
            MetaValue::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// The value of a float type (or an integer type, converted).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F32(v) => Some(v.into()),
            MetaValue::F64(v) => Some(v),
            _ => self.as_integer().map(|v| v as f64),
        }
    }

    /// The owned form, as the writer takes it. Non-UTF-8 strings are converted lossily.
    pub fn to_value(&self) -> Value {
        match self {
            MetaValue::U8(v) => Value::U8(*v),
            MetaValue::I8(v) => Value::I8(*v),
            MetaValue::U16(v) => Value::U16(*v),
            MetaValue::I16(v) => Value::I16(*v),
            MetaValue::U32(v) => Value::U32(*v),
            MetaValue::I32(v) => Value::I32(*v),
            MetaValue::U64(v) => Value::U64(*v),
            MetaValue::I64(v) => Value::I64(*v),
            MetaValue::F32(v) => Value::F32(*v),
            MetaValue::F64(v) => Value::F64(*v),
            MetaValue::Bool(v) => Value::Bool(*v),
            MetaValue::Str(s) => Value::Str(String::from_utf8_lossy(s).into_owned()),
            MetaValue::Array(a) => Value::Array(a.elem_type(), a.iter().map(|v| v.to_value()).collect()),
        }
    }

    /// Parses one value of type `ty` (the id already read).
    pub(crate) fn parse(cur: &mut Cursor<'a>, ty: ValueType, key: &str, depth: usize) -> Result<Self> {
        let what = || format!("value of metadata key `{key}`");
        Ok(match ty {
            ValueType::Str => MetaValue::Str(cur.string(&what)?),
            ValueType::Array => MetaValue::Array(MetaArray::parse(cur, key, depth + 1)?),
            fixed => {
                let size = fixed.fixed_size().unwrap_or(0) as u64;
                decode_fixed(fixed, cur.take(size, &what)?)
            }
        })
    }
}

/// Decodes one little-endian value of a fixed-size type from exactly its bytes.
fn decode_fixed(ty: ValueType, b: &[u8]) -> MetaValue<'static> {
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    let (b1, b2, b4, b8) = ([w[0]], [w[0], w[1]], [w[0], w[1], w[2], w[3]], w);
    match ty {
        ValueType::U8 => MetaValue::U8(b1[0]),
        ValueType::I8 => MetaValue::I8(i8::from_le_bytes(b1)),
        ValueType::Bool => MetaValue::Bool(b1[0] != 0),
        ValueType::U16 => MetaValue::U16(u16::from_le_bytes(b2)),
        ValueType::I16 => MetaValue::I16(i16::from_le_bytes(b2)),
        ValueType::U32 => MetaValue::U32(u32::from_le_bytes(b4)),
        ValueType::I32 => MetaValue::I32(i32::from_le_bytes(b4)),
        ValueType::F32 => MetaValue::F32(f32::from_le_bytes(b4)),
        ValueType::U64 => MetaValue::U64(u64::from_le_bytes(b8)),
        ValueType::I64 => MetaValue::I64(i64::from_le_bytes(b8)),
        ValueType::F64 => MetaValue::F64(f64::from_le_bytes(b8)),
        // Callers only pass fixed-size types.
        ValueType::Str | ValueType::Array => MetaValue::U8(0),
    }
}

impl<'a> MetaArray<'a> {
    pub fn elem_type(&self) -> ValueType {
        self.elem
    }

    pub fn len(&self) -> usize {
        match &self.items {
            ArrayItems::Packed { len, .. } => *len,
            ArrayItems::Strings(v) => v.len(),
            ArrayItems::Arrays(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, index: usize) -> Option<MetaValue<'a>> {
        match &self.items {
            ArrayItems::Packed { len, bytes } => {
                let size = self.elem.fixed_size()?;
                (index < *len).then(|| decode_fixed(self.elem, &bytes[index * size..(index + 1) * size]))
            }
            ArrayItems::Strings(v) => v.get(index).map(|s| MetaValue::Str(s)),
            ArrayItems::Arrays(v) => v.get(index).cloned().map(MetaValue::Array),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = MetaValue<'a>> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }

    /// The elements of a string array, borrowed; `None` for other element types.
    pub fn strings(&self) -> Option<&[&'a [u8]]> {
        match &self.items {
            ArrayItems::Strings(v) => Some(v),
            _ => None,
        }
    }

    fn parse(cur: &mut Cursor<'a>, key: &str, depth: usize) -> Result<Self> {
        if depth > MAX_ARRAY_DEPTH {
            return Err(Error::ArrayTooDeep { key: key.to_string(), depth, max: MAX_ARRAY_DEPTH });
        }
        let what = || format!("array value of metadata key `{key}`");
        let type_id = cur.u32(&what)?;
        let elem = ValueType::from_id(type_id)
            .ok_or_else(|| Error::UnknownValueType { key: key.to_string(), found: type_id })?;
        let len = cur.count(elem.min_size(), &what)?;
        let items = match elem {
            ValueType::Str => {
                let mut strings = Vec::with_capacity(len);
                for _ in 0..len {
                    strings.push(cur.string(&what)?);
                }
                ArrayItems::Strings(strings)
            }
            ValueType::Array => {
                let mut arrays = Vec::with_capacity(len);
                for _ in 0..len {
                    arrays.push(MetaArray::parse(cur, key, depth + 1)?);
                }
                ArrayItems::Arrays(arrays)
            }
            fixed => {
                let size = fixed.fixed_size().unwrap_or(1) as u64;
                // `count` checked len * min_size (= size) against the bytes left.
                ArrayItems::Packed { len, bytes: cur.take(len as u64 * size, &what)? }
            }
        };
        Ok(MetaArray { elem, items })
    }
}

/// An owned metadata value, as the writer takes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    Str(String),
    /// Element type and elements; every element must have that type.
    Array(ValueType, Vec<Value>),
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F32(_) => ValueType::F32,
            Value::F64(_) => ValueType::F64,
            Value::Bool(_) => ValueType::Bool,
            Value::Str(_) => ValueType::Str,
            Value::Array(..) => ValueType::Array,
        }
    }

    /// An array of strings.
    pub fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Value {
        Value::Array(ValueType::Str, items.into_iter().map(|s| Value::Str(s.into())).collect())
    }

    /// An array of f32.
    pub fn f32s(items: impl IntoIterator<Item = f32>) -> Value {
        Value::Array(ValueType::F32, items.into_iter().map(Value::F32).collect())
    }

    /// An array of i32.
    pub fn i32s(items: impl IntoIterator<Item = i32>) -> Value {
        Value::Array(ValueType::I32, items.into_iter().map(Value::I32).collect())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::U32(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::F32(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
