//! The key/value cache, stored as f16 (llama.cpp's default) or f32. It grows
//! as positions are used (fallibly, so memory that runs out is an error naming
//! the bytes, not an abort): a file cannot make a short run allocate its whole
//! context, whatever its layer count and head sizes say.

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

/// Keys or values of every layer in one allocation: `[n_layer, capacity, dim]`,
/// re-laid out in place when the capacity changes ([`Storage::relayout`]).
enum Storage {
    F16(Vec<f16>),
    F32(Vec<f32>),
}

impl Storage {
    fn empty(kv_type: KvType) -> Storage {
        match kv_type {
            KvType::F16 => Storage::F16(Vec::new()),
            KvType::F32 => Storage::F32(Vec::new()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Storage::F16(v) => v.len(),
            Storage::F32(v) => v.len(),
        }
    }

    /// Lays `n_layer` layers of `from` positions out with `to` positions each,
    /// in place. Growing makes one fallible reservation for the whole (realloc
    /// can often extend a large block without copying; an impossible size fails
    /// at once) and moves the layers up, last first, zeroing the new room;
    /// shrinking (to undo a growth) moves them down and never fails.
    fn relayout(&mut self, n_layer: usize, dim: usize, from: usize, to: usize) -> std::result::Result<(), ()> {
        fn relayout<T: Copy>(
            v: &mut Vec<T>,
            n_layer: usize,
            from: usize,
            to: usize,
            zero: T,
        ) -> std::result::Result<(), ()> {
            if to >= from {
                v.try_reserve_exact(n_layer * to - v.len()).map_err(|_| ())?;
                v.resize(n_layer * to, zero);
                for layer in (0..n_layer).rev() {
                    v.copy_within(layer * from..layer * from + from, layer * to);
                    v[layer * to + from..(layer + 1) * to].fill(zero);
                }
            } else {
                for layer in 0..n_layer {
                    v.copy_within(layer * from..layer * from + to, layer * to);
                }
                v.truncate(n_layer * to);
            }
            Ok(())
        }
        match self {
            Storage::F16(v) => relayout(v, n_layer, from * dim, to * dim, f16::ZERO),
            Storage::F32(v) => relayout(v, n_layer, from * dim, to * dim, 0.0),
        }
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

/// Positions the cache first makes room for; it then doubles up to `n_ctx`.
const FIRST_POSITIONS: usize = 32;

/// Keys `[n_layer, capacity, k_dim]` and values `[n_layer, capacity, v_dim]`,
/// with positions `0..len` filled and room for `capacity` (at most `n_ctx`).
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
    /// Positions every layer has room for.
    capacity: usize,
}

impl KvCache {
    /// An empty cache for up to `n_ctx` positions; nothing is allocated until
    /// [`reserve`](Self::reserve). Errors when the full context could not even
    /// be addressed.
    pub fn new(kv_type: KvType, n_layer: usize, n_ctx: usize, k_dim: usize, v_dim: usize) -> Result<KvCache> {
        let full = n_layer.checked_mul(n_ctx).and_then(|n| n.checked_mul(k_dim + v_dim));
        if full.and_then(|n| n.checked_mul(kv_type.bytes())).is_none_or(|b| b > isize::MAX as usize) {
            return Err(Error::OutOfMemory {
                what: format!("the KV cache ({n_layer} layers x {n_ctx} positions)"),
                bytes: u64::MAX,
            });
        }
        Ok(KvCache {
            keys: Storage::empty(kv_type),
            values: Storage::empty(kv_type),
            kv_type,
            n_layer,
            n_ctx,
            k_dim,
            v_dim,
            len: 0,
            capacity: 0,
        })
    }

    /// Makes room for positions `0..positions` (at most `n_ctx`) in every
    /// layer, growing geometrically; an error naming the bytes when memory is
    /// refused (the cache is unchanged then).
    pub fn reserve(&mut self, positions: usize) -> Result<()> {
        if positions <= self.capacity {
            return Ok(());
        }
        // Double (at least FIRST_POSITIONS), capped at n_ctx, but never below the request.
        let target = (2 * self.capacity).max(FIRST_POSITIONS).min(self.n_ctx).max(positions);
        let (n_layer, k_dim, v_dim) = (self.n_layer, self.k_dim, self.v_dim);
        let oom = |what: &str, dim: usize| Error::OutOfMemory {
            what: format!("the KV cache {what} ({n_layer} layers x {target} positions)"),
            bytes: (n_layer * target * dim * self.kv_type.bytes()) as u64,
        };
        let old = self.capacity;
        self.keys.relayout(n_layer, k_dim, old, target).map_err(|_| oom("keys", k_dim))?;
        if self.values.relayout(n_layer, v_dim, old, target).is_err() {
            // Keys back to the old layout (shrinking cannot fail): the cache is unchanged.
            let _ = self.keys.relayout(n_layer, k_dim, target, old);
            return Err(oom("values", v_dim));
        }
        self.capacity = target;
        Ok(())
    }

    /// Bytes the full context would hold (keys and values together).
    pub fn bytes(&self) -> u64 {
        (self.n_layer * self.n_ctx * (self.k_dim + self.v_dim) * self.kv_type.bytes()) as u64
    }

    /// Bytes allocated so far.
    pub fn allocated_bytes(&self) -> u64 {
        ((self.keys.len() + self.values.len()) * self.kv_type.bytes()) as u64
    }

    /// Stores the key and value of `layer` at `pos` (below the reserved positions).
    pub fn store(&mut self, layer: usize, pos: usize, key: &[f32], value: &[f32]) {
        debug_assert!(pos < self.capacity, "position {pos} beyond the reserved {}", self.capacity);
        self.keys.write((layer * self.capacity + pos) * self.k_dim, key);
        self.values.write((layer * self.capacity + pos) * self.v_dim, value);
    }

    /// Reads `out.len()` key values of `layer` at `pos`, starting at column `col`.
    pub fn read_key(&self, layer: usize, pos: usize, col: usize, out: &mut [f32]) {
        self.keys.read((layer * self.capacity + pos) * self.k_dim + col, out);
    }

    pub fn read_value(&self, layer: usize, pos: usize, col: usize, out: &mut [f32]) {
        self.values.read((layer * self.capacity + pos) * self.v_dim + col, out);
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
            assert_eq!(cache.allocated_bytes(), 0, "nothing before positions are used");
            cache.reserve(3).unwrap();
            assert_eq!(cache.allocated_bytes(), cache.bytes(), "capped at n_ctx = 4");
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
        let err = KvCache::new(KvType::F32, 1 << 20, 1 << 30, 1 << 20, 1).err().unwrap();
        assert!(matches!(err, Error::OutOfMemory { .. }), "{err}");
        // Far more layers than memory, and a context beyond memory: on 64-bit
        // targets the cache is addressable and the reservation fails, whole;
        // on 32-bit ones (wasm32) the size cannot even be addressed.
        for (n_layer, n_ctx, k_dim, v_dim, positions) in
            [(1 << 20, 1 << 20, 1 << 20, 1, 1), (64, 1 << 26, 1 << 12, 1 << 12, 1 << 26)]
        {
            match KvCache::new(KvType::F32, n_layer, n_ctx, k_dim, v_dim) {
                Err(err) => assert!(matches!(err, Error::OutOfMemory { .. }), "{err}"),
                Ok(mut cache) => {
                    let err = cache.reserve(positions).err().unwrap();
                    assert!(matches!(err, Error::OutOfMemory { .. }), "{err}");
                    assert_eq!(cache.allocated_bytes(), 0);
                }
            }
        }
    }

    #[test]
    fn growing_keeps_every_layer_and_position() {
        for kv_type in [KvType::F16, KvType::F32] {
            let mut cache = KvCache::new(kv_type, 3, 100, 4, 2).unwrap();
            let key = |l: usize, p: usize| [l as f32, p as f32, 1.0, -1.0];
            let value = |l: usize, p: usize| [(l * 100 + p) as f32, 0.5];
            cache.reserve(10).unwrap();
            for l in 0..3 {
                for p in 0..10 {
                    cache.store(l, p, &key(l, p), &value(l, p));
                }
            }
            for positions in [40, 70, 100] {
                cache.reserve(positions).unwrap();
                for l in 0..3 {
                    for p in 0..positions {
                        let (mut k, mut v) = ([0.0; 4], [0.0; 2]);
                        cache.read_key(l, p, 0, &mut k);
                        cache.read_value(l, p, 0, &mut v);
                        let (want_k, want_v) = if p < 10 { (key(l, p), value(l, p)) } else { ([0.0; 4], [0.0; 2]) };
                        assert_eq!((k, v), (want_k, want_v), "{kv_type:?} layer {l} position {p} after {positions}");
                    }
                }
            }
            // Shrinking back (the undo of a failed growth) keeps the stored positions.
            cache.keys.relayout(3, 4, 100, 10).unwrap();
            cache.capacity = 10;
            cache.values.relayout(3, 2, 100, 10).unwrap();
            let mut k = [0.0; 4];
            cache.read_key(2, 9, 0, &mut k);
            assert_eq!(k, key(2, 9));
        }
    }

    #[test]
    fn grows_geometrically_up_to_the_context() {
        let mut cache = KvCache::new(KvType::F16, 2, 1000, 8, 8).unwrap();
        cache.reserve(1).unwrap();
        let per_position = 2 * 16 * 2;
        assert_eq!(cache.allocated_bytes(), 32 * per_position);
        cache.reserve(257).unwrap();
        assert_eq!(cache.allocated_bytes(), 257 * per_position, "a larger request than the doubling is taken whole");
        cache.reserve(300).unwrap();
        assert_eq!(cache.allocated_bytes(), 514 * per_position);
        cache.reserve(900).unwrap();
        assert_eq!(cache.allocated_bytes(), 1000 * per_position, "doubling stops at n_ctx");
        cache.store(1, 999, &[1.0; 8], &[2.0; 8]);
        let mut k = [0.0; 8];
        cache.read_key(1, 999, 0, &mut k);
        assert_eq!(k, [1.0; 8]);
    }
}
