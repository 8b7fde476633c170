//! Reading a text input (a prompt, a perplexity corpus) with a size cap, so
//! `-f /dev/zero` or a runaway file ends in a clear error instead of
//! exhausting memory. Pipes (`-f /dev/stdin`) stay allowed: they are read up
//! to the same cap.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// The largest text file read: far beyond any context window (a 64 MiB text
/// is ~16M tokens), small enough to hold in memory anywhere.
pub const MAX_TEXT_BYTES: u64 = 64 << 20;

/// The file's text (UTF-8), or an error naming `what` and the path.
pub fn read_text(path: &Path, what: &str) -> Result<String> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    if meta.is_dir() {
        bail!("{what} {} is a directory, not a file", path.display());
    }
    if meta.is_file() && meta.len() > MAX_TEXT_BYTES {
        bail!("{what} {} is {} MiB; at most {} MiB is read", path.display(), meta.len() >> 20, MAX_TEXT_BYTES >> 20);
    }
    let file = File::open(path).with_context(|| format!("cannot open {what} {}", path.display()))?;
    let mut bytes = Vec::new();
    // One byte past the cap tells a device or pipe that never ends from one that fits.
    file.take(MAX_TEXT_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() as u64 > MAX_TEXT_BYTES {
        bail!("{what} {} holds more than {} MiB (a device or an endless pipe?)", path.display(), MAX_TEXT_BYTES >> 20);
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{what} {} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}
