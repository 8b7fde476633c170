//! A bounds-checked little-endian reader over the file's bytes.
//!
//! Every read checks the bytes left first and every count is checked against
//! the bytes left before anything is allocated for it, so no input can make the
//! parser panic or allocate more than the file could justify.

use crate::error::{Error, Result};

pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos as u64
    }

    pub(crate) fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    /// The next `n` bytes, borrowed from the file.
    pub(crate) fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::Truncated { what: what(), offset: self.pos(), needed: n, available: self.remaining() });
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    pub(crate) fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N]> {
        let bytes = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A count of entries that each take at least `min_entry_bytes`, checked
    /// against the bytes left so a caller may allocate for it.
    pub(crate) fn count(&mut self, min_entry_bytes: u64, what: &dyn Fn() -> String) -> Result<usize> {
        let offset = self.pos();
        let count = self.u64(what)?;
        let fits = count.checked_mul(min_entry_bytes).is_some_and(|need| need <= self.remaining());
        match usize::try_from(count) {
            Ok(count) if fits => Ok(count),
            _ => {
                Err(Error::CountTooLarge { what: what(), offset, count, min_entry_bytes, available: self.remaining() })
            }
        }
    }

    /// A GGUF string: u64 length then that many bytes (not necessarily UTF-8).
    pub(crate) fn string(&mut self, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        let len = self.u64(what)?;
        self.take(len, what)
    }

    /// A GGUF string that must be UTF-8 (keys and tensor names).
    pub(crate) fn utf8(&mut self, what: &dyn Fn() -> String) -> Result<&'a str> {
        let offset = self.pos();
        let bytes = self.string(what)?;
        std::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8 { what: what(), offset })
    }
}
