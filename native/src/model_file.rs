//! Getting a model file's bytes: a read-only memory map by default (zero-copy,
//! pages load on demand), or one read into memory with `--no-mmap`. A split
//! model (`name-00001-of-00003.gguf`, as llama-gguf-split writes it) is given
//! by its first file; the others are opened beside it.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fuselm_core::gguf::split::{merge_splits, parse_split_path, split_path};
use fuselm_core::gguf::GgufFile;
use memmap2::Mmap;

enum Storage {
    Mapped(Mmap),
    Read(Vec<u8>),
}

pub struct ModelFile {
    pub path: PathBuf,
    /// The file, or every file of a split model in order.
    parts: Vec<(PathBuf, Storage)>,
}

impl ModelFile {
    pub fn open(path: &Path, use_mmap: bool) -> Result<ModelFile> {
        let split = path.to_str().and_then(parse_split_path);
        let paths = match split {
            None => vec![path.to_path_buf()],
            Some((prefix, 0, count)) => (0..count).map(|i| PathBuf::from(split_path(prefix, i, count))).collect(),
            Some((prefix, index, count)) => bail!(
                "{} is file {} of {count} of a split model: give the first, {}",
                path.display(),
                index + 1,
                split_path(prefix, 0, count)
            ),
        };
        let parts =
            paths.into_iter().map(|p| Ok((p.clone(), open_storage(&p, use_mmap)?))).collect::<Result<Vec<_>>>()?;
        Ok(ModelFile { path: path.to_path_buf(), parts })
    }
}

fn open_storage(path: &Path, use_mmap: bool) -> Result<Storage> {
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
    Ok(storage)
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

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mapped(m) => m,
            Storage::Read(v) => v,
        }
    }
}

impl ModelFile {
    /// The parsed model: the file, or the files of a split model as one.
    /// Errors name the file they are about.
    pub fn parse(&self) -> Result<GgufFile<'_>> {
        let files = self
            .parts
            .iter()
            .map(|(path, storage)| {
                let name = path.display().to_string();
                let file = GgufFile::parse_named(&name, storage.bytes())?;
                Ok((name, file))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(merge_splits(files)?)
    }

    /// Drops the whole pages of `range` (a slice of one of the files' bytes)
    /// from a memory map; a no-op for a file read into memory.
    pub fn release_pages(&self, range: &[u8]) {
        #[cfg(not(unix))]
        let _ = range;
        #[cfg(unix)]
        self.release_mapped_pages(range);
    }

    #[cfg(unix)]
    fn release_mapped_pages(&self, range: &[u8]) {
        let (start, end) = (range.as_ptr() as usize, range.as_ptr() as usize + range.len());
        let holder = self.parts.iter().find_map(|(_, storage)| match storage {
            Storage::Mapped(map) => {
                let base = map.as_ptr() as usize;
                (start >= base && end <= base + map.len()).then_some((map, base))
            }
            Storage::Read(_) => None,
        });
        let Some((map, base)) = holder else { return };
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
