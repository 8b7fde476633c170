//! Write a GGUF file with every value type and several tensor types, read it
//! back, and compare; plus the typed metadata accessors and their errors.

use fuselm_core::gguf::{GgufFile, GgufWriter, MetaValue, Value, ValueType};
use fuselm_core::Error;
use fuselm_core::GgmlType;

fn every_value_type() -> Vec<(&'static str, Value)> {
    vec![
        ("t.u8", Value::U8(200)),
        ("t.i8", Value::I8(-100)),
        ("t.u16", Value::U16(60000)),
        ("t.i16", Value::I16(-30000)),
        ("t.u32", Value::U32(4_000_000_000)),
        ("t.i32", Value::I32(-2_000_000_000)),
        ("t.u64", Value::U64(u64::MAX)),
        ("t.i64", Value::I64(i64::MIN)),
        ("t.f32", Value::F32(1e-6)),
        ("t.f64", Value::F64(-2.5e300)),
        ("t.bool", Value::Bool(true)),
        ("t.str", Value::Str("héllo ▁world".into())),
        ("t.empty_str", Value::Str(String::new())),
        ("t.strs", Value::strings(["<s>", "</s>", "▁the", ""])),
        ("t.f32s", Value::f32s([0.0, -1.5, f32::MAX])),
        ("t.i32s", Value::i32s([1, -2, 3])),
        ("t.bools", Value::Array(ValueType::Bool, vec![Value::Bool(false), Value::Bool(true)])),
        ("t.u64s", Value::Array(ValueType::U64, vec![Value::U64(7), Value::U64(u64::MAX)])),
        ("t.empty", Value::Array(ValueType::U8, vec![])),
        (
            "t.nested",
            Value::Array(
                ValueType::Array,
                vec![
                    Value::Array(ValueType::I16, vec![Value::I16(-1), Value::I16(2)]),
                    Value::strings(["a", "bc"]),
                    Value::Array(ValueType::Array, vec![Value::f32s([3.0])]),
                ],
            ),
        ),
    ]
}

/// Deterministic filler bytes for tensor data.
fn filler(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

struct TensorSpec {
    name: &'static str,
    ggml_type: GgmlType,
    dims: Vec<u64>,
}

fn tensor_specs() -> Vec<TensorSpec> {
    vec![
        TensorSpec { name: "output_norm.weight", ggml_type: GgmlType::F32, dims: vec![7] },
        TensorSpec { name: "blk.0.attn_q.weight", ggml_type: GgmlType::Q4_K, dims: vec![512, 3] },
        TensorSpec { name: "blk.0.attn_v.weight", ggml_type: GgmlType::Q8_0, dims: vec![64, 2, 3] },
        TensorSpec { name: "scalar", ggml_type: GgmlType::F16, dims: vec![] },
        TensorSpec { name: "empty", ggml_type: GgmlType::F32, dims: vec![0, 5] },
        TensorSpec { name: "blk.0.ffn_down.weight", ggml_type: GgmlType::Q6_K, dims: vec![256, 1, 1, 2] },
    ]
}

fn write_fixture(version: u32, alignment: Option<u32>) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut writer = GgufWriter::new().version(version).unwrap();
    if let Some(a) = alignment {
        writer = writer.alignment(a).unwrap();
    }
    for (key, value) in every_value_type() {
        writer.add(key, value).unwrap();
    }
    let mut datas = Vec::new();
    for (i, spec) in tensor_specs().iter().enumerate() {
        let n = fuselm_core::gguf::tensor_bytes(spec.name, spec.ggml_type, &spec.dims).unwrap();
        datas.push(filler(n as usize, i as u8));
    }
    for (spec, data) in tensor_specs().iter().zip(&datas) {
        writer.add_tensor(spec.name, spec.ggml_type, &spec.dims, data.clone()).unwrap();
    }
    (writer.to_bytes(), datas)
}

#[test]
fn written_file_reads_back_identically_for_each_version_and_alignment() {
    for (version, alignment) in [(3, None), (2, None), (3, Some(64)), (3, Some(1)), (2, Some(4096))] {
        let (bytes, datas) = write_fixture(version, alignment);
        let gguf = GgufFile::parse(&bytes).unwrap();
        assert_eq!(gguf.version, version);
        assert_eq!(gguf.alignment, u64::from(alignment.unwrap_or(32)));
        assert_eq!(gguf.data_offset % gguf.alignment, 0);

        let expected = every_value_type();
        let read: Vec<(&str, Value)> =
            gguf.metadata.iter().filter(|(k, _)| *k != "general.alignment").map(|(k, v)| (k, v.to_value())).collect();
        assert_eq!(read.len(), expected.len());
        for ((rk, rv), (ek, ev)) in read.iter().zip(&expected) {
            assert_eq!(rk, ek);
            assert_eq!(rv, ev, "key {ek}");
        }

        assert_eq!(gguf.tensors.len(), tensor_specs().len());
        for ((info, spec), data) in gguf.tensors.iter().zip(tensor_specs()).zip(&datas) {
            assert_eq!(info.name, spec.name);
            assert_eq!(info.ggml_type, spec.ggml_type);
            assert_eq!(info.dims, spec.dims);
            assert_eq!(info.offset % gguf.alignment, 0);
            assert_eq!(gguf.tensor_data(info), &data[..], "tensor {}", spec.name);
            assert_eq!(gguf.tensor(spec.name), Some(info));
        }
        assert!(matches!(
            gguf.require_tensor("output.weight").unwrap_err(),
            Error::MissingTensor { ref tensor } if tensor == "output.weight"
        ));
    }
}

#[test]
fn packed_arrays_decode_on_access() {
    let (bytes, _) = write_fixture(3, None);
    let gguf = GgufFile::parse(&bytes).unwrap();
    let floats = gguf.metadata.get_array("t.f32s").unwrap();
    assert_eq!(floats.elem_type(), ValueType::F32);
    assert_eq!(floats.get(2), Some(MetaValue::F32(f32::MAX)));
    assert_eq!(floats.get(3), None);
    assert_eq!(gguf.metadata.get_f32_array("t.f32s").unwrap(), vec![0.0, -1.5, f32::MAX]);
    assert_eq!(gguf.metadata.get_i32_array("t.i32s").unwrap(), vec![1, -2, 3]);
    let strs = gguf.metadata.get_bytes_array("t.strs").unwrap();
    assert_eq!(strs, &[&b"<s>"[..], b"</s>", "▁the".as_bytes(), b""]);
}

#[test]
fn typed_accessors_convert_integers_that_fit_and_name_key_and_type_otherwise() {
    let (bytes, _) = write_fixture(3, None);
    let md = GgufFile::parse(&bytes).unwrap().metadata;
    assert_eq!(md.get_u32("t.u8").unwrap(), 200);
    assert_eq!(md.get_u64("t.u64").unwrap(), u64::MAX);
    assert_eq!(md.get_i32("t.i16").unwrap(), -30000);
    assert_eq!(md.get_f32("t.f32").unwrap(), 1e-6);
    assert!(md.get_bool("t.bool").unwrap());
    assert_eq!(md.get_str("t.str").unwrap(), "héllo ▁world");

    match md.get_u32("t.str").unwrap_err() {
        Error::WrongType { key, found, .. } => assert_eq!((key.as_str(), found.as_str()), ("t.str", "string")),
        e => panic!("unexpected {e:?}"),
    }
    match md.get_u32("t.i32").unwrap_err() {
        Error::ValueOutOfRange { key, value, .. } => {
            assert_eq!((key.as_str(), value.as_str()), ("t.i32", "-2000000000"))
        }
        e => panic!("unexpected {e:?}"),
    }
    match md.get_str("llama.block_count").unwrap_err() {
        Error::MissingKey { key } => assert_eq!(key, "llama.block_count"),
        e => panic!("unexpected {e:?}"),
    }
    match md.get_bytes_array("t.f32s").unwrap_err() {
        Error::WrongType { found, .. } => assert_eq!(found, "array[f32]"),
        e => panic!("unexpected {e:?}"),
    }
    let message = md.get_bool("t.u8").unwrap_err().to_string();
    assert!(message.contains("t.u8") && message.contains("u8"), "{message}");
}

#[test]
fn writer_rejects_wrong_data_size_duplicates_and_mixed_arrays() {
    let mut writer = GgufWriter::new();
    assert!(matches!(
        writer.add_tensor("w", GgmlType::Q4_K, &[256, 2], vec![0u8; 144]).unwrap_err(),
        Error::TensorDataSize { expected: 288, found: 144, .. }
    ));
    assert!(matches!(
        writer.add_tensor("w", GgmlType::Q4_K, &[100], vec![0u8; 144]).unwrap_err(),
        Error::RowNotBlockAligned { row_len: 100, block_len: 256, .. }
    ));
    writer.add_tensor("w", GgmlType::F32, &[2], vec![0u8; 8]).unwrap();
    assert!(matches!(
        writer.add_tensor("w", GgmlType::F32, &[2], vec![0u8; 8]).unwrap_err(),
        Error::DuplicateTensor { .. }
    ));
    writer.add("k", 1u32).unwrap();
    assert!(matches!(writer.add("k", 2u32).unwrap_err(), Error::DuplicateKey { .. }));
    let mixed = Value::Array(ValueType::U32, vec![Value::U32(1), Value::F32(2.0)]);
    assert!(matches!(writer.add("mixed", mixed).unwrap_err(), Error::WrongType { .. }));
    assert!(GgufWriter::new().alignment(48).is_err());
    assert!(GgufWriter::new().version(1).is_err());
}

#[test]
fn file_with_no_tensors_and_no_metadata_parses() {
    let bytes = GgufWriter::new().to_bytes();
    let gguf = GgufFile::parse(&bytes).unwrap();
    assert!(gguf.tensors.is_empty() && gguf.metadata.is_empty());
}
