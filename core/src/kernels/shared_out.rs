//! An output buffer shared by parallel tasks that each write their own,
//! disjoint but interleaved, elements (columns of a row-major matrix), which
//! safe slices cannot split.

use std::marker::PhantomData;

pub struct SharedOut<'a> {
    ptr: *mut f32,
    len: usize,
    _out: PhantomData<&'a mut [f32]>,
}

// SAFETY: tasks write disjoint elements (each `write` caller promises it).
unsafe impl Send for SharedOut<'_> {}
unsafe impl Sync for SharedOut<'_> {}

impl<'a> SharedOut<'a> {
    pub fn new(out: &'a mut [f32]) -> Self {
        SharedOut { ptr: out.as_mut_ptr(), len: out.len(), _out: PhantomData }
    }

    /// Copies `src` to elements `at..at + src.len()` (bounds checked).
    ///
    /// # Safety
    /// No other task may read or write those elements while the buffer is shared.
    pub unsafe fn write(&self, at: usize, src: &[f32]) {
        assert!(at + src.len() <= self.len, "write past the shared output");
        std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.add(at), src.len());
    }

    /// Sets element `at` (bounds checked).
    ///
    /// # Safety
    /// As for [`SharedOut::write`].
    pub unsafe fn set(&self, at: usize, value: f32) {
        assert!(at < self.len, "write past the shared output");
        *self.ptr.add(at) = value;
    }
}
