//! What the native host does for the core's memory: transparent huge pages
//! for the interleaved weight copies (`fuselm_core::memory_advice`), and
//! giving back the mapped file pages those copies replace, so that resident
//! memory stays at the file's size, not file plus copies.

use fuselm_core::model::Model;

use crate::model_file::ModelFile;

/// Installs the huge-page advice (Linux; elsewhere nothing). Once per process.
pub fn install() {
    #[cfg(target_os = "linux")]
    fuselm_core::memory_advice::set_large_buffer_advice(|buffer| {
        const HUGE: usize = 2 << 20;
        let start = (buffer.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (buffer.as_ptr() as usize + buffer.len()) / HUGE * HUGE;
        if end > start {
            // SAFETY: [start, end) lies inside `buffer`, which we hold mutably;
            // MADV_HUGEPAGE changes how its pages are backed, not their contents.
            // A refusal (THP disabled) only leaves 4 KiB pages.
            let _ = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    });
}

/// Drops the mapped pages of every tensor `model` holds an interleaved copy
/// of: it reads only the copy from now on. Only for a memory map (the file's
/// pages come back from the page cache if anything touches them again); a
/// file read into memory (`--no-mmap`) keeps both.
pub fn release_copied_tensors(file: &ModelFile, model: &Model<'_>) {
    for m in model.weights.matrices() {
        if let Some(source) = m.interleaved_source() {
            file.release_pages(source);
        }
    }
}
