//! Arguments from JavaScript, checked. wasm-bindgen's glue for `&str`,
//! `String`, `&[u8]` and `Vec<usize>` parameters reads `.length` of whatever
//! it is given: a number or a plain object there makes it write outside the
//! buffer it reserved, and the instance traps (found by
//! tests/web/worker-fuzz.mjs: `beginLoad(0, 397)`). Exported functions take
//! such arguments as `JsValue` and convert them here, so a wrong type is a
//! JS `Error` naming the argument (code `BAD_ARGUMENT`) and the engine stays
//! usable.

use js_sys::{Array, Uint32Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use crate::host::coded_error;

/// `value` as a string.
pub fn text(value: &JsValue, what: &str) -> Result<String, JsValue> {
    value.as_string().ok_or_else(|| wrong_type(value, what, "a string"))
}

/// `value` as bytes (a `Uint8Array`), still in JavaScript memory.
pub fn bytes(value: &JsValue, what: &str) -> Result<Uint8Array, JsValue> {
    value.dyn_ref::<Uint8Array>().cloned().ok_or_else(|| wrong_type(value, what, "a Uint8Array"))
}

/// `value` as a list of whole numbers from 0 to 2^32 - 1 (a `Uint32Array`
/// or an array), with at most `max_items` items (checked before anything is
/// copied).
pub fn counts(value: &JsValue, what: &str, max_items: u32) -> Result<Vec<u32>, JsValue> {
    let length = value
        .dyn_ref::<Uint32Array>()
        .map(Uint32Array::length)
        .or_else(|| Array::is_array(value).then(|| Array::from(value).length()));
    if let Some(n) = length.filter(|&n| n > max_items) {
        return Err(coded_error(format!("{what}: at most {max_items} items, not {n}"), "BAD_ARGUMENT"));
    }
    if let Some(typed) = value.dyn_ref::<Uint32Array>() {
        return Ok(typed.to_vec());
    }
    if !Array::is_array(value) {
        return Err(wrong_type(value, what, "a Uint32Array or an array of whole numbers"));
    }
    Array::from(value)
        .iter()
        .map(|item| match item.as_f64() {
            Some(n) if n >= 0.0 && n <= u32::MAX as f64 && n.fract() == 0.0 => Ok(n as u32),
            _ => Err(coded_error(
                format!("{what}: every item must be a whole number from 0 to 2^32 - 1, not {item:?}"),
                "BAD_ARGUMENT",
            )),
        })
        .collect()
}

fn wrong_type(value: &JsValue, what: &str, expected: &str) -> JsValue {
    let found = if value.is_null() { "null".to_string() } else { value.js_typeof().as_string().unwrap_or_default() };
    coded_error(format!("{what} must be {expected}, not {found}"), "BAD_ARGUMENT")
}
