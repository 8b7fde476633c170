//! Kernels and the one dispatch layer that picks them.
//!
//! ```text
//!  weight tensor (GgmlType) ──► select_kernel(type, KernelMode, detected Isa) ──► Kernel
//!                                   │ table.rs: one row per (format, isa)          │ name, fused?, act format
//!                                   ▼                                               ▼
//!  x: [n_in] f32 ──► Activations::quantize (once per row, SIMD) ──► Kernel::dot(row bytes, acts) per output row
//! ```
//!
//! [`KernelMode`] forces a path (hosts read it from `FUSELM_KERNELS` / `--kernels`).

// Index loops mirror ggml's definitions element for element, which is what
// lets a reader check them line by line; iterator chains would hide that.
#![allow(clippy::needless_range_loop)]

mod act_tiles;
mod activations;
#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx2_tiled;
#[cfg(target_arch = "x86_64")]
pub mod avx512_rows;
#[cfg(target_arch = "x86_64")]
pub mod avx512vnni;
mod fused_products;
pub mod interleaved;
mod isa;
mod matrix;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(target_arch = "aarch64")]
pub mod neon_interleaved;
#[cfg(target_arch = "aarch64")]
pub mod neon_tiled;
mod prefetch;
mod shared_out;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;
#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
pub mod simd128_relaxed;
#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
pub mod simd128_relaxed_tiled;
pub mod stats;
mod table;
pub mod tiled;
pub mod unpacked;
pub mod unpacked32;
#[cfg(target_arch = "x86_64")]
mod x86_dot;
#[cfg(target_arch = "x86_64")]
pub mod x86_interleaved;
#[cfg(target_arch = "x86_64")]
pub mod x86_interleaved_32;
#[cfg(target_arch = "x86_64")]
pub mod x86_interleaved_q2_q3;

pub use act_tiles::ActTiles;
pub use activations::{ActFormat, Activations};
pub use fused_products::{matvec_gated, matvec_together};
pub use isa::{Isa, KernelMode};
pub use matrix::WeightMatrix;
pub(crate) use shared_out::SharedOut;
pub use table::{select_kernel, DotFn, Kernel};
