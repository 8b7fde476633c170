//! Data-parallel loops: across rayon's pool with the `parallel` feature, in
//! order on the calling thread without it (the browser's single-threaded
//! builds). The one place that knows both builds; callers pick the chunk
//! sizes that make a fork pay.

/// Threads the loops below spread over.
pub fn threads() -> usize {
    #[cfg(feature = "parallel")]
    return rayon::current_num_threads();
    #[cfg(not(feature = "parallel"))]
    1
}

/// `f(i, chunk)` for every `chunk_len` chunk of `data` (the last one may be
/// shorter). One chunk runs on the calling thread without a fork.
pub fn for_each_chunk<T: Send>(data: &mut [T], chunk_len: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if data.is_empty() {
        return;
    }
    assert!(chunk_len > 0, "chunks of no elements");
    if data.len() <= chunk_len {
        return f(0, data);
    }
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk_len).enumerate().for_each(|(i, chunk)| f(i, chunk));
    }
    #[cfg(not(feature = "parallel"))]
    data.chunks_mut(chunk_len).enumerate().for_each(|(i, chunk)| f(i, chunk));
}

/// `f(item)` for every item of `items`, each a task of one fork. One item
/// runs on the calling thread without a fork.
pub fn for_each_item<T: Send>(items: &mut [T], f: impl Fn(&mut T) + Sync + Send) {
    if items.len() <= 1 {
        return items.iter_mut().for_each(f);
    }
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        items.par_iter_mut().for_each(f);
    }
    #[cfg(not(feature = "parallel"))]
    items.iter_mut().for_each(f);
}

/// `f(i)` for every `i` in `0..n`.
pub fn for_each_index(n: usize, f: impl Fn(usize) + Sync + Send) {
    if n == 1 {
        return f(0);
    }
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().for_each(f);
    }
    #[cfg(not(feature = "parallel"))]
    (0..n).for_each(f);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_and_index_runs_once_with_its_number() {
        for (len, chunk) in [(0, 3), (1, 3), (3, 3), (10, 3), (64, 8)] {
            let mut data = vec![usize::MAX; len];
            for_each_chunk(&mut data, chunk, |i, c| c.iter_mut().for_each(|v| *v = i));
            assert_eq!(data, (0..len).map(|j| j / chunk).collect::<Vec<_>>());
        }
        let mut items: Vec<usize> = (0..37).collect();
        for_each_item(&mut items, |v| *v *= 2);
        assert_eq!(items, (0..37).map(|v| v * 2).collect::<Vec<_>>());
        let seen = std::sync::Mutex::new(Vec::new());
        for_each_index(9, |i| seen.lock().unwrap().push(i));
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(seen, (0..9).collect::<Vec<_>>());
    }
}
