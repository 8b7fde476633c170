//! The key/value cache: allocated once for the whole context (fallibly, so a
//! context too large for memory is an error naming the bytes, not an abort),
//! stored as f16 (llama.cpp's default) or f32.

use half::f16;
use half::slice::HalfFloatSliceExt;

use crate::error::{Error, Result};

/// Element type of the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KvType {
    #[default]
    F16,
    F32,
}

impl KvType {
    pub fn bytes(self) -> usize {
        match self {
            KvType::F16 => 2,
            KvType::F32 => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KvType::F16 => "f16",
            KvType::F32 => "f32",
        }
    }
}

impl std::str::FromStr for KvType {
    type Err = Error;
    fn from_str(s: &str) -> Result<KvType> {
        match s {
            "f16" => Ok(KvType::F16),
            "f32" => Ok(KvType::F32),
            _ => Err(Error::BadOption { option: "cache type", value: s.to_string(), expected: "f16 or f32" }),
        }
    }
}

enum Storage {
    F16(Vec<f16>),
    F32(Vec<f32>),
}

impl Storage {
    fn new(kv_type: KvType, len: usize, what: &str) -> Result<Storage> {
        let oom = || Error::OutOfMemory { what: what.to_string(), bytes: (len * kv_type.bytes()) as u64 };
        Ok(match kv_type {
            KvType::F16 => {
                let mut v = Vec::new();
                v.try_reserve_exact(len).map_err(|_| oom())?;
                v.resize(len, f16::ZERO);
                Storage::F16(v)
            }
            KvType::F32 => {
                let mut v = Vec::new();
                v.try_reserve_exact(len).map_err(|_| oom())?;
                v.resize(len, 0.0);
                Storage::F32(v)
            }
        })
    }

    fn write(&mut self, at: usize, values: &[f32]) {
        match self {
            Storage::F16(v) => v[at..at + values.len()].convert_from_f32_slice(values),
            Storage::F32(v) => v[at..at + values.len()].copy_from_slice(values),
        }
    }

    fn read(&self, at: usize, out: &mut [f32]) {
        match self {
            Storage::F16(v) => v[at..at + out.len()].convert_to_f32_slice(out),
            Storage::F32(v) => out.copy_from_slice(&v[at..at + out.len()]),
        }
    }
}

/// Keys `[n_layer, n_ctx, k_dim]` and values `[n_layer, n_ctx, v_dim]`, with
/// positions `0..len` filled.
pub struct KvCache {
    keys: Storage,
    values: Storage,
    pub kv_type: KvType,
    pub n_layer: usize,
    pub n_ctx: usize,
    pub k_dim: usize,
    pub v_dim: usize,
    /// Positions holding valid entries (the next token goes at `len`).
    pub len: usize,
}

impl KvCache {
    pub fn new(kv_type: KvType, n_layer: usize, n_ctx: usize, k_dim: usize, v_dim: usize) -> Result<KvCache> {
        let k_len = n_layer.checked_mul(n_ctx).and_then(|n| n.checked_mul(k_dim));
        let v_len = n_layer.checked_mul(n_ctx).and_then(|n| n.checked_mul(v_dim));
        let (Some(k_len), Some(v_len)) = (k_len, v_len) else {
            return Err(Error::OutOfMemory { what: "the KV cache".into(), bytes: u64::MAX });
        };
        Ok(KvCache {
            keys: Storage::new(kv_type, k_len, &format!("the KV cache keys ({n_layer} layers x {n_ctx} positions)"))?,
            values: Storage::new(
                kv_type,
                v_len,
                &format!("the KV cache values ({n_layer} layers x {n_ctx} positions)"),
            )?,
            kv_type,
            n_layer,
            n_ctx,
            k_dim,
            v_dim,
            len: 0,
        })
    }

    /// Bytes held by keys and values together.
    pub fn bytes(&self) -> u64 {
        (self.n_layer * self.n_ctx * (self.k_dim + self.v_dim) * self.kv_type.bytes()) as u64
    }

    /// Stores the key and value of `layer` at `pos`.
    pub fn store(&mut self, layer: usize, pos: usize, key: &[f32], value: &[f32]) {
        self.keys.write((layer * self.n_ctx + pos) * self.k_dim, key);
        self.values.write((layer * self.n_ctx + pos) * self.v_dim, value);
    }

    /// Reads `out.len()` key values of `layer` at `pos`, starting at column `col`.
    pub fn read_key(&self, layer: usize, pos: usize, col: usize, out: &mut [f32]) {
        self.keys.read((layer * self.n_ctx + pos) * self.k_dim + col, out);
    }

    pub fn read_value(&self, layer: usize, pos: usize, col: usize, out: &mut [f32]) {
        self.values.read((layer * self.n_ctx + pos) * self.v_dim + col, out);
    }

    /// Forgets every position from `len` on.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Whether keys lose precision to f16 (queries are rounded likewise, as
    /// ggml converts the f32 operand of an f16 product).
    pub fn rounds_to_f16(&self) -> bool {
        self.kv_type == KvType::F16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_reads_back_per_layer_and_position() {
        for kv_type in [KvType::F16, KvType::F32] {
            let mut cache = KvCache::new(kv_type, 2, 4, 3, 2).unwrap();
            cache.store(1, 2, &[1.0, 2.0, 3.0], &[4.0, 5.0]);
            let mut k = [0.0; 2];
            cache.read_key(1, 2, 1, &mut k);
            assert_eq!(k, [2.0, 3.0]);
            let mut v = [0.0; 2];
            cache.read_value(1, 2, 0, &mut v);
            assert_eq!(v, [4.0, 5.0]);
            cache.read_value(0, 2, 0, &mut v);
            assert_eq!(v, [0.0, 0.0]);
            assert_eq!(cache.bytes(), (2 * 4 * 5 * kv_type.bytes()) as u64);
        }
    }

    #[test]
    fn impossible_sizes_are_errors_not_aborts() {
        let err = KvCache::new(KvType::F32, 1 << 20, 1 << 20, 1 << 20, 1).err().unwrap();
        assert!(matches!(err, Error::OutOfMemory { .. }), "{err}");
        let err = KvCache::new(KvType::F32, 64, 1 << 26, 1 << 12, 1 << 12).err().unwrap();
        assert!(matches!(err, Error::OutOfMemory { .. }), "{err}");
    }
}
