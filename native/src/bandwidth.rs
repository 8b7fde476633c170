//! A memory-read bandwidth probe. `fuselm bench` runs it in the same process
//! as its decode tests, with the same threads, so decode speed can be stated
//! as a share of what this machine's memory delivers right now (machines are
//! shared and their bandwidth drifts; a figure from another run would not do).
//!
//! Written by hand: it is twenty lines, and a crate would measure something
//! else (copies, or a fixed thread count).

use rayon::prelude::*;

/// Bytes read per pass: far beyond the last-level cache of these machines
/// (32 MB), so the passes stream from memory.
const PROBE_BYTES: usize = 512 << 20;

/// Passes per probe; the best counts (the others met a busy neighbour).
const PASSES: usize = 3;

/// Read bandwidth in GB/s with the threads of `pool`, each summing its own
/// contiguous share of a buffer, as decode streams its share of the weights.
pub fn read_gbs(pool: &rayon::ThreadPool) -> f64 {
    // Non-zero fill: every page is really mapped before the clock starts.
    let buf = vec![1u64; PROBE_BYTES / 8];
    let share = buf.len().div_ceil(pool.current_num_threads());
    let mut best = 0.0f64;
    for _ in 0..PASSES {
        let start = std::time::Instant::now();
        let sum: u64 = pool.install(|| buf.par_chunks(share).map(sum_lanes).reduce(|| 0, u64::wrapping_add));
        let seconds = start.elapsed().as_secs_f64();
        std::hint::black_box(sum);
        best = best.max(PROBE_BYTES as f64 / seconds / 1e9);
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
    fn sum_lanes_adds_every_element() {
        let xs: Vec<u64> = (1..=1003).collect();
        assert_eq!(super::sum_lanes(&xs), 1003 * 1004 / 2);
    }
}
