//! Streaming text with stop strings: text that could begin a stop string is
//! held back, so a stream never shows a stop string, even one split across tokens.

/// Holds back text that could be the start of a stop string, so the stream
/// never shows a stop string, even one split across tokens.
pub(crate) struct StopFilter {
    stops: Vec<String>,
    /// Everything released or held, minus any stop string.
    pub(crate) text: String,
    released: usize,
}

impl StopFilter {
    pub(crate) fn new(stops: Vec<String>) -> Self {
        StopFilter { stops, text: String::new(), released: 0 }
    }

    /// Adds text; returns what can be shown now and whether a stop string appeared.
    pub(crate) fn push(&mut self, piece: &str) -> (&str, bool) {
        let from = self.released;
        self.text.push_str(piece);
        // A stop string can start at most max_len - 1 bytes before the new text.
        let max_len = self.stops.iter().map(String::len).max().unwrap_or(0);
        let search_from = floor_char_boundary(&self.text, from.saturating_sub(max_len));
        let found = self
            .stops
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| self.text[search_from..].find(s.as_str()).map(|at| search_from + at))
            .min();
        if let Some(at) = found {
            self.text.truncate(at);
            self.released = self.text.len().max(from);
            return (&self.text[from.min(self.text.len())..], true);
        }
        // Hold back the longest tail that is a prefix of some stop string.
        let mut hold = 0;
        for s in &self.stops {
            for len in (1..s.len().min(self.text.len() + 1)).rev() {
                if s.is_char_boundary(len) && self.text.ends_with(&s[..len]) {
                    hold = hold.max(len);
                    break;
                }
            }
        }
        let end = (self.text.len() - hold).max(from);
        self.released = end;
        (&self.text[from..end], false)
    }

    /// Releases held text at the end of generation.
    pub(crate) fn finish(&mut self, piece: &str) {
        self.text.push_str(piece);
        self.released = self.text.len();
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut f = StopFilter::new(stops);
        let mut shown = String::new();
        for p in pieces {
            let (released, stopped) = f.push(p);
            shown.push_str(released);
            if stopped {
                return (shown, f.text, true);
            }
        }
        f.finish("");
        let rest = f.text[shown.len()..].to_string();
        shown.push_str(&rest);
        (shown, f.text, false)
    }

    #[test]
    fn stop_string_split_across_tokens_is_never_shown() {
        let (shown, text, stopped) = run(&["\nUser:"], &["Hello", "\nUs", "er:", " more"]);
        assert!(stopped);
        assert_eq!(shown, "Hello");
        assert_eq!(text, "Hello");
    }

    #[test]
    fn held_prefix_is_released_when_it_does_not_complete() {
        let (shown, _, stopped) = run(&["STOP"], &["a S", "T", "x", "b"]);
        assert!(!stopped);
        assert_eq!(shown, "a STxb");
    }

    #[test]
    fn stop_inside_one_piece_truncates_it() {
        let (shown, _, stopped) = run(&["END"], &["abcENDdef"]);
        assert!(stopped);
        assert_eq!(shown, "abc");
    }

    #[test]
    fn no_stops_release_everything_at_once() {
        let (shown, _, _) = run(&[], &["é", "ü"]);
        assert_eq!(shown, "éü");
    }
}
