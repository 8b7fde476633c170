//! A corpus of malformed GGUF files, one per validation the reader performs,
//! each asserting the exact error variant; plus truncation at every offset and
//! random mutations, which must produce errors, never panics.

use fuselm_core::gguf::{GgufFile, GgufWriter, Value, ValueType};
use fuselm_core::Error;
use fuselm_core::GgmlType;
use proptest::prelude::*;

/// Assembles GGUF bytes field by field, so a test can write any structure,
/// valid or not.
#[derive(Default, Clone)]
struct Raw(Vec<u8>);

impl Raw {
    fn header(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        Raw::default().bytes(b"GGUF").u32(version).u64(n_tensors).u64(n_kv)
    }
    fn bytes(mut self, b: &[u8]) -> Raw {
        self.0.extend_from_slice(b);
        self
    }
    fn u32(self, v: u32) -> Raw {
        self.bytes(&v.to_le_bytes())
    }
    fn u64(self, v: u64) -> Raw {
        self.bytes(&v.to_le_bytes())
    }
    fn str(self, s: &[u8]) -> Raw {
        self.u64(s.len() as u64).bytes(s)
    }
    fn kv_u32(self, key: &str, v: u32) -> Raw {
        self.str(key.as_bytes()).u32(ValueType::U32.id()).u32(v)
    }
    fn tensor(self, name: &str, dims: &[u64], ggml_type: u32, offset: u64) -> Raw {
        let mut raw = self.str(name.as_bytes()).u32(dims.len() as u32);
        for &d in dims {
            raw = raw.u64(d);
        }
        raw.u32(ggml_type).u64(offset)
    }
    /// Pads to 32 and appends `n` data bytes.
    fn data(mut self, n: usize) -> Raw {
        let padded = self.0.len().next_multiple_of(32);
        self.0.resize(padded + n, 0xAB);
        self
    }
}

fn parse_err(raw: &Raw) -> Error {
    match GgufFile::parse(&raw.0) {
        Ok(_) => panic!("malformed file parsed without error"),
        Err(e) => e,
    }
}

const F32: u32 = 0;

#[test]
fn bad_magic() {
    let raw = Raw::default().bytes(b"GGML").u32(3).u64(0).u64(0);
    assert!(matches!(parse_err(&raw), Error::BadMagic { found } if &found == b"GGML"));
}

#[test]
fn unsupported_versions() {
    for version in [0, 1, 4, u32::MAX] {
        assert!(
            matches!(parse_err(&Raw::header(version, 0, 0)), Error::UnsupportedVersion { found } if found == version)
        );
    }
}

#[test]
fn empty_and_short_files_are_truncated() {
    for raw in [Raw::default(), Raw::default().bytes(b"GG"), Raw::header(3, 0, 0).bytes(&[0; 0])] {
        let mut bytes = raw.0.clone();
        bytes.truncate(bytes.len().saturating_sub(1));
        assert!(matches!(GgufFile::parse(&bytes).unwrap_err(), Error::Truncated { .. }));
    }
}

#[test]
fn metadata_count_larger_than_the_bytes_left() {
    let err = parse_err(&Raw::header(3, 0, u64::MAX));
    assert!(matches!(err, Error::CountTooLarge { count: u64::MAX, .. }), "{err:?}");
    let err = parse_err(&Raw::header(3, 0, 2).kv_u32("a", 1));
    assert!(matches!(err, Error::CountTooLarge { count: 2, .. }), "{err:?}");
}

#[test]
fn tensor_count_larger_than_the_bytes_left() {
    let err = parse_err(&Raw::header(3, 1 << 60, 0));
    assert!(matches!(err, Error::CountTooLarge { ref what, .. } if what == "tensor count"), "{err:?}");
}

#[test]
fn string_length_larger_than_the_bytes_left() {
    let raw = Raw::header(3, 0, 1).u64(1 << 40).bytes(b"key and more bytes");
    assert!(matches!(parse_err(&raw), Error::Truncated { needed, .. } if needed == 1 << 40));
    let raw = Raw::header(3, 0, 1).str(b"k").u32(ValueType::Str.id()).u64(u64::MAX);
    assert!(matches!(parse_err(&raw), Error::Truncated { needed: u64::MAX, .. }));
}

#[test]
fn array_length_larger_than_the_bytes_left() {
    for elem in [ValueType::U8, ValueType::F64, ValueType::Str, ValueType::Array] {
        let raw = Raw::header(3, 0, 1).str(b"arr").u32(ValueType::Array.id()).u32(elem.id()).u64(1 << 50);
        assert!(matches!(parse_err(&raw), Error::CountTooLarge { count, .. } if count == 1 << 50), "{elem}");
    }
}

#[test]
fn unknown_value_types() {
    let raw = Raw::header(3, 0, 1).str(b"k").u32(13).u32(0);
    assert!(matches!(parse_err(&raw), Error::UnknownValueType { found: 13, ref key } if key == "k"));
    let raw = Raw::header(3, 0, 1).str(b"k").u32(ValueType::Array.id()).u32(99).u64(0);
    assert!(matches!(parse_err(&raw), Error::UnknownValueType { found: 99, .. }));
}

#[test]
fn arrays_nested_too_deep() {
    let mut raw = Raw::header(3, 0, 1).str(b"deep").u32(ValueType::Array.id());
    for _ in 0..100 {
        raw = raw.u32(ValueType::Array.id()).u64(1);
    }
    raw = raw.u32(ValueType::U8.id()).u64(0);
    assert!(matches!(parse_err(&raw), Error::ArrayTooDeep { ref key, .. } if key == "deep"));
}

#[test]
fn duplicate_metadata_keys() {
    let raw = Raw::header(3, 0, 2).kv_u32("llama.block_count", 1).kv_u32("llama.block_count", 2);
    assert!(matches!(parse_err(&raw), Error::DuplicateKey { ref key } if key == "llama.block_count"));
}

#[test]
fn invalid_utf8_in_keys_and_tensor_names() {
    let raw = Raw::header(3, 0, 1).str(b"k\xff").u32(ValueType::U8.id()).bytes(&[0]);
    assert!(matches!(parse_err(&raw), Error::InvalidUtf8 { .. }));
    let raw = Raw::header(3, 1, 0).str(b"\xc3(").u32(1).u64(4).u32(F32).u64(0).data(16);
    assert!(matches!(parse_err(&raw), Error::InvalidUtf8 { .. }));
}

#[test]
fn alignment_that_is_not_a_power_of_two() {
    for bad in [0, 3, 48] {
        let raw = Raw::header(3, 0, 1).kv_u32("general.alignment", bad);
        assert!(matches!(parse_err(&raw), Error::BadAlignment { found } if found == u64::from(bad)));
    }
    let raw = Raw::header(3, 0, 1).str(b"general.alignment").u32(ValueType::Str.id()).str(b"32");
    assert!(matches!(parse_err(&raw), Error::WrongType { .. }));
}

#[test]
fn unknown_tensor_type() {
    for id in [4, 31, 1000] {
        let raw = Raw::header(3, 1, 0).tensor("w", &[32], id, 0).data(64);
        assert!(
            matches!(parse_err(&raw), Error::UnknownTensorType { id: found, ref tensor } if found == id && tensor == "w")
        );
    }
}

#[test]
fn too_many_dims() {
    let raw = Raw::header(3, 1, 0).tensor("w", &[1, 1, 1, 1, 1], F32, 0).data(4);
    assert!(matches!(parse_err(&raw), Error::TooManyDims { n_dims: 5, .. }));
}

#[test]
fn dims_product_overflow() {
    for dims in [vec![1 << 32, 1 << 32], vec![u64::MAX, 2], vec![1 << 62, 4]] {
        let raw = Raw::header(3, 1, 0).tensor("w", &dims, F32, 0).data(4);
        assert!(matches!(parse_err(&raw), Error::TensorSizeOverflow { .. }), "{dims:?}");
    }
}

#[test]
fn row_not_divisible_by_block_size() {
    let raw = Raw::header(3, 1, 0).tensor("blk.0.attn_q.weight", &[896, 2], GgmlType::Q4_K.id(), 0).data(4096);
    assert!(matches!(
        parse_err(&raw),
        Error::RowNotBlockAligned { row_len: 896, block_len: 256, ggml_type: GgmlType::Q4_K, .. }
    ));
}

#[test]
fn misaligned_tensor_data() {
    let raw = Raw::header(3, 1, 0).tensor("w", &[4], F32, 8).data(64);
    assert!(matches!(parse_err(&raw), Error::TensorMisaligned { offset: 8, alignment: 32, .. }));
}

#[test]
fn tensor_data_out_of_bounds() {
    let raw = Raw::header(3, 1, 0).tensor("w", &[16], F32, 32).data(64);
    assert!(matches!(parse_err(&raw), Error::TensorOutOfBounds { ref tensor, .. } if tensor == "w"));
    let raw = Raw::header(3, 1, 0).tensor("w", &[4], F32, u64::MAX - 31).data(64);
    assert!(matches!(parse_err(&raw), Error::TensorOutOfBounds { .. }));
}

#[test]
fn truncated_data_section() {
    let mut raw = Raw::header(3, 1, 0).tensor("w", &[16], F32, 0).data(64);
    raw.0.truncate(raw.0.len() - 10);
    assert!(matches!(parse_err(&raw), Error::TensorOutOfBounds { .. }));
}

#[test]
fn overlapping_tensors() {
    let raw = Raw::header(3, 2, 0).tensor("a", &[16], F32, 0).tensor("b", &[8], F32, 32).data(128);
    assert!(matches!(
        parse_err(&raw),
        Error::TensorsOverlap { ref first, ref second, .. } if first == "a" && second == "b"
    ));
}

#[test]
fn duplicate_tensor_names() {
    let raw = Raw::header(3, 2, 0).tensor("a", &[8], F32, 0).tensor("a", &[8], F32, 32).data(64);
    assert!(matches!(parse_err(&raw), Error::DuplicateTensor { ref tensor } if tensor == "a"));
}

#[test]
fn errors_name_the_file_when_given_one() {
    let err = GgufFile::parse_named("models/broken.gguf", b"nope").unwrap_err();
    assert!(err.to_string().starts_with("models/broken.gguf: not a GGUF file"), "{err}");
    assert!(matches!(err.root(), Error::BadMagic { .. }));
}

fn valid_file() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add("general.architecture", "llama").unwrap();
    w.add("tokenizer.ggml.tokens", Value::strings(["<s>", "a", "b"])).unwrap();
    w.add("nested", Value::Array(ValueType::Array, vec![Value::f32s([1.0, 2.0])])).unwrap();
    w.add_tensor("a", GgmlType::Q8_0, &[64, 2], vec![1u8; 136]).unwrap();
    w.add_tensor("b", GgmlType::F32, &[5], vec![2u8; 20]).unwrap();
    w.to_bytes()
}

#[test]
fn truncation_at_every_offset_is_an_error() {
    let bytes = valid_file();
    assert!(GgufFile::parse(&bytes).is_ok());
    // The last tensor's padding is not data, so cuts inside it still parse.
    let needed = {
        let gguf = GgufFile::parse(&bytes).unwrap();
        let last = gguf.tensors.iter().map(|t| gguf.data_offset + t.offset + t.n_bytes).max().unwrap();
        last as usize
    };
    for cut in 0..needed {
        let err = GgufFile::parse(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(err, Error::Truncated { .. } | Error::TensorOutOfBounds { .. } | Error::CountTooLarge { .. }),
            "cut at {cut}: {err:?}"
        );
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = GgufFile::parse(&bytes);
        let mut with_magic = b"GGUF\x03\0\0\0".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = GgufFile::parse(&with_magic);
    }

    #[test]
    fn mutated_valid_files_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = valid_file();
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(gguf) = GgufFile::parse(&bytes) {
            // Whatever parses must be safe to use.
            for t in &gguf.tensors {
                prop_assert_eq!(gguf.tensor_data(t).len() as u64, t.n_bytes);
            }
            for (_, value) in gguf.metadata.iter() {
                let _ = value.to_value();
            }
        }
    }
}
