//! Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q4_1, Q5_0 and Q8_0 rows interleaved by 8 (`kernels/interleaved.rs`): on every tier this CPU
//! has group kernels for, each decode output equals the fast set's scalar
//! definition (`unpacked::dot_fast`; `unpacked32::dot_fast32` for Q4_1, Q5_0 and Q8_0) bit for bit, through the group kernel
//! alone and through `WeightMatrix` with row counts that leave a partial last
//! group and every token count below the tiled path's; the group unpack for
//! the tiled path gives the plain rows' unpacked blocks exactly (products from
//! `tiled::MIN_TOKENS` tokens on: `tiled_kernels.rs`). The tiers run are
//! printed (`--nocapture`).

mod common;

use common::values;
use fuselm_core::kernels::interleaved::{
    group_dot_scalar, group_kernel, interleave_matrix, unpack_group_scalar, GroupDot, GroupFormat, GroupUnpack,
    GROUP_ROWS,
};
use fuselm_core::kernels::tiled::MIN_TOKENS;
use fuselm_core::kernels::unpacked::{dot_fast, unpack_all, UnpackKind, UnpackedBlock};
use fuselm_core::kernels::unpacked32::{dot_fast32, unpack_all32, Kind32, Unpacked32};
use fuselm_core::kernels::{ActFormat, Activations, Isa, KernelMode, WeightMatrix};
use fuselm_core::quant;
use fuselm_core::GgmlType;
use proptest::prelude::*;

const FORMATS: [GgmlType; 8] = [
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q8_0,
];

fn group_tiers(ty: GgmlType) -> Vec<Isa> {
    let tiers: Vec<Isa> = Isa::available().into_iter().filter(|&isa| group_kernel(ty, isa).is_some()).collect();
    println!("{ty} group kernels on this CPU: {:?}", tiers.iter().map(|i| i.name()).collect::<Vec<_>>());
    tiers
}

/// The activations the format's kernels read: Q8_1 for Q4_1, Q8_0 for
/// Q5_0 and Q8_0, Q8_K for K-quants.
fn act_format(ty: GgmlType) -> ActFormat {
    match Kind32::of(ty) {
        Some(kind) if kind.has_min() => ActFormat::Q8_1,
        Some(_) => ActFormat::Q8_0,
        None => ActFormat::Q8K,
    }
}

/// The fast set's value of one plain row with token `t` of `acts`.
fn dot_fast_row(ty: GgmlType, row: &[u8], n_blocks: usize, acts: &Activations, t: usize) -> f32 {
    let block_bytes = row.len() / n_blocks;
    match Kind32::of(ty) {
        Some(kind) => {
            let mut unpacked = vec![Unpacked32::default(); n_blocks];
            unpack_all32(kind, row, block_bytes, &mut unpacked);
            if kind.has_min() {
                dot_fast32(&unpacked, acts.q8_1_row(t), kind)
            } else {
                dot_fast32(&unpacked, acts.q8_0_row(t), kind)
            }
        }
        None => {
            let mut unpacked = vec![UnpackedBlock::default(); n_blocks];
            unpack_all(UnpackKind::of(ty).unwrap(), row, block_bytes, &mut unpacked);
            dot_fast(&unpacked, acts.q8k_row(t))
        }
    }
}

fn check_group(ty: GgmlType, n_blocks: usize, seed: u64, weight_scale: f32, act_scale: f32) {
    let n_in = ty.block_len() * n_blocks;
    let mut w = Vec::new();
    quant::quantize_row(ty, &values(n_in * GROUP_ROWS, seed, weight_scale), &mut w).unwrap();
    check_group_rows(ty, &w, n_blocks, &values(n_in, seed + 1, act_scale));
}

/// One group of 8 raw rows `w` (`n_blocks` blocks each) with activations `x`
/// through every tier's group kernel and unpack, against the fast set's
/// scalar definition.
fn check_group_rows(ty: GgmlType, w: &[u8], n_blocks: usize, x: &[f32]) {
    let format = GroupFormat::of(ty).unwrap();
    let n_in = ty.block_len() * n_blocks;
    let row_bytes = w.len() / GROUP_ROWS;
    let plain = |r: usize| &w[r * row_bytes..(r + 1) * row_bytes];
    let group = interleave_matrix(format, w, GROUP_ROWS, row_bytes);
    let mut acts = Activations::default();
    acts.quantize(x, n_in, act_format(ty), Isa::Scalar);
    let want: Vec<f32> = (0..GROUP_ROWS).map(|r| dot_fast_row(ty, plain(r), n_blocks, &acts, 0)).collect();
    // The K-quants' scalar group definitions (what a new tier is written against).
    if Kind32::of(ty).is_none() {
        let mut scalar = [0.0f32; GROUP_ROWS];
        group_dot_scalar(format, &group, acts.q8k_row(0), &mut scalar);
        for r in 0..GROUP_ROWS {
            assert_eq!(scalar[r].to_bits(), want[r].to_bits(), "scalar group row {r}");
        }
        let mut unpacked_scalar = vec![UnpackedBlock::default(); GROUP_ROWS * n_blocks];
        unpack_group_scalar(format, &group, n_blocks, &mut unpacked_scalar);
        for r in 0..GROUP_ROWS {
            let mut unpacked = vec![UnpackedBlock::default(); n_blocks];
            unpack_all(UnpackKind::of(ty).unwrap(), plain(r), row_bytes / n_blocks, &mut unpacked);
            assert_eq!(&unpacked_scalar[r * n_blocks..(r + 1) * n_blocks], &unpacked[..], "scalar unpack row {r}");
        }
    }
    for isa in group_tiers(ty) {
        let kernel = group_kernel(ty, isa).unwrap();
        let mut got = [f32::NAN; GROUP_ROWS];
        match kernel.dot {
            GroupDot::Q8K(dot) => dot(&group, acts.q8k_row(0), &mut got),
            GroupDot::Q8_0(dot) => dot(&group, acts.q8_0_row(0), &mut got),
            GroupDot::Q8_1(dot) => dot(&group, acts.q8_1_row(0), &mut got),
        }
        for r in 0..GROUP_ROWS {
            assert_eq!(got[r].to_bits(), want[r].to_bits(), "{ty} {isa} row {r}: {} vs {}", got[r], want[r]);
        }
        // Unpacked for the tiled path: the plain rows' unpacked blocks.
        match kernel.unpack {
            GroupUnpack::KQuant(unpack) => {
                let mut got = vec![UnpackedBlock::default(); GROUP_ROWS * n_blocks];
                unpack(&group, n_blocks, &mut got);
                for r in 0..GROUP_ROWS {
                    let mut unpacked = vec![UnpackedBlock::default(); n_blocks];
                    unpack_all(UnpackKind::of(ty).unwrap(), plain(r), row_bytes / n_blocks, &mut unpacked);
                    assert!(got[r * n_blocks..(r + 1) * n_blocks] == unpacked[..], "{ty} {isa}: group unpack row {r}");
                }
            }
            GroupUnpack::Block32(unpack) => {
                let mut got = vec![Unpacked32::default(); GROUP_ROWS * n_blocks];
                unpack(&group, n_blocks, &mut got);
                for r in 0..GROUP_ROWS {
                    let mut unpacked = vec![Unpacked32::default(); n_blocks];
                    unpack_all32(Kind32::of(ty).unwrap(), plain(r), row_bytes / n_blocks, &mut unpacked);
                    assert!(got[r * n_blocks..(r + 1) * n_blocks] == unpacked[..], "{ty} {isa}: group unpack row {r}");
                }
            }
        }
    }
}

/// Every output of a `WeightMatrix` product with fewer tokens than the tiled
/// path takes equals `dot_fast` of its row and token.
fn check_matrix(ty: GgmlType, isa: Isa, n_blocks: usize, n_out: usize, n_tok: usize, seed: u64) {
    let n_in = ty.block_len() * n_blocks;
    let mut w = Vec::new();
    quant::quantize_row(ty, &values(n_in * n_out, seed, 0.3), &mut w).unwrap();
    let m = WeightMatrix::from_raw("w", ty, n_in, n_out, &w, KernelMode::Auto, isa).unwrap();
    assert!(m.interleaved_source().is_some(), "{ty} {isa}: stored interleaved");
    let mut acts = Activations::default();
    let mut out = vec![f32::NAN; n_tok * n_out];
    m.matmul(&values(n_in * n_tok, seed + 1, 6.0), &mut acts, &mut out);
    let row_bytes = w.len() / n_out;
    for r in 0..n_out {
        for t in 0..n_tok {
            let want = dot_fast_row(ty, &w[r * row_bytes..(r + 1) * row_bytes], n_blocks, &acts, t);
            let got = out[t * n_out + r];
            assert_eq!(got.to_bits(), want.to_bits(), "{ty} {isa} [{n_out}x{n_in}] row {r} token {t}: {got} vs {want}");
        }
    }
}

#[test]
fn group_kernels_equal_the_fast_scalar_definition() {
    for ty in FORMATS {
        for (n_blocks, seed) in [(1, 1), (3, 2), (8, 3), (22, 4)] {
            check_group(ty, n_blocks, seed, 0.3, 6.0);
        }
        // Extreme scales: large weights and activations, and all-zero activations.
        check_group(ty, 2, 5, 1e4, 1e3);
        check_group(ty, 2, 6, 0.3, 0.0);
    }
}

/// Blocks with every quant (and scale) at its largest against activations
/// all at +127 or all at −127: the kernels' i16 sums are closest to
/// saturating there (Q5_0, Q4_1 and Q5_K within 4% of i16's range, Q8_0 within 1%), which random
/// blocks never reach.
#[test]
fn group_kernels_hold_their_sums_at_the_largest_quants() {
    for ty in FORMATS {
        let block_bytes = ty.row_bytes(ty.block_len() as u64).unwrap() as usize;
        // The f16 factors (d, dmin, m) at 1.0; every other byte 0xFF.
        let factors: &[usize] = match ty {
            GgmlType::Q2_K => &[80, 82],
            GgmlType::Q3_K => &[108],
            GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
            GgmlType::Q6_K => &[208],
            GgmlType::Q4_1 => &[0, 2],
            GgmlType::Q5_0 | GgmlType::Q8_0 => &[0],
            _ => unreachable!("a format without a group kernel"),
        };
        // Q8_0's largest magnitude is −128 (0x80); 0xFF is −1 there.
        let largest = if ty == GgmlType::Q8_0 { 0x80 } else { 0xFF };
        let mut block = vec![largest; block_bytes];
        for &at in factors {
            block[at..at + 2].copy_from_slice(&half::f16::from_f32(1.0).to_le_bytes());
        }
        let n_blocks = 3;
        let w = block.repeat(GROUP_ROWS * n_blocks);
        for sign in [1.0f32, -1.0] {
            check_group_rows(ty, &w, n_blocks, &vec![sign; ty.block_len() * n_blocks]);
        }
    }
}

#[test]
fn interleaved_matrices_decode_like_the_fast_scalar_definition() {
    for ty in FORMATS {
        for isa in group_tiers(ty) {
            // 37 rows: 4 groups + a padded one; 16 rows: 2 full groups; 3: one padded.
            for (n_out, n_tok) in [(37, 1), (16, 1), (3, 1), (37, MIN_TOKENS - 1), (67, 2)] {
                check_matrix(ty, isa, 2, n_out, n_tok, n_out as u64);
            }
        }
    }
}

#[test]
fn exact_mode_stores_rows_plain() {
    for ty in FORMATS {
        for isa in Isa::available() {
            let w = vec![0u8; 16 * ty.row_bytes(256).unwrap() as usize];
            let m = WeightMatrix::from_raw("w", ty, 256, 16, &w, KernelMode::Exact, isa).unwrap();
            assert!(m.interleaved_source().is_none() && m.kernel.group.is_none(), "{ty} {isa}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn interleaved_products_equal_the_fast_scalar_definition(
        t in 0usize..FORMATS.len(), n_blocks in 1usize..4, n_out in 1usize..80, n_tok in 1usize..MIN_TOKENS, seed in 0u64..1000,
    ) {
        for isa in group_tiers(FORMATS[t]) {
            check_matrix(FORMATS[t], isa, n_blocks, n_out, n_tok, seed);
        }
    }
}
