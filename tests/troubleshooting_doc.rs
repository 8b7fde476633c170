//! docs/troubleshooting.md stays in step with the error messages in
//! core/src/error.rs: each message's longest literal part must appear in the
//! doc, so a new or reworded error fails here until the doc explains it.

mod common;

/// The format strings of `#[error("...")]` attributes (one or several lines).
fn error_messages(source: &str) -> Vec<String> {
    let mut messages = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("#[error(") {
        rest = &rest[at + "#[error(".len()..];
        let start = rest.find('"').unwrap() + 1;
        let mut end = start;
        let bytes = rest.as_bytes();
        while bytes[end] != b'"' || bytes[end - 1] == b'\\' {
            end += 1;
        }
        messages.push(rest[start..end].replace("\\\"", "\""));
        rest = &rest[end..];
    }
    messages
}

/// The longest piece of a message between `{placeholders}`.
fn longest_literal(message: &str) -> String {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for c in message.chars() {
        match c {
            '{' => {
                depth += 1;
                pieces.push(std::mem::take(&mut current));
            }
            '}' => depth -= 1,
            _ if depth == 0 => current.push(c),
            _ => {}
        }
    }
    pieces.push(current);
    pieces.into_iter().max_by_key(|p| p.trim().len()).unwrap().trim().to_string()
}

#[test]
fn every_error_message_is_explained_in_troubleshooting() {
    let root = common::repo_root();
    let source = std::fs::read_to_string(root.join("core/src/error.rs")).unwrap();
    let doc = std::fs::read_to_string(root.join("docs/troubleshooting.md")).unwrap();
    let messages = error_messages(&source);
    assert!(messages.len() >= 30, "found only {} messages", messages.len());
    let missing: Vec<String> = messages
        .iter()
        .map(|m| longest_literal(m))
        .filter(|literal| literal.len() >= 4 && !doc.contains(literal.as_str()))
        .collect();
    assert!(missing.is_empty(), "docs/troubleshooting.md does not explain: {missing:#?}");
}
