//! Cross-checks against an independent implementation, the official `gguf`
//! Python package: files we write read the same in gguf-py, files gguf-py writes
//! read the same here, and so do the real models.

mod common;

use std::path::Path;

use common::{present_models, run_python};
use fuselm::gguf::{GgufFile, GgufWriter, MetaValue, Value, ValueType};
use fuselm::GgmlType;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

/// Our reader's view in the shape tests/py/gguf_dump.py prints.
fn our_dump(gguf: &GgufFile<'_>, with_hash: bool) -> Json {
    let fields: Vec<Json> = gguf
        .metadata
        .iter()
        .map(|(key, value)| json!({"key": key, "types": value_types(value), "value": summarise(value)}))
        .collect();
    let tensors: Vec<Json> = gguf
        .tensors
        .iter()
        .map(|t| {
            let mut entry = json!({
                "name": t.name,
                "type": t.ggml_type.name(),
                "shape": t.dims,
                "n_bytes": t.n_bytes,
                "file_offset": gguf.data_offset + t.offset,
            });
            if with_hash {
                entry["sha256"] = json!(format!("{:x}", Sha256::digest(gguf.tensor_data(t))));
            }
            entry
        })
        .collect();
    json!({
        "version": gguf.version,
        "alignment": gguf.alignment,
        "data_offset": gguf.data_offset,
        "fields": fields,
        "tensors": tensors,
    })
}

/// gguf-py lists a field's types outermost first: `["array", "string"]`.
fn value_types(value: &MetaValue<'_>) -> Vec<&'static str> {
    let mut types = vec![value.value_type().name()];
    if let MetaValue::Array(a) = value {
        match a.get(0) {
            Some(first) if a.elem_type() == ValueType::Array => types.extend(value_types(&first)),
            _ => types.push(a.elem_type().name()),
        }
    }
    types
}

fn summarise(value: &MetaValue<'_>) -> Json {
    match value {
        MetaValue::Array(a) => json!({
            "len": a.len(),
            "head": a.iter().take(4).map(|v| summarise(&v)).collect::<Vec<_>>(),
            "last": a.get(a.len().wrapping_sub(1)).map_or(Json::Null, |v| summarise(&v)),
        }),
        MetaValue::Str(s) => json!(String::from_utf8_lossy(s)),
        MetaValue::Bool(b) => json!(b),
        MetaValue::F32(f) => json!(f64::from(*f)),
        MetaValue::F64(f) => json!(f),
        MetaValue::U64(v) => json!(v),
        other => json!(other.as_integer().and_then(|i| i64::try_from(i).ok())),
    }
}

fn gguf_py_dump(path: &Path, with_hash: bool) -> Json {
    let args: Vec<&Path> = if with_hash { vec![path, Path::new("--hash")] } else { vec![path] };
    serde_json::from_str(&run_python("gguf_dump.py", &args)).expect("gguf_dump.py prints JSON")
}

fn assert_same(ours: &Json, theirs: &Json, what: &str) {
    for key in ["version", "alignment", "data_offset"] {
        assert_eq!(ours[key], theirs[key], "{what}: {key}");
    }
    let (of, tf) = (ours["fields"].as_array().unwrap(), theirs["fields"].as_array().unwrap());
    assert_eq!(of.len(), tf.len(), "{what}: number of metadata fields");
    for (o, t) in of.iter().zip(tf) {
        assert_eq!(o, t, "{what}: metadata field");
    }
    let (ot, tt) = (ours["tensors"].as_array().unwrap(), theirs["tensors"].as_array().unwrap());
    assert_eq!(ot.len(), tt.len(), "{what}: number of tensors");
    for (o, t) in ot.iter().zip(tt) {
        assert_eq!(o, t, "{what}: tensor");
    }
}

#[test]
fn files_we_write_read_the_same_in_gguf_py() {
    let dir = tempfile::tempdir().unwrap();
    for alignment in [32u32, 64] {
        let mut w = GgufWriter::new().alignment(alignment).unwrap();
        w.add("general.architecture", "llama").unwrap();
        w.add("t.u8", Value::U8(7)).unwrap();
        w.add("t.i8", Value::I8(-7)).unwrap();
        w.add("t.u16", Value::U16(65535)).unwrap();
        w.add("t.i16", Value::I16(-32768)).unwrap();
        w.add("t.u32", Value::U32(u32::MAX)).unwrap();
        w.add("t.i32", Value::I32(i32::MIN)).unwrap();
        w.add("t.u64", Value::U64(u64::MAX)).unwrap();
        w.add("t.i64", Value::I64(i64::MIN)).unwrap();
        w.add("t.f32", Value::F32(1e-6)).unwrap();
        w.add("t.f64", Value::F64(1e300)).unwrap();
        w.add("t.bool", Value::Bool(false)).unwrap();
        w.add("t.str", "▁héllo 世界").unwrap();
        w.add("tokenizer.ggml.tokens", Value::strings((0..1000).map(|i| format!("tok{i}")))).unwrap();
        w.add("tokenizer.ggml.scores", Value::f32s((0..1000).map(|i| -(i as f32) / 3.0))).unwrap();
        w.add("t.bools", Value::Array(ValueType::Bool, vec![Value::Bool(true), Value::Bool(false)])).unwrap();
        let datas: Vec<(&str, GgmlType, Vec<u64>)> = vec![
            ("token_embd.weight", GgmlType::Q6_K, vec![512, 10]),
            ("output_norm.weight", GgmlType::F32, vec![33]),
            ("blk.0.attn_q.weight", GgmlType::Q4_K, vec![256, 3]),
            ("blk.0.attn_k.weight", GgmlType::Q5_0, vec![64, 5]),
            ("blk.0.ffn_up.weight", GgmlType::BF16, vec![3, 7, 2]),
        ];
        for (i, (name, ty, dims)) in datas.iter().enumerate() {
            let n = fuselm::gguf::tensor_bytes(name, *ty, dims).unwrap() as usize;
            let data: Vec<u8> = (0..n).map(|j| (j * 7 + i) as u8).collect();
            w.add_tensor(name, *ty, dims, data).unwrap();
        }
        let path = dir.path().join(format!("ours-{alignment}.gguf"));
        std::fs::write(&path, w.to_bytes()).unwrap();

        let bytes = std::fs::read(&path).unwrap();
        let ours = our_dump(&GgufFile::parse(&bytes).unwrap(), true);
        assert_same(&ours, &gguf_py_dump(&path, true), &format!("our file, alignment {alignment}"));
    }
}

#[test]
fn files_gguf_py_writes_read_the_same_here() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("theirs.gguf");
    run_python("gguf_write_fixture.py", &[&path]);
    let bytes = std::fs::read(&path).unwrap();
    let gguf = GgufFile::parse(&bytes).unwrap();
    assert_eq!(gguf.metadata.get_u32("llama.block_count").unwrap(), 2);
    assert_eq!(gguf.metadata.get_str("t.str").unwrap(), "héllo ▁world");
    assert_eq!(gguf.require_tensor("blk.0.attn_q.weight").unwrap().dims, vec![512, 2]);
    assert_same(&our_dump(&gguf, true), &gguf_py_dump(&path, true), "gguf-py's file");
}

#[test]
fn real_models_read_the_same_in_gguf_py() {
    for (path, n_tensors) in present_models() {
        let bytes = std::fs::read(&path).unwrap();
        let gguf = GgufFile::parse(&bytes).unwrap();
        assert_eq!(gguf.tensors.len(), n_tensors, "{}", path.display());
        // Hash tensor data on the smaller files; the structure is compared on all.
        let with_hash = bytes.len() < 300 << 20;
        assert_same(&our_dump(&gguf, with_hash), &gguf_py_dump(&path, with_hash), &path.display().to_string());
    }
}
