//! `fuselm split`: one model file into several, as `llama-gguf-split
//! --split-max-size` writes them (`<prefix>-00001-of-0000N.gguf`), for hosts
//! that cannot take one large file (a browser holds at most 2 GiB in one
//! allocation; some hosting sites cap file sizes). Every fuselm command and
//! llama.cpp load such a model from its first file.

use std::path::PathBuf;

use anyhow::{bail, Result};
use fuselm_core::gguf::split::{split_path, split_writers};

use crate::gguf_output::write_gguf;
use crate::model_file::ModelFile;

#[derive(clap::Args)]
pub struct SplitArgs {
    /// The GGUF file to split.
    pub model: PathBuf,
    /// Most bytes of tensor data per file: a number with an optional K, M or G
    /// suffix (powers of 1024); a larger tensor gets a file of its own.
    #[arg(long = "max-size")]
    pub max_size: String,
    /// Path prefix of the files written: `<prefix>-00001-of-0000N.gguf`.
    #[arg(short = 'o', long = "output")]
    pub output: String,
}

pub fn run(args: &SplitArgs) -> Result<()> {
    let max_bytes = parse_size(&args.max_size)?;
    let file = ModelFile::open(&args.model, true)?;
    let gguf = file.parse()?;
    let writers = split_writers(&gguf, max_bytes).map_err(|e| e.in_file(file.display_name()))?;
    let count = writers.len();
    for (i, writer) in writers.iter().enumerate() {
        let path = PathBuf::from(split_path(&args.output, i, count));
        write_gguf(writer, &path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `1G`, `500M`, `4096`: bytes, with K/M/G as powers of 1024.
fn parse_size(text: &str) -> Result<u64> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let unit = match unit.to_ascii_uppercase().as_str() {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => bail!("--max-size {text}: expected a number of bytes with an optional K, M or G suffix"),
    };
    match digits.parse::<u64>().ok().and_then(|n| n.checked_mul(unit)) {
        Some(n) if n > 0 => Ok(n),
        _ => bail!("--max-size {text}: expected a positive number of bytes with an optional K, M or G suffix"),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("2k").unwrap(), 2048);
        assert_eq!(parse_size("500M").unwrap(), 500 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        for bad in ["", "0", "G", "1T", "1.5G", "-1", "99999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
