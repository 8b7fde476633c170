//! The GGUF reader on arbitrary bytes: an error or a file whose every part
//! can be read back, never a panic or an allocation the bytes cannot justify.
#![no_main]

use fuselm_core::gguf::{GgufFile, MetaValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::parse_named("fuzz.gguf", data) else { return };
    for (key, value) in file.metadata.iter() {
        let _ = key.len();
        if let MetaValue::Array(a) = value {
            for item in a.iter().take(64) {
                let _ = item.as_integer();
            }
        }
    }
    for t in &file.tensors {
        let bytes = file.tensor_data(t);
        assert_eq!(bytes.len() as u64, t.n_bytes);
    }
});
