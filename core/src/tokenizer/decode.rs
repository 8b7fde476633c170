//! Turning token ids back into text, including streaming: bytes are held back
//! until they form complete UTF-8, and bytes that never can (byte tokens from a
//! small or random-weight model) become U+FFFD, never an error.

/// Accumulates token bytes and releases complete UTF-8 text.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    pending: Vec<u8>,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token's bytes and appends whatever text is now complete to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut String) {
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(text) => {
                    out.push_str(text);
                    start = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = start + e.valid_up_to();
                    // from_utf8 has just validated these bytes.
                    out.push_str(std::str::from_utf8(&self.pending[start..valid]).unwrap_or_default());
                    match e.error_len() {
                        // Not UTF-8 whatever follows: one replacement character, go on.
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            start = valid + bad;
                        }
                        // A character cut short: wait for the next token.
                        None => {
                            start = valid;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..start);
    }

    /// Ends the stream: an unfinished character becomes U+FFFD.
    pub fn finish(&mut self, out: &mut String) {
        if !self.pending.is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
            self.pending.clear();
        }
    }

    /// Whether bytes are being held back.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(chunks: &[&[u8]]) -> Vec<String> {
        let mut d = StreamDecoder::new();
        let mut outs = Vec::new();
        for c in chunks {
            let mut s = String::new();
            d.push(c, &mut s);
            outs.push(s);
        }
        let mut s = String::new();
        d.finish(&mut s);
        outs.push(s);
        outs
    }

    #[test]
    fn characters_split_across_tokens_are_held_back_whole() {
        let llama = "🦙".as_bytes();
        assert_eq!(stream(&[b"a", &llama[..1], &llama[1..3], &llama[3..], b"b"]), ["a", "", "", "🦙", "b", ""]);
    }

    #[test]
    fn invalid_bytes_become_replacement_characters_without_stopping() {
        assert_eq!(stream(&[b"x\xff", b"y"]), ["x\u{FFFD}", "y", ""]);
        assert_eq!(stream(&[b"\xe2\x82", b"z"]), ["", "\u{FFFD}z", ""]);
        assert_eq!(stream(&[b"\xf0\x9f"]), ["", "\u{FFFD}"]);
    }
}
