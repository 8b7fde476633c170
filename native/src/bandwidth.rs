//! A memory-read bandwidth probe. `fuselm bench` runs it in the same process
//! as its decode tests, with the same threads, so decode speed can be stated
//! as a share of what this machine's memory delivers right now (machines are
//! shared and their bandwidth drifts; a figure from another run would not do).
//!
//! Written by hand: it is twenty lines, and a crate would measure something
//! else (copies, or a fixed thread count).

use rayon::prelude::*;

/// Bytes read per pass at least: far beyond a 32 MB last-level cache.
const MIN_PROBE_BYTES: usize = 512 << 20;

/// Bytes read per pass at most, whatever the cache.
const MAX_PROBE_BYTES: usize = 4 << 30;

/// Bytes read per pass: four times the largest cache the OS reports, so that
/// the passes stream from memory, not cache. A Xeon guest with a 480 MiB L3
/// held most of a 512 MiB buffer in its cache: the probe read ~14 GB/s on one
/// thread while decoding a 630 MB model streamed ~8, from memory.
fn probe_bytes() -> usize {
    largest_cache_bytes().map_or(MIN_PROBE_BYTES, |c| c.saturating_mul(4)).clamp(MIN_PROBE_BYTES, MAX_PROBE_BYTES)
}

/// The largest cache of CPU 0 in sysfs (Linux; `None` elsewhere or unreadable).
fn largest_cache_bytes() -> Option<usize> {
    let dir = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()?;
    dir.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("size")).ok())
        .filter_map(|size| parse_cache_size(size.trim()))
        .max()
}

/// sysfs cache sizes: `491520K`, `2048K`, `32M`, or plain bytes.
fn parse_cache_size(text: &str) -> Option<usize> {
    let (digits, unit) = match text.as_bytes().last()? {
        b'K' => (&text[..text.len() - 1], 1 << 10),
        b'M' => (&text[..text.len() - 1], 1 << 20),
        b'G' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(unit)
}

/// Passes per probe; the best counts (the others met a busy neighbour).
const PASSES: usize = 3;

/// Read bandwidth in GB/s with the threads of `pool`, each summing its own
/// contiguous share of a buffer, as decode streams its share of the weights.
pub fn read_gbs(pool: &rayon::ThreadPool) -> f64 {
    // Non-zero fill: every page is really mapped before the clock starts.
    let bytes = probe_bytes();
    let buf = vec![1u64; bytes / 8];
    let share = buf.len().div_ceil(pool.current_num_threads());
    let mut best = 0.0f64;
    for _ in 0..PASSES {
        let start = std::time::Instant::now();
        let sum: u64 = pool.install(|| buf.par_chunks(share).map(sum_lanes).reduce(|| 0, u64::wrapping_add));
        let seconds = start.elapsed().as_secs_f64();
        std::hint::black_box(sum);
        best = best.max(bytes as f64 / seconds / 1e9);
    }
    best
}

/// Sums `xs` in eight independent lanes, which the compiler keeps in vector
/// registers: the loop is bound by loads, not by an addition chain.
fn sum_lanes(xs: &[u64]) -> u64 {
    let mut lanes = [0u64; 8];
    let chunks = xs.chunks_exact(8);
    let tail: u64 = chunks.remainder().iter().fold(0, |a, &x| a.wrapping_add(x));
    for c in chunks {
        for i in 0..8 {
            lanes[i] = lanes[i].wrapping_add(c[i]);
        }
    }
    lanes.iter().fold(tail, |a, &x| a.wrapping_add(x))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cache_sizes_parse_as_sysfs_writes_them() {
        assert_eq!(super::parse_cache_size("491520K"), Some(491520 << 10));
        assert_eq!(super::parse_cache_size("32M"), Some(32 << 20));
        assert_eq!(super::parse_cache_size("65536"), Some(65536));
        assert_eq!(super::parse_cache_size(""), None);
        assert_eq!(super::parse_cache_size("lots"), None);
        let bytes = super::probe_bytes();
        assert!((super::MIN_PROBE_BYTES..=super::MAX_PROBE_BYTES).contains(&bytes), "{bytes}");
    }

    #[test]
    fn sum_lanes_adds_every_element() {
        let xs: Vec<u64> = (1..=1003).collect();
        assert_eq!(super::sum_lanes(&xs), 1003 * 1004 / 2);
    }
}
