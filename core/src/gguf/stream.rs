//! A file received in chunks (a download, a file read piece by piece) into
//! segments cut between tensors, so no allocation is larger than the largest
//! tensor plus its neighbours: in wasm32 one allocation is at most 2 GiB - 1,
//! and a 7B model at 2-3 bits is 2.5-3 GB.
//!
//! The first bytes are gathered until the header parses; then the file's
//! segments are planned from the tensors' ranges (each at most
//! `max_segment` bytes unless one tensor is larger), all of them reserved at
//! once (so a file that cannot fit fails before the rest is downloaded), and
//! the gathered bytes and every later chunk copied into place.

use super::file::{GgufFile, Segment};
use crate::error::{Error, Result};

/// Segments of at most this many bytes (unless one tensor is larger): small
/// enough that a fragmented wasm heap still finds room, large enough that a
/// model has a few dozen.
pub const DEFAULT_MAX_SEGMENT: u64 = 256 << 20;

/// A header that does not end within this many bytes is refused (the largest
/// vocabularies take ~20 MB).
pub const MAX_HEADER_BYTES: u64 = 256 << 20;

/// The gathered header is parsed at the first chunk, then once at least this
/// many bytes have come, then at every doubling (or at the end of the file):
/// linear work in all for a header of any size.
const SECOND_HEADER_ATTEMPT: usize = 64 << 10;

/// A file being received.
#[derive(Debug)]
pub struct StreamedFile {
    name: String,
    file_len: u64,
    max_segment: u64,
    received: u64,
    state: State,
}

#[derive(Debug)]
enum State {
    /// The first bytes, until the header parses.
    Header { head: Vec<u8>, next_attempt: usize },
    /// Segments in file order, `(offset, bytes so far)`; `current` is being filled.
    Body { segments: Vec<(u64, Vec<u8>)>, current: usize },
}

/// A whole file held in segments.
#[derive(Debug)]
pub struct SegmentedFile {
    pub name: String,
    pub file_len: u64,
    /// `(offset, bytes)` in file order.
    segments: Vec<(u64, Vec<u8>)>,
}

impl StreamedFile {
    /// Starts receiving `name`, `file_len` bytes long.
    pub fn new(name: &str, file_len: u64, max_segment: u64) -> StreamedFile {
        let state = State::Header { head: Vec::new(), next_attempt: 0 };
        StreamedFile { name: name.to_string(), file_len, max_segment: max_segment.max(1), received: 0, state }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The announced size.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Takes the next `n` bytes of the file: `fill(from, dst)` copies the
    /// chunk's bytes `from..from + dst.len()` into `dst` (a host copies from its
    /// own buffer without an intermediate one). Errors name the file.
    pub fn receive(&mut self, n: usize, mut fill: impl FnMut(usize, &mut [u8])) -> Result<()> {
        if self.received + n as u64 > self.file_len {
            let why = format!("more bytes arrived than the announced size of {}", self.file_len);
            return Err(Error::Stream { why }.in_file(&self.name));
        }
        self.received += n as u64;
        match &mut self.state {
            State::Header { head, next_attempt } => {
                let start = head.len();
                if head.try_reserve(n).is_err() {
                    return Err(out_of_memory(&self.name, start as u64, (start + n) as u64));
                }
                head.resize(start + n, 0);
                fill(0, &mut head[start..]);
                if head.len() >= *next_attempt || self.received == self.file_len {
                    *next_attempt = head.len().saturating_mul(2).max(SECOND_HEADER_ATTEMPT);
                    self.try_header()?;
                }
                Ok(())
            }
            State::Body { segments, current } => {
                copy_into(segments, current, n, 0, &mut fill);
                Ok(())
            }
        }
    }

    /// [`receive`](Self::receive) from a slice.
    pub fn push(&mut self, chunk: &[u8]) -> Result<()> {
        self.receive(chunk.len(), |from, dst| dst.copy_from_slice(&chunk[from..from + dst.len()]))
    }

    /// Parses the gathered header; once it parses, reserves the segments and
    /// moves the gathered bytes into them.
    fn try_header(&mut self) -> Result<()> {
        let State::Header { head, .. } = &self.state else { return Ok(()) };
        let ranges = match GgufFile::tensor_ranges(head, self.file_len) {
            Ok(ranges) => ranges,
            // Not all of the header yet.
            Err(Error::Truncated { .. } | Error::CountTooLarge { .. })
                if (head.len() as u64) < self.file_len.min(MAX_HEADER_BYTES) =>
            {
                return Ok(())
            }
            Err(e @ (Error::Truncated { .. } | Error::CountTooLarge { .. })) if (head.len() as u64) < self.file_len => {
                let why = e.to_string();
                return Err(Error::HeaderTooLarge { limit: MAX_HEADER_BYTES, why }.in_file(&self.name));
            }
            Err(e) => return Err(e.in_file(&self.name)),
        };
        let plan = plan_segments(&ranges, self.file_len, self.max_segment);
        let mut segments = Vec::with_capacity(plan.len());
        for &(start, end) in &plan {
            let mut bytes = Vec::new();
            usize::try_from(end - start)
                .ok()
                .and_then(|len| bytes.try_reserve_exact(len).ok())
                .ok_or_else(|| out_of_memory(&self.name, start, end))?;
            segments.push((start, bytes));
        }
        let State::Header { head, .. } = std::mem::replace(&mut self.state, State::Body { segments, current: 0 })
        else {
            unreachable!("checked above")
        };
        let State::Body { segments, current } = &mut self.state else { unreachable!("just set") };
        copy_into(segments, current, head.len(), 0, &mut |from, dst: &mut [u8]| {
            dst.copy_from_slice(&head[from..from + dst.len()])
        });
        Ok(())
    }

    /// The whole file, once every byte has arrived.
    pub fn finish(mut self) -> Result<SegmentedFile> {
        if self.received != self.file_len {
            let why = format!("file is truncated: received {} of {} bytes", self.received, self.file_len);
            return Err(Error::Stream { why }.in_file(&self.name));
        }
        // Only an empty file gets here without a parse attempt; with every
        // byte in hand, this one either parses or fails.
        self.try_header()?;
        let State::Body { segments, .. } = self.state else { unreachable!("the header parsed") };
        Ok(SegmentedFile { name: self.name, file_len: self.file_len, segments })
    }
}

fn out_of_memory(name: &str, start: u64, end: u64) -> Error {
    Error::OutOfMemory { what: format!("file bytes [{start}, {end})"), bytes: end - start }.in_file(name)
}

/// Appends `n` bytes (`fill`'s from `from` on) to the segments from
/// `current` on, moving to the next segment when one is full.
fn copy_into(
    segments: &mut [(u64, Vec<u8>)],
    current: &mut usize,
    n: usize,
    mut from: usize,
    fill: &mut impl FnMut(usize, &mut [u8]),
) {
    let mut left = n;
    while left > 0 {
        let bytes = &mut segments[*current].1;
        let room = bytes.capacity() - bytes.len();
        if room == 0 {
            *current += 1;
            continue;
        }
        let take = room.min(left);
        let start = bytes.len();
        // Within the capacity reserved: no reallocation.
        bytes.resize(start + take, 0);
        fill(from, &mut bytes[start..]);
        from += take;
        left -= take;
    }
}

/// `[start, end)` file ranges covering `0..file_len`, cut only where a tensor
/// starts, each at most `max` bytes unless a single tensor is larger.
/// `tensors`: each tensor's `[start, end)`.
pub fn plan_segments(tensors: &[(u64, u64)], file_len: u64, max: u64) -> Vec<(u64, u64)> {
    let mut sorted = tensors.to_vec();
    sorted.sort_unstable();
    let mut plan = Vec::new();
    let mut segment_start = 0;
    for &(start, end) in &sorted {
        if start > segment_start && end - segment_start > max {
            plan.push((segment_start, start));
            segment_start = start;
        }
    }
    plan.push((segment_start, file_len));
    plan
}

impl SegmentedFile {
    /// The segments, for [`GgufFile::parse_segments`].
    pub fn segments(&self) -> Vec<Segment<'_>> {
        self.segments.iter().map(|(offset, bytes)| Segment { offset: *offset, bytes }).collect()
    }

    /// The parsed file; errors name it.
    pub fn parse(&self) -> Result<GgufFile<'_>> {
        GgufFile::parse_segments(&self.segments(), self.file_len).map_err(|e| e.in_file(&self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{GgufWriter, Value};
    use crate::GgmlType;

    /// A file of tensors of `sizes` f32 values each, values counting up.
    fn file(sizes: &[usize]) -> Vec<u8> {
        let mut w = GgufWriter::new();
        w.add("general.architecture", Value::Str("llama".into())).unwrap();
        let mut next = 0f32;
        for (i, &n) in sizes.iter().enumerate() {
            let values: Vec<u8> = (0..n)
                .flat_map(|_| {
                    next += 1.0;
                    next.to_le_bytes()
                })
                .collect();
            w.add_tensor(&format!("t{i}"), GgmlType::F32, &[n as u64], values).unwrap();
        }
        w.to_bytes()
    }

    fn stream(bytes: &[u8], chunk: usize, max_segment: u64) -> Result<SegmentedFile> {
        let mut s = StreamedFile::new("m.gguf", bytes.len() as u64, max_segment);
        for c in bytes.chunks(chunk) {
            s.push(c)?;
        }
        s.finish()
    }

    #[test]
    fn a_file_streamed_in_segments_parses_as_the_whole_file() {
        let bytes = file(&[300, 1000, 10, 0, 4000, 50]);
        let whole = GgufFile::parse(&bytes).unwrap();
        for chunk in [1, 7, 4096, bytes.len()] {
            for max in [1, 1000, 4100, 1 << 30] {
                let seg = stream(&bytes, chunk, max).unwrap();
                let parsed = seg.parse().unwrap();
                assert_eq!(parsed.tensors, whole.tensors);
                for t in &whole.tensors {
                    assert_eq!(parsed.tensor_data(t), whole.tensor_data(t), "{} chunk {chunk} max {max}", t.name);
                }
                let n = seg.segments().len();
                let expected = if max == 1 {
                    6
                } else if max >= bytes.len() as u64 {
                    1
                } else {
                    n
                };
                assert_eq!(n, expected, "chunk {chunk} max {max}");
                assert!(seg.segments().iter().all(|s| s.bytes.len() as u64 <= max.max(16_000 + 512)));
            }
        }
    }

    #[test]
    fn segments_are_cut_between_tensors_within_the_limit() {
        // Tensors at [100, 200), [200, 700), [704, 710), file of 800 bytes.
        let tensors = [(200, 700), (100, 200), (704, 710)];
        assert_eq!(plan_segments(&tensors, 800, 1000), vec![(0, 800)]);
        assert_eq!(plan_segments(&tensors, 800, 250), vec![(0, 200), (200, 704), (704, 800)]);
        assert_eq!(plan_segments(&tensors, 800, 710), vec![(0, 800)]);
        assert_eq!(plan_segments(&[], 40, 10), vec![(0, 40)]);
    }

    #[test]
    fn wrong_lengths_and_bad_headers_are_errors_naming_the_file() {
        let bytes = file(&[64]);
        let mut s = StreamedFile::new("m.gguf", 10, DEFAULT_MAX_SEGMENT);
        let e = s.push(&bytes[..11]).unwrap_err().to_string();
        assert!(e.contains("m.gguf: more bytes arrived than the announced size of 10"), "{e}");
        let mut s = StreamedFile::new("m.gguf", bytes.len() as u64, DEFAULT_MAX_SEGMENT);
        s.push(&bytes[..40]).unwrap();
        let e = s.finish().unwrap_err().to_string();
        assert!(e.contains(&format!("m.gguf: file is truncated: received 40 of {} bytes", bytes.len())), "{e}");
        let mut bad = bytes.clone();
        bad[..4].copy_from_slice(b"GGML");
        let e = stream(&bad, 5, DEFAULT_MAX_SEGMENT).unwrap_err().to_string();
        assert!(e.contains("m.gguf: not a GGUF file"), "{e}");
        let e = stream(&[], 5, DEFAULT_MAX_SEGMENT).unwrap_err().to_string();
        assert!(e.contains("m.gguf") && e.contains("truncated"), "{e}");
    }
}
