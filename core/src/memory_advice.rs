//! The installable advice for large buffers the core fills itself (the
//! interleaved weight copies, hundreds of MB). The core makes no system calls;
//! a host may install a function that advises the OS about a freshly
//! allocated, not yet written buffer: natively, transparent huge pages
//! (`madvise(MADV_HUGEPAGE)`), which decode needs to stream such a copy at
//! memory speed (TinyLlama-1.1B Q4_K_M tg64, one thread, same run: 24-32 t/s
//! on 4 KiB pages, 35-36 t/s on huge pages). Without one, nothing is advised.

use std::sync::OnceLock;

static ADVICE: OnceLock<fn(&mut [u8])> = OnceLock::new();

/// Installs the advice. The first installation wins.
pub fn set_large_buffer_advice(advice: fn(&mut [u8])) {
    let _ = ADVICE.set(advice);
}

/// Applies the installed advice to `buffer` (fresh and not yet written).
pub(crate) fn advise_large_buffer(buffer: &mut [u8]) {
    if let Some(advice) = ADVICE.get() {
        advice(buffer);
    }
}
