//! The key-value metadata of a GGUF file, in file order, with typed accessors
//! whose errors name the key and the type actually found.

use std::collections::HashMap;

use super::value::{MetaArray, MetaValue};
use crate::error::{Error, Result};

#[derive(Clone, Debug, Default)]
pub struct Metadata<'a> {
    entries: Vec<(&'a str, MetaValue<'a>)>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Metadata<'a> {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Metadata { entries: Vec::with_capacity(n), index: HashMap::with_capacity(n) }
    }

    pub(crate) fn insert(&mut self, key: &'a str, value: MetaValue<'a>) -> Result<()> {
        if self.index.insert(key, self.entries.len()).is_some() {
            return Err(Error::DuplicateKey { key: key.to_string() });
        }
        self.entries.push((key, value));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &MetaValue<'a>)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    pub fn get(&self, key: &str) -> Option<&MetaValue<'a>> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    pub fn require(&self, key: &str) -> Result<&MetaValue<'a>> {
        self.get(key).ok_or_else(|| Error::MissingKey { key: key.to_string() })
    }

    fn integer<T: TryFrom<i128>>(&self, key: &str, expected: &'static str) -> Result<T> {
        let value = self.require(key)?;
        let wide = value.as_integer().ok_or_else(|| wrong_type(key, expected, value))?;
        T::try_from(wide).map_err(|_| Error::ValueOutOfRange {
            key: key.to_string(),
            expected,
            value: wide.to_string(),
        })
    }

    /// An integer of any GGUF integer type whose value fits in u32.
    pub fn get_u32(&self, key: &str) -> Result<u32> {
        self.integer(key, "an integer in u32 range")
    }

    /// An integer of any GGUF integer type whose value fits in u64.
    pub fn get_u64(&self, key: &str) -> Result<u64> {
        self.integer(key, "an integer in u64 range")
    }

    /// An integer of any GGUF integer type whose value fits in i32.
    pub fn get_i32(&self, key: &str) -> Result<i32> {
        self.integer(key, "an integer in i32 range")
    }

    /// A float (f32 or f64; integers are accepted and converted).
    pub fn get_f32(&self, key: &str) -> Result<f32> {
        let value = self.require(key)?;
        value.as_f64().map(|v| v as f32).ok_or_else(|| wrong_type(key, "a number", value))
    }

    pub fn get_bool(&self, key: &str) -> Result<bool> {
        match self.require(key)? {
            MetaValue::Bool(b) => Ok(*b),
            other => Err(wrong_type(key, "a bool", other)),
        }
    }

    /// A UTF-8 string.
    pub fn get_str(&self, key: &str) -> Result<&'a str> {
        match self.require(key)? {
            MetaValue::Str(bytes) => std::str::from_utf8(bytes).map_err(|_| Error::WrongType {
                key: key.to_string(),
                expected: "a UTF-8 string",
                found: "a string that is not valid UTF-8".to_string(),
            }),
            other => Err(wrong_type(key, "a string", other)),
        }
    }

    pub fn get_array(&self, key: &str) -> Result<&MetaArray<'a>> {
        match self.require(key)? {
            MetaValue::Array(a) => Ok(a),
            other => Err(wrong_type(key, "an array", other)),
        }
    }

    /// An array of strings as raw bytes (vocabularies hold byte tokens).
    pub fn get_bytes_array(&self, key: &str) -> Result<&[&'a [u8]]> {
        let array = self.get_array(key)?;
        array.strings().ok_or_else(|| wrong_array_type(key, "an array of strings", array))
    }

    /// An array of numbers, converted to f32.
    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>> {
        let array = self.get_array(key)?;
        array
            .iter()
            .map(|v| v.as_f64().map(|f| f as f32))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| wrong_array_type(key, "an array of numbers", array))
    }

    /// An array of integers that each fit in i32.
    pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>> {
        let array = self.get_array(key)?;
        let mut out = Vec::with_capacity(array.len());
        for v in array.iter() {
            let wide = v.as_integer().ok_or_else(|| wrong_array_type(key, "an array of integers", array))?;
            out.push(i32::try_from(wide).map_err(|_| Error::ValueOutOfRange {
                key: key.to_string(),
                expected: "i32",
                value: wide.to_string(),
            })?);
        }
        Ok(out)
    }
}

fn wrong_type(key: &str, expected: &'static str, found: &MetaValue<'_>) -> Error {
    Error::WrongType { key: key.to_string(), expected, found: found.type_name() }
}

fn wrong_array_type(key: &str, expected: &'static str, found: &MetaArray<'_>) -> Error {
    Error::WrongType { key: key.to_string(), expected, found: format!("array[{}]", found.elem_type()) }
}
