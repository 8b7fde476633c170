//! `fuselm inspect`: a GGUF file's header, metadata, tensors and totals, as text
//! or JSON. One report is built from the parsed file and then rendered.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use fuselm_core::gguf::json::value_to_json;
use fuselm_core::gguf::{GgufFile, MetaValue};
use serde::Serialize;
use serde_json::Value as Json;

use crate::model_file::ModelFile;

#[derive(clap::Args)]
pub struct InspectArgs {
    /// The GGUF model file.
    pub model: PathBuf,
    /// Machine-readable JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Show long strings and arrays in full instead of summarised.
    #[arg(long)]
    pub full: bool,
    /// Read the file into memory instead of mapping it.
    #[arg(long)]
    pub no_mmap: bool,
    /// Show, per layer, each weight's format and the kernel chosen for it.
    #[arg(long)]
    pub dispatch: bool,
    /// Scan every tensor for NaN or infinite values (block scales included);
    /// exit non-zero naming the first bad value of each tensor that has one.
    #[arg(long, conflicts_with = "dispatch")]
    pub check: bool,
}

/// Arrays longer than this are summarised (length and first items) unless `--full`.
const ARRAY_HEAD: usize = 8;
/// Strings longer than this are cut in the text view unless `--full`.
const STRING_HEAD: usize = 72;

#[derive(Serialize)]
struct Report {
    file: String,
    file_bytes: u64,
    version: u32,
    alignment: u64,
    data_offset: u64,
    metadata: Vec<MetaEntry>,
    tensors: Vec<TensorEntry>,
    by_type: Vec<TypeTotal>,
    totals: Totals,
}

#[derive(Serialize)]
struct MetaEntry {
    key: String,
    #[serde(rename = "type")]
    type_name: String,
    /// Arrays: the number of items (the value holds the first ones unless `--full`).
    #[serde(skip_serializing_if = "Option::is_none")]
    len: Option<usize>,
    value: Json,
}

#[derive(Serialize)]
struct TensorEntry {
    name: String,
    #[serde(rename = "type")]
    ggml_type: String,
    /// GGML order: the row length first.
    shape: Vec<u64>,
    elements: u64,
    bytes: u64,
    /// From the start of the data section.
    offset: u64,
}

#[derive(Serialize)]
struct TypeTotal {
    #[serde(rename = "type")]
    ggml_type: String,
    tensors: usize,
    elements: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct Totals {
    tensors: usize,
    elements: u64,
    bytes: u64,
    metadata_keys: usize,
}

pub fn run(args: &InspectArgs) -> Result<()> {
    let model = ModelFile::open(&args.model, !args.no_mmap)?;
    let gguf = model.parse()?;
    if args.dispatch {
        print!("{}", crate::dispatch::render(&model.display_name(), &gguf, args.json)?);
        return Ok(());
    }
    if args.check {
        return check(&model.display_name(), &gguf, args.json);
    }
    let report = build_report(&model.display_name(), &gguf, args.full);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_text(&report, args.full));
    }
    Ok(())
}

/// One tensor's finding for `--check`.
#[derive(Serialize)]
struct CheckEntry {
    tensor: String,
    #[serde(rename = "type")]
    ggml_type: String,
    /// `finite`, `non-finite` or `unchecked` (a format the scan cannot read).
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    row: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

/// `inspect --check`: every tensor dequantized row by row (in parallel) and
/// scanned for non-finite values.
fn check(file: &str, gguf: &GgufFile<'_>, json: bool) -> Result<()> {
    use fuselm_core::quant::finite::{can_check, first_non_finite};
    use rayon::prelude::*;
    let entries: Vec<CheckEntry> = gguf
        .tensors
        .par_iter()
        .map(|t| {
            let row_len = t.dims.first().copied().unwrap_or(0) as usize;
            let found = first_non_finite(t.ggml_type, row_len, gguf.tensor_data(t))
                .map_err(|e| anyhow::anyhow!("{file}: tensor {}: {e}", t.name))?;
            Ok(CheckEntry {
                tensor: t.name.to_string(),
                ggml_type: t.ggml_type.name().to_string(),
                status: match (can_check(t.ggml_type), found) {
                    (false, _) => "unchecked",
                    (true, None) => "finite",
                    (true, Some(_)) => "non-finite",
                },
                row: found.map(|f| f.row),
                column: found.map(|f| f.column),
                value: found.map(|f| f.value.to_string()),
            })
        })
        .collect::<Result<_>>()?;
    let bad: Vec<&CheckEntry> = entries.iter().filter(|e| e.status == "non-finite").collect();
    let unchecked = entries.iter().filter(|e| e.status == "unchecked").count();
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
    } else {
        for e in &bad {
            println!(
                "{}: {} ({}) row {} column {}: {}",
                file,
                e.tensor,
                e.ggml_type,
                e.row.unwrap_or(0),
                e.column.unwrap_or(0),
                e.value.as_deref().unwrap_or("")
            );
        }
        let checked = entries.len() - unchecked;
        let skipped =
            if unchecked > 0 { format!(" ({unchecked} in formats it cannot read, unchecked)") } else { String::new() };
        println!("{file}: {checked} tensors checked{skipped}; {} hold non-finite values", bad.len());
    }
    if !bad.is_empty() {
        anyhow::bail!("{file}: {} tensors hold NaN or infinite values (first: {})", bad.len(), bad[0].tensor);
    }
    Ok(())
}

fn build_report(file: &str, gguf: &GgufFile<'_>, full: bool) -> Report {
    let metadata = gguf
        .metadata
        .iter()
        .map(|(key, value)| MetaEntry {
            key: key.to_string(),
            type_name: value.type_name(),
            len: match value {
                MetaValue::Array(a) => Some(a.len()),
                _ => None,
            },
            value: value_to_json(value, if full { usize::MAX } else { ARRAY_HEAD }),
        })
        .collect();
    let tensors = gguf
        .tensors
        .iter()
        .map(|t| TensorEntry {
            name: t.name.to_string(),
            ggml_type: t.ggml_type.name().to_string(),
            shape: t.dims.clone(),
            elements: t.n_elements(),
            bytes: t.n_bytes,
            offset: t.offset,
        })
        .collect();
    let mut by_type: BTreeMap<_, TypeTotal> = BTreeMap::new();
    for t in &gguf.tensors {
        let total = by_type.entry(t.ggml_type).or_insert_with(|| TypeTotal {
            ggml_type: t.ggml_type.name().to_string(),
            tensors: 0,
            elements: 0,
            bytes: 0,
        });
        total.tensors += 1;
        total.elements += t.n_elements();
        total.bytes += t.n_bytes;
    }
    let mut by_type: Vec<TypeTotal> = by_type.into_values().collect();
    by_type.sort_by_key(|t| std::cmp::Reverse(t.bytes));
    Report {
        file: file.to_string(),
        file_bytes: gguf.file_len,
        version: gguf.version,
        alignment: gguf.alignment,
        data_offset: gguf.data_offset,
        metadata,
        tensors,
        by_type,
        totals: Totals {
            tensors: gguf.tensors.len(),
            elements: gguf.total_elements(),
            bytes: gguf.total_tensor_bytes(),
            metadata_keys: gguf.metadata.len(),
        },
    }
}

fn render_text(r: &Report, full: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "file        {} ({} bytes)", r.file, group(r.file_bytes));
    let _ =
        writeln!(out, "gguf        version {}, alignment {}, data at byte {}", r.version, r.alignment, r.data_offset);
    let _ = writeln!(out, "\nmetadata ({} keys)", r.metadata.len());
    let key_width = r.metadata.iter().map(|m| m.key.len()).max().unwrap_or(0);
    let type_width = r.metadata.iter().map(|m| m.type_name.len()).max().unwrap_or(0);
    for m in &r.metadata {
        let _ = writeln!(out, "  {:key_width$}  {:type_width$}  {}", m.key, m.type_name, render_value(m, full));
    }
    let _ = writeln!(out, "\ntensors ({}; shape in GGML order, row length first)", r.tensors.len());
    let name_width = r.tensors.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(out, "  {:name_width$}  {:7}  {:22}  {:>14}  {:>14}", "name", "type", "shape", "bytes", "offset");
    for t in &r.tensors {
        let shape = format!("{:?}", t.shape);
        let _ = writeln!(
            out,
            "  {:name_width$}  {:7}  {:22}  {:>14}  {:>14}",
            t.name,
            t.ggml_type,
            shape,
            group(t.bytes),
            group(t.offset)
        );
    }
    let _ = writeln!(out, "\nbytes by type");
    for t in &r.by_type {
        let share = 100.0 * t.bytes as f64 / r.totals.bytes.max(1) as f64;
        let bar = "#".repeat((share / 2.5).round() as usize);
        let _ = writeln!(
            out,
            "  {:7}  {:>4} tensors  {:>15} bytes  {:5.1}%  {}",
            t.ggml_type,
            t.tensors,
            group(t.bytes),
            share,
            bar
        );
    }
    let _ = writeln!(
        out,
        "\ntotal       {} tensors, {} parameters, {} bytes of tensor data ({:.1} MiB), {} metadata keys",
        r.totals.tensors,
        group(r.totals.elements),
        group(r.totals.bytes),
        r.totals.bytes as f64 / (1024.0 * 1024.0),
        r.totals.metadata_keys
    );
    out
}

fn render_value(m: &MetaEntry, full: bool) -> String {
    match (&m.value, m.len) {
        (Json::Array(items), Some(len)) => {
            let shown: Vec<String> = items.iter().map(|v| render_scalar(v, full)).collect();
            let more = if len > items.len() { ", ..." } else { "" };
            format!("{len} items: [{}{more}]", shown.join(", "))
        }
        (v, _) => render_scalar(v, full),
    }
}

fn render_scalar(v: &Json, full: bool) -> String {
    match v {
        Json::String(s) => {
            let char_count = s.chars().count();
            if full || char_count <= STRING_HEAD {
                format!("{s:?}")
            } else {
                let head: String = s.chars().take(STRING_HEAD).collect();
                format!("{head:?}... ({char_count} chars)")
            }
        }
        other => other.to_string(),
    }
}

/// 1234567 -> "1,234,567".
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::group;

    #[test]
    fn group_inserts_thousands_separators() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(253113024), "253,113,024");
    }
}
