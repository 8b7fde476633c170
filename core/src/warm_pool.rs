//! Keeping rayon's threads awake for the length of a forward pass.
//!
//! Every matrix product forks over rayon's pool. Between products (norms,
//! quantizing the activations, attention on one thread) the other threads find
//! no work, spin briefly and go to sleep; the next product then waits for a
//! wake-up: microseconds natively, tens of microseconds for Web Workers in a
//! browser (`Atomics.wait`/`notify`), and a forward pass has about 160 products.
//! [`run_warm`] runs a pass on a pool thread while every other thread polls for
//! work ([`rayon::yield_now`], which also steals) instead of sleeping, until the
//! pass ends: the same structure as llama.cpp's threads spinning at barriers,
//! kept inside rayon so that the products' code stays as it is.
//!
//! Only for passes that never overlap on one pool: the browser engine, which
//! runs one request at a time, wraps its steps in it, and the CLI's
//! `generate`, `perplexity` and `bench` their whole run (a `-t 1` run then
//! also stops handing every fork from the main thread to the pool's one
//! thread and back: futex wake-ups were ~10% of its samples). A polling thread takes
//! any pending job, including another caller's whole pass, so overlapping
//! passes nest on the pool's stacks; with four sessions on two threads next to
//! a soak test, `tests/long_runs.rs` once stalled for over ten minutes that way
//! (and passed in 60-75 s in four other runs). `Model::forward` therefore does
//! not call it itself.

/// Runs `f` on a thread of rayon's pool with the pool's other threads kept
/// polling for work until `f` returns (or unwinds). Without the `parallel`
/// feature, just `f()`.
#[cfg(feature = "parallel")]
pub fn run_warm<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Ends the polling when the pass ends, however it ends.
    struct Done<'a>(&'a AtomicBool);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }

    let done = AtomicBool::new(false);
    rayon::scope(|scope| {
        let _done = Done(&done);
        if rayon::current_num_threads() > 1 {
            let owner = rayon::current_thread_index();
            let done = &done;
            scope.spawn_broadcast(move |_, ctx| {
                // The thread running `f` gets one too, when it looks for work
                // while waiting inside a product: it must return at once.
                if Some(ctx.index()) == owner {
                    return;
                }
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::hint::spin_loop();
                    }
                }
            });
        }
        f()
    })
}

#[cfg(not(feature = "parallel"))]
pub fn run_warm<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(all(test, feature = "parallel"))]
mod tests {
    use super::run_warm;

    #[test]
    fn products_inside_a_warm_pass_complete_and_the_pass_returns() {
        use rayon::prelude::*;
        for threads in 1..=4 {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let sum: u64 = pool.install(|| {
                run_warm(|| (0..50).map(|k| (0..10_000u64).into_par_iter().map(|i| i * k).sum::<u64>()).sum())
            });
            assert_eq!(sum, (0..50).map(|k| k * 9_999 * 10_000 / 2).sum::<u64>(), "{threads} threads");
        }
    }

    #[test]
    fn a_panicking_pass_ends_the_polling_and_unwinds() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| run_warm(|| panic!("a failed pass")))
        }));
        assert!(result.is_err());
        // The pool still works afterwards.
        assert_eq!(pool.install(|| run_warm(|| 7)), 7);
    }
}
