//! What the crate shares with its JS host: the panic hook and the last panic's
//! message, the clock, which build this is, and errors as JS `Error`s. It
//! imports nothing from the other modules.

use std::sync::Mutex;

use wasm_bindgen::prelude::*;

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

#[wasm_bindgen]
extern "C" {
    /// `performance.now()` in milliseconds: present in windows, workers and Node.js.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

fn clock_seconds() -> f64 {
    performance_now() / 1e3
}

#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
        console_error_panic_hook::hook(info);
    }));
    fuselm_core::clock::set_clock(clock_seconds);
}

/// The message of the last panic (a bug in fuselm), if one happened; the
/// worker turns the trap that follows a panic into an error carrying it.
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|last| last.clone())
}

/// Which build this is: `threads`, `simd` or `scalar`.
#[wasm_bindgen(js_name = buildName)]
pub fn build_name() -> String {
    if cfg!(feature = "threads") {
        "threads"
    } else if cfg!(target_feature = "simd128") {
        "simd"
    } else {
        "scalar"
    }
    .to_string()
}

pub(crate) fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}
