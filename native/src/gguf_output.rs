//! Writing a GGUF file without ever leaving half of one behind.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use fuselm_core::gguf::GgufWriter;

/// Writes `writer` to `path` through a temporary name and a rename: a failure
/// leaves nothing half-written.
pub fn write_gguf(writer: &GgufWriter<'_>, path: &Path) -> Result<()> {
    let tmp = path.with_extension("gguf.partial");
    let written = (|| {
        let file = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut out = BufWriter::new(file);
        writer
            .write_to(&mut out)
            .and_then(|_| out.flush())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        drop(out);
        std::fs::rename(&tmp, path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
