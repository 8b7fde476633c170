//! Split models: one model in several GGUF files, as llama.cpp's
//! `llama-gguf-split` writes them. Files are named
//! `<prefix>-00001-of-00003.gguf`; each is a whole GGUF file carrying
//! `split.no` (0-based), `split.count` and `split.tensors.count`; the first
//! also carries the model's metadata, and every file some of its tensors.

use super::file::{GgufFile, ALIGNMENT_KEY, DEFAULT_ALIGNMENT};
use super::{GgufWriter, Metadata, Value};
use crate::error::{Error, Result};

pub const SPLIT_NO_KEY: &str = "split.no";
pub const SPLIT_COUNT_KEY: &str = "split.count";
pub const SPLIT_TENSORS_KEY: &str = "split.tensors.count";

/// The name of file `index` (0-based) of a model split in `count` files.
pub fn split_path(prefix: &str, index: usize, count: usize) -> String {
    format!("{prefix}-{:05}-of-{count:05}.gguf", index + 1)
}

/// `(prefix, index, count)` (index 0-based) when `name` ends like a split
/// file's name, `-00002-of-00003.gguf`.
pub fn parse_split_path(name: &str) -> Option<(&str, usize, usize)> {
    let stem = name.strip_suffix(".gguf")?;
    let (rest, count) = stem.rsplit_once("-of-")?;
    let (prefix, number) = rest.rsplit_once('-')?;
    let digits = |s: &str| s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(count) || !digits(number) {
        return None;
    }
    let (number, count): (usize, usize) = (number.parse().ok()?, count.parse().ok()?);
    (1..=count).contains(&number).then(|| (prefix, number - 1, count))
}

/// `split.count` of a file's metadata, when it has one.
pub fn split_count(metadata: &Metadata<'_>) -> Result<Option<u64>> {
    metadata.contains(SPLIT_COUNT_KEY).then(|| metadata.get_u64(SPLIT_COUNT_KEY)).transpose()
}

/// One model from the files of a split, given in order with their names (a
/// single file that is not split is returned as it is). Checks that each file
/// is the split its place says and that the tensors add up to what the first
/// file announces; tensors then come in file order, metadata from the first file.
pub fn merge_splits<'a>(files: Vec<(String, GgufFile<'a>)>) -> Result<GgufFile<'a>> {
    let Some((first_name, first)) = files.first() else {
        return Err(Error::Split { why: "no files".into() });
    };
    let first_name = first_name.clone();
    let count = split_count(&first.metadata).map_err(|e| e.in_file(&first_name))?;
    if count.is_none() && files.len() == 1 {
        return Ok(files.into_iter().next().expect("one file").1);
    }
    let count = count.unwrap_or(1);
    if count != files.len() as u64 {
        let why = format!("`{SPLIT_COUNT_KEY}` says the model has {count} files; the load has {}", files.len());
        return Err(Error::Split { why }.in_file(&first_name));
    }
    let announced = first
        .metadata
        .contains(SPLIT_TENSORS_KEY)
        .then(|| first.metadata.get_u64(SPLIT_TENSORS_KEY))
        .transpose()
        .map_err(|e| e.in_file(&first_name))?;
    for (i, (name, file)) in files.iter().enumerate() {
        let check = |key: &str, expected: u64| -> Result<()> {
            let found = file.metadata.get_u64(key).map_err(|e| e.in_file(name))?;
            if found != expected {
                let why = format!("`{key}` is {found}, expected {expected} (file {} of {count})", i + 1);
                return Err(Error::Split { why }.in_file(name));
            }
            Ok(())
        };
        check(SPLIT_NO_KEY, i as u64)?;
        check(SPLIT_COUNT_KEY, count)?;
    }
    let n_tensors: usize = files.iter().map(|(_, f)| f.tensors.len()).sum();
    if let Some(announced) = announced.filter(|&n| n != n_tensors as u64) {
        let why = format!("`{SPLIT_TENSORS_KEY}` announces {announced} tensors, the {count} files hold {n_tensors}");
        return Err(Error::Split { why }.in_file(&first_name));
    }
    let mut files = files.into_iter().map(|(_, f)| f);
    let first = files.next().expect("checked non-empty");
    first.append_splits(files.collect()).map_err(|e| e.in_file(&first_name))
}

/// Writers for the files of `file` split in parts of at most `max_bytes` of
/// tensor data each (a larger tensor gets a part of its own), tensors kept in
/// order, as `llama-gguf-split --split-max-size` splits: the first part carries
/// the metadata, every part the `split.*` keys.
pub fn split_writers<'a>(file: &GgufFile<'a>, max_bytes: u64) -> Result<Vec<GgufWriter<'a>>> {
    if split_count(&file.metadata)?.is_some() {
        return Err(Error::Split { why: "the file is a part of a split model already".into() });
    }
    let mut parts: Vec<Vec<usize>> = vec![Vec::new()];
    let mut part_bytes = 0;
    for (i, t) in file.tensors.iter().enumerate() {
        let part = parts.last_mut().expect("never empty");
        if !part.is_empty() && part_bytes + t.n_bytes > max_bytes {
            parts.push(Vec::new());
            part_bytes = 0;
        }
        parts.last_mut().expect("never empty").push(i);
        part_bytes += t.n_bytes;
    }
    let count = u16::try_from(parts.len())
        .map_err(|_| Error::Split { why: format!("{} parts, more than the format's 65535", parts.len()) })?;
    let n_tensors = i32::try_from(file.tensors.len())
        .map_err(|_| Error::Split { why: format!("{} tensors, more than the format's i32", file.tensors.len()) })?;
    let alignment = u32::try_from(file.alignment).map_err(|_| Error::BadAlignment { found: file.alignment })?;
    let mut writers = Vec::with_capacity(parts.len());
    for (no, part) in parts.iter().enumerate() {
        let mut w = GgufWriter::new();
        if file.alignment != DEFAULT_ALIGNMENT {
            w = w.alignment(alignment)?;
        }
        if no == 0 {
            for (key, value) in file.metadata.iter().filter(|(k, _)| *k != ALIGNMENT_KEY) {
                w.add(key, value.to_value())?;
            }
        }
        w.add(SPLIT_NO_KEY, Value::U16(no as u16))?;
        w.add(SPLIT_COUNT_KEY, Value::U16(count))?;
        w.add(SPLIT_TENSORS_KEY, Value::I32(n_tensors))?;
        for &i in part {
            let t = &file.tensors[i];
            w.add_tensor(t.name, t.ggml_type, &t.dims, file.tensor_data(t))?;
        }
        writers.push(w);
    }
    Ok(writers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names_round_trip() {
        assert_eq!(split_path("m/llama", 1, 3), "m/llama-00002-of-00003.gguf");
        assert_eq!(parse_split_path("m/llama-00002-of-00003.gguf"), Some(("m/llama", 1, 3)));
        assert_eq!(parse_split_path("a-b-00001-of-00001.gguf"), Some(("a-b", 0, 1)));
        for not_split in
            ["llama.gguf", "x-00004-of-00003.gguf", "x-00000-of-00003.gguf", "x-1-of-2.gguf", "x-00001-of-00002.bin"]
        {
            assert_eq!(parse_split_path(not_split), None, "{not_split}");
        }
    }

    fn model(n: usize) -> Vec<u8> {
        let mut w = GgufWriter::new();
        w.add("general.architecture", Value::Str("llama".into())).unwrap();
        for i in 0..n {
            w.add_tensor(&format!("t{i}"), crate::GgmlType::F32, &[16 + i as u64], vec![i as u8; 4 * (16 + i)])
                .unwrap();
        }
        w.to_bytes()
    }

    fn parts(bytes: &[u8], max: u64) -> Vec<Vec<u8>> {
        let file = GgufFile::parse(bytes).unwrap();
        split_writers(&file, max).unwrap().iter().map(|w| w.to_bytes()).collect()
    }

    fn merge(parts: &[Vec<u8>]) -> Result<GgufFile<'_>> {
        let files = parts.iter().enumerate().map(|(i, p)| (format!("p{i}"), GgufFile::parse(p).unwrap())).collect();
        merge_splits(files)
    }

    #[test]
    fn a_split_model_merges_back_to_the_same_tensors() {
        let bytes = model(5);
        let whole = GgufFile::parse(&bytes).unwrap();
        for (max, n_parts) in [(1, 5), (150, 3), (1 << 20, 1)] {
            let parts = parts(&bytes, max);
            assert_eq!(parts.len(), n_parts, "max {max}");
            let merged = merge(&parts).unwrap();
            // Offsets are each part's own.
            let shape = |f: &GgufFile<'_>| {
                f.tensors.iter().map(|t| (t.name.to_string(), t.ggml_type, t.dims.clone())).collect::<Vec<_>>()
            };
            assert_eq!(shape(&merged), shape(&whole));
            assert_eq!(merged.metadata.get_str("general.architecture").unwrap(), "llama");
            assert_eq!(merged.file_len, parts.iter().map(|p| p.len() as u64).sum::<u64>());
            for t in &whole.tensors {
                assert_eq!(merged.tensor_data(t), whole.tensor_data(t));
            }
        }
        assert_eq!(merge(std::slice::from_ref(&bytes)).unwrap().tensors, whole.tensors, "a file that is not split");
    }

    #[test]
    fn parts_missing_out_of_order_or_inconsistent_are_errors_naming_the_file() {
        let bytes = model(3);
        let p = parts(&bytes, 1);
        let e = merge(&p[..2]).unwrap_err().to_string();
        assert_eq!(e, "p0: split model: `split.count` says the model has 3 files; the load has 2");
        let e = merge(&[p[0].clone(), p[2].clone(), p[1].clone()]).unwrap_err().to_string();
        assert_eq!(e, "p1: split model: `split.no` is 2, expected 1 (file 2 of 3)");
        let again = split_writers(&merge(&p).unwrap(), 1).unwrap_err().to_string();
        assert!(again.contains("a part of a split model already"), "{again}");
        // A part of another split of the same model: the tensor counts disagree.
        let other = parts(&model(4), 1);
        let e = merge(&[p[0].clone(), p[1].clone(), other[2].clone()]).unwrap_err().to_string();
        assert!(e.starts_with("p2: split model: `split.count` is 4, expected 3"), "{e}");
    }
}
