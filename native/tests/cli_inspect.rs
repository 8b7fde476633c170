//! `fuselm inspect` end to end: text and JSON on a written fixture and on the
//! real models present, and one clean error line (exit 1) for user mistakes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fuselm_core::gguf::{GgufWriter, Value};
use fuselm_core::GgmlType;

fn fuselm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fuselm")).args(args).output().expect("run fuselm")
}

fn fixture(dir: &Path) -> PathBuf {
    let mut w = GgufWriter::new();
    w.add("general.architecture", "llama").unwrap();
    w.add("llama.block_count", 1u32).unwrap();
    w.add("tokenizer.ggml.tokens", Value::strings((0..100).map(|i| format!("t{i}")))).unwrap();
    w.add("tokenizer.chat_template", "x".repeat(500)).unwrap();
    w.add_tensor("token_embd.weight", GgmlType::Q8_0, &[64, 100], vec![0u8; 34 * 2 * 100]).unwrap();
    w.add_tensor("output_norm.weight", GgmlType::F32, &[64], vec![0u8; 256]).unwrap();
    let path = dir.join("fixture.gguf");
    std::fs::write(&path, w.to_bytes()).unwrap();
    path
}

#[test]
fn text_output_lists_metadata_tensors_histogram_and_totals() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture(dir.path());
    let out = fuselm(&["inspect", path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("version 3, alignment 32"), "{text}");
    assert!(text.contains("llama.block_count"));
    assert!(text.contains(r#"100 items: ["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", ...]"#), "{text}");
    assert!(text.contains("(500 chars)"), "long strings are summarised");
    assert!(text.contains("token_embd.weight") && text.contains("[64, 100]"));
    assert!(text.contains("Q8_0") && text.contains("6,800"));
    assert!(text.contains("total       2 tensors, 6,464 parameters, 7,056 bytes"), "{text}");

    let full = String::from_utf8(fuselm(&["inspect", "--full", path.to_str().unwrap()]).stdout).unwrap();
    assert!(full.contains("\"t99\"") && !full.contains("(500 chars)"));
}

#[test]
fn json_output_is_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture(dir.path());
    for extra in [&[][..], &["--no-mmap"][..]] {
        let mut args = vec!["inspect", "--json", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = fuselm(&args);
        assert!(out.status.success());
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["totals"]["tensors"], 2);
        assert_eq!(json["tensors"][0]["type"], "Q8_0");
        assert_eq!(json["tensors"][0]["shape"], serde_json::json!([64, 100]));
        assert_eq!(json["tensors"][1]["offset"], 6816); // 6800 rounded up to 32
        let tokens = json["metadata"].as_array().unwrap().iter().find(|m| m["key"] == "tokenizer.ggml.tokens").unwrap();
        assert_eq!(tokens["len"], 100);
        assert_eq!(tokens["value"].as_array().unwrap().len(), 8);
        assert_eq!(json["by_type"][0]["type"], "Q8_0");
    }
}

#[test]
fn user_mistakes_give_one_clean_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let not_gguf = dir.path().join("notes.txt");
    std::fs::write(&not_gguf, "hello, not a model").unwrap();
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, "").unwrap();
    let missing = dir.path().join("missing.gguf");
    let cases = [
        (not_gguf, "notes.txt: not a GGUF file"),
        (empty, "empty.gguf: file is truncated: magic"),
        (missing, "cannot open model file"),
    ];
    for (path, expected) in cases {
        let out = fuselm(&["inspect", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("error: ") && stderr.contains(expected), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "no backtrace: {stderr}");
    }
}

#[test]
fn real_models_show_their_tensor_counts() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    for (name, n_tensors) in [
        ("gemma-3-270m-q4_k_m.gguf", 236),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", 272),
        ("qwen2.5-coder-0.5b-q4_k_m.gguf", 291),
        ("qwen2.5-coder-1.5b-q4_k_m.gguf", 339),
    ] {
        let path = models.join(name);
        if !path.exists() {
            eprintln!("note: {name} absent (scripts/fetch-models); skipped");
            continue;
        }
        let out = fuselm(&["inspect", "--json", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["totals"]["tensors"], n_tensors, "{name}");
        let by_type_total: u64 = json["by_type"].as_array().unwrap().iter().map(|t| t["bytes"].as_u64().unwrap()).sum();
        assert_eq!(json["totals"]["bytes"], by_type_total);
    }
}

/// The hostile corpus's valid base model with one NaN block scale written
/// into `blk.0.ffn_down.weight` (the first Q8_0 block's f16 `d`).
fn nan_scale_model(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut bytes = std::fs::read(root.join("tests/data/hostile/base.gguf")).unwrap();
    let at = {
        let gguf = fuselm_core::gguf::GgufFile::parse(&bytes).unwrap();
        let t = gguf.tensors.iter().find(|t| t.name == "blk.0.ffn_down.weight").unwrap();
        assert_eq!(t.ggml_type, GgmlType::Q8_0);
        (gguf.data_offset + t.offset) as usize
    };
    bytes[at..at + 2].copy_from_slice(&0x7E00u16.to_le_bytes());
    let path = dir.join("nan-scale.gguf");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn check_finds_a_nan_block_scale_and_generation_stops_on_nan_logits() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let base = root.join("tests/data/hostile/base.gguf");
    let ok = fuselm(&["inspect", "--check", base.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("0 hold non-finite values"));

    let bad = nan_scale_model(dir.path());
    let bad = bad.to_str().unwrap();
    let out = fuselm(&["inspect", "--check", bad]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("blk.0.ffn_down.weight (Q8_0) row 0 column 0: NaN"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 tensors hold NaN or infinite values"));
    let json = fuselm(&["inspect", "--check", "--json", bad]);
    let entries: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let flagged: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "non-finite")
        .map(|e| e["tensor"].as_str().unwrap())
        .collect();
    assert_eq!(flagged, ["blk.0.ffn_down.weight"]);

    // Generation refuses NaN logits at the first position instead of sampling from them.
    let out = fuselm(&["generate", "-m", bad, "-p", "the", "-n", "4"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the logits at position") && err.contains("are not finite (NaN)"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
