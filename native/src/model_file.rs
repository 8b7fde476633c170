//! Getting a model file's bytes: a read-only memory map by default (zero-copy,
//! pages load on demand), or one read into memory with `--no-mmap`.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use memmap2::Mmap;

enum Storage {
    Mapped(Mmap),
    Read(Vec<u8>),
}

pub struct ModelFile {
    pub path: PathBuf,
    storage: Storage,
}

impl ModelFile {
    pub fn open(path: &Path, use_mmap: bool) -> Result<ModelFile> {
        // Checked before opening: opening a FIFO blocks until a writer comes,
        // and a device such as /dev/zero would be read until memory runs out.
        let kind = std::fs::metadata(path).with_context(|| format!("cannot open model file {}", path.display()))?;
        if !kind.is_file() {
            let what = if kind.is_dir() { "a directory" } else { "not a regular file (a device, pipe or socket)" };
            bail!("model file {} is {what}; a model must be a GGUF file", path.display());
        }
        let file = File::open(path).with_context(|| format!("cannot open model file {}", path.display()))?;
        let len = file.metadata().with_context(|| format!("cannot stat {}", path.display()))?.len();
        // Mapping an empty file fails on Linux; an empty buffer gives the reader's
        // clearer "truncated" error instead.
        let storage = if use_mmap && len > 0 {
            // SAFETY: the map is read-only; like every mmap-based loader we assume the
            // file is not truncated by another process while we run.
            Storage::Mapped(unsafe { Mmap::map(&file) }.with_context(|| format!("cannot map {}", path.display()))?)
        } else {
            Storage::Read(read_with_progress(file, len).with_context(|| format!("cannot read {}", path.display()))?)
        };
        Ok(ModelFile { path: path.to_path_buf(), storage })
    }
}

/// Reads the whole file, showing a progress line when stderr is a terminal
/// (multi-GB models take seconds to read; a map needs no wait).
fn read_with_progress(mut file: File, len: u64) -> std::io::Result<Vec<u8>> {
    let show = std::io::stderr().is_terminal() && len > 64 << 20;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(len as usize).map_err(|_| std::io::Error::other(format!("cannot allocate {len} bytes")))?;
    let mut chunk = vec![0u8; 16 << 20];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        if show {
            eprint!("\rloading {:>5.1}% of {} MiB", 100.0 * bytes.len() as f64 / len as f64, len >> 20);
        }
    }
    if show {
        eprintln!();
    }
    Ok(bytes)
}

impl ModelFile {
    pub fn bytes(&self) -> &[u8] {
        match &self.storage {
            Storage::Mapped(m) => m,
            Storage::Read(v) => v,
        }
    }

    /// Drops the whole pages of `range` (a slice of [`bytes`](Self::bytes))
    /// from a memory map; a no-op for a file read into memory.
    pub fn release_pages(&self, range: &[u8]) {
        #[cfg(not(unix))]
        let _ = range;
        #[cfg(unix)]
        self.release_mapped_pages(range);
    }

    #[cfg(unix)]
    fn release_mapped_pages(&self, range: &[u8]) {
        let Storage::Mapped(map) = &self.storage else { return };
        let base = map.as_ptr() as usize;
        let (start, end) = (range.as_ptr() as usize, range.as_ptr() as usize + range.len());
        if start < base || end > base + map.len() {
            return;
        }
        // SAFETY: sysconf only reads a system constant.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            size if size > 0 => size as usize,
            _ => return,
        };
        let (first, last) = ((start - base).next_multiple_of(page), (end - base) / page * page);
        if last > first {
            // SAFETY: a read-only file map: dropped pages read back from the
            // file on a later access, so no reference into the map is invalidated.
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, first, last - first) };
        }
    }

    /// The name errors are reported under.
    pub fn display_name(&self) -> String {
        self.path.display().to_string()
    }
}
