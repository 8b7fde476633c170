//! What the crate shares with its JS host: the panic hook and the last panic's
//! message, the clock, which build this is, and errors as JS `Error`s with a
//! `code`. It
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

/// The instance's linear memory in bytes: it never shrinks, so this is its
/// peak (0 off wasm, where the crate is only compiled for its tests).
pub fn memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) as u64) << 16
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

/// Which build this is: `threads-relaxed`, `threads`, `relaxed`, `simd`,
/// `webgpu` or `scalar`.
#[wasm_bindgen(js_name = buildName)]
pub fn build_name() -> String {
    let relaxed = cfg!(target_feature = "relaxed-simd");
    if cfg!(feature = "webgpu") {
        "webgpu"
    } else if cfg!(feature = "threads") {
        if relaxed {
            "threads-relaxed"
        } else {
            "threads"
        }
    } else if relaxed {
        "relaxed"
    } else if cfg!(target_feature = "simd128") {
        "simd"
    } else {
        "scalar"
    }
    .to_string()
}

/// An `Error` for JavaScript whose `code` says what kind of failure it is:
/// the core's codes ([`fuselm_core::Error::code`]: `BAD_FILE`,
/// `UNSUPPORTED_MODEL`, `BAD_OPTION`, `CONTEXT_FULL`, `OUT_OF_MEMORY`,
/// `NON_FINITE_LOGITS`, `CHAT_TEMPLATE`) and the engine's own:
/// `BAD_ARGUMENT` (a JS argument of the wrong type or size), `NO_MODEL`,
/// `BAD_STATE` (calls out of order), `MODEL_TOO_LARGE` (a file that cannot
/// fit in wasm32), `INTERNAL` (a bug).
pub(crate) fn coded_error(message: impl std::fmt::Display, code: &str) -> JsValue {
    let error = js_sys::Error::new(&message.to_string());
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}

/// A core error for JavaScript, with its code.
pub(crate) fn core_error(e: fuselm_core::Error) -> JsValue {
    coded_error(&e, e.code())
}

/// An error that would be a bug (serialising our own structs).
pub(crate) fn internal_error(e: impl std::fmt::Display) -> JsValue {
    coded_error(e, "INTERNAL")
}
