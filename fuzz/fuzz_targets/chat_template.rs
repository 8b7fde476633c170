//! The chat-template renderer on arbitrary templates and messages (a model
//! file's template is untrusted): an error or text, never a panic or a hang
//! (the renderer has a fuel limit that also bounds memory, an output cap and
//! size checks on joined, serialised, printed and assigned values).
//!
//! Templates with `*` (lazily repeated lists) are in: minijinja 3 meters
//! the walks over them, and core/src/chat/ bounds the rest (see
//! docs/reliability.md).
#![no_main]

use fuselm_core::chat::{ChatMessage, ChatTemplate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The template, then messages separated by NUL: role, content, role, ...
    let mut parts = text.split('\0');
    let source = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let messages: Vec<ChatMessage> = rest.chunks(2).map(|c| ChatMessage::new(c[0], c.get(1).unwrap_or(&""))).collect();
    let Ok(template) = ChatTemplate::new(source, "<s>", "</s>") else { return };
    let _ = template.render(&messages, true);
    let _ = template.render(&messages, false);
});
