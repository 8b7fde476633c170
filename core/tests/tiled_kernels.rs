//! Tiled matrix-matrix kernels: on every tier this CPU has, each output equals
//! the fast set's scalar definition (`unpacked::dot_fast`, `unpacked32::dot_fast32`) bit for bit, for
//! shapes that are not multiples of the tile (tail rows and tokens), and stays
//! within float rounding of the exact per-row kernels. The tiers run are
//! printed (`--nocapture`): a tier missing from this CPU is not tested here.

mod common;

use common::values;
use fuselm_core::kernels::tiled::{tiled_kernel, MIN_TOKENS};
use fuselm_core::kernels::unpacked::{dot_fast_with, unpack_all, UnpackKind, UnpackedBlock};
use fuselm_core::kernels::unpacked32::{dot_fast32_with, unpack_all32, Kind32, Unpacked32};
use fuselm_core::kernels::{Activations, Isa, KernelMode, WeightMatrix};
use fuselm_core::quant;
use fuselm_core::GgmlType;
use proptest::prelude::*;

const K_QUANTS: [GgmlType; 5] = [GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K];
const BLOCK32: [GgmlType; 5] = [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0];

/// The tiers of this CPU with a tiled kernel for `ty`.
fn tiled_tiers(ty: GgmlType) -> Vec<Isa> {
    let tiers: Vec<Isa> = Isa::available().into_iter().filter(|&isa| tiled_kernel(ty, isa).is_some()).collect();
    println!("tiled tiers for {ty} on this CPU: {:?}", tiers.iter().map(|i| i.name()).collect::<Vec<_>>());
    tiers
}

/// The fast set's scalar value of one weight row (raw bytes) with every
/// token's activations: `dot_fast` or `dot_fast32` over the unpacked row.
/// `fused`: the tier's float step is a fused multiply-add.
type Reference = fn(GgmlType, &[u8], usize, &Activations, usize, bool) -> Vec<f32>;

fn reference_k(ty: GgmlType, row: &[u8], n_blocks: usize, acts: &Activations, n_tok: usize, fused: bool) -> Vec<f32> {
    let mut unpacked = vec![UnpackedBlock::default(); n_blocks];
    unpack_all(UnpackKind::of(ty).unwrap(), row, row.len() / n_blocks, &mut unpacked);
    (0..n_tok).map(|t| dot_fast_with(&unpacked, acts.q8k_row(t), fused)).collect()
}

fn reference_32(ty: GgmlType, row: &[u8], n_blocks: usize, acts: &Activations, n_tok: usize, fused: bool) -> Vec<f32> {
    let kind = Kind32::of(ty).unwrap();
    let mut unpacked = vec![Unpacked32::default(); n_blocks];
    unpack_all32(kind, row, row.len() / n_blocks, &mut unpacked);
    // The formats with a min meet Q8_1 activations (with `s`), the others Q8_0.
    if kind.has_min() {
        (0..n_tok).map(|t| dot_fast32_with(&unpacked, acts.q8_1_row(t), kind, fused)).collect()
    } else {
        (0..n_tok).map(|t| dot_fast32_with(&unpacked, acts.q8_0_row(t), kind, fused)).collect()
    }
}

/// Checks one product on `isa`: tiled output == the scalar reference per
/// (row, token), and within float rounding of the exact per-row kernels.
fn check_with(reference: Reference, ty: GgmlType, isa: Isa, n_blocks: usize, n_out: usize, n_tok: usize, seed: u64) {
    let n_in = ty.block_len() * n_blocks;
    let mut w = Vec::new();
    quant::quantize_row(ty, &values(n_in * n_out, seed, 0.3), &mut w).unwrap();
    let x = values(n_in * n_tok, seed + 1, 6.0);
    let m = WeightMatrix::from_raw("w", ty, n_in, n_out, &w, KernelMode::Auto, isa).unwrap();
    let fused = m.kernel.tiled.expect("a tiled kernel").fused_epilogue();
    let mut acts = Activations::default();
    let mut out = vec![f32::NAN; n_tok * n_out];
    m.matmul(&x, &mut acts, &mut out);
    let exact = WeightMatrix::from_raw("w", ty, n_in, n_out, &w, KernelMode::Exact, isa).unwrap();
    let mut exact_out = vec![0.0; n_tok * n_out];
    exact.matmul(&x, &mut Activations::default(), &mut exact_out);
    let row_bytes = w.len() / n_out;
    for r in 0..n_out {
        let want = reference(ty, &w[r * row_bytes..(r + 1) * row_bytes], n_blocks, &acts, n_tok, fused);
        for (t, want) in want.into_iter().enumerate() {
            let got = out[t * n_out + r];
            assert_eq!(got.to_bits(), want.to_bits(), "{ty} {isa} [{n_out}x{n_in}] row {r} token {t}: {got} vs {want}");
            let e = exact_out[t * n_out + r];
            assert!(
                (got - e).abs() <= 1e-5 * e.abs().max(1.0) * n_blocks as f32,
                "{ty} row {r} token {t}: {got} vs exact {e}"
            );
        }
    }
}

/// A K-quant product (blocks of 256).
fn check(ty: GgmlType, isa: Isa, n_blocks: usize, n_out: usize, n_tok: usize, seed: u64) {
    check_with(reference_k, ty, isa, n_blocks, n_out, n_tok, seed);
}

/// A 32-value format's product.
fn check32(ty: GgmlType, isa: Isa, n_blocks: usize, n_out: usize, n_tok: usize, seed: u64) {
    check_with(reference_32, ty, isa, n_blocks, n_out, n_tok, seed);
}

#[test]
fn tiled_kernels_equal_the_fast_scalar_definition_on_tail_shapes() {
    for ty in BLOCK32 {
        for isa in tiled_tiers(ty) {
            // Gemma 3 270M's rows are 640 = 20 blocks of 32 (not a multiple of 256).
            check32(ty, isa, 20, 37, 21, 1);
            check32(ty, isa, 1, 8, 16, 2);
        }
    }
    for ty in K_QUANTS {
        for isa in tiled_tiers(ty) {
            // tails: 37 rows = 32 + 5 (panel) = 4*8 + 5 (tile); 21 tokens = 16 + 5.
            check(ty, isa, 3, 37, 21, 1);
            check(ty, isa, 1, 8, 16, 2);
            check(ty, isa, 2, 67, MIN_TOKENS, 3);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn tiled_kernels_equal_the_fast_scalar_definition(
        t in 0usize..5, n_blocks in 1usize..4, n_out in 1usize..80, n_tok in MIN_TOKENS..40, seed in 0u64..1000,
    ) {
        for isa in tiled_tiers(K_QUANTS[t]) {
            check(K_QUANTS[t], isa, n_blocks, n_out, n_tok, seed);
        }
        for isa in tiled_tiers(BLOCK32[t]) {
            check32(BLOCK32[t], isa, 8 * n_blocks - 1, n_out, n_tok, seed);
        }
    }
}

#[test]
fn exact_mode_has_no_tiled_kernels() {
    for isa in Isa::available() {
        for ty in K_QUANTS.into_iter().chain(BLOCK32) {
            let w = vec![0u8; ty.row_bytes(256).unwrap() as usize];
            let m = WeightMatrix::from_raw("w", ty, 256, 1, &w, KernelMode::Exact, isa).unwrap();
            assert!(m.kernel.tiled.is_none(), "{ty} on {isa}");
        }
    }
}
