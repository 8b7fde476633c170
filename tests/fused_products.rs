//! Decode's products run together in one fork (`core/src/kernels/fused_products.rs`)
//! equal the same products run one by one, bit for bit: Q/K/V-like sets of
//! matrices in every format with a row kernel (group kernels included), gate
//! and up with the gating function applied per task, on every kernel tier
//! this CPU offers and on 1 to 4 threads.

use fuselm_core::kernels::{matvec_gated, matvec_together, Activations, Isa, KernelMode, WeightMatrix};
use fuselm_core::model::ops;
use fuselm_core::quant;
use fuselm_core::GgmlType;

fn weights(ty: GgmlType, n_in: usize, n_out: usize, seed: usize) -> Vec<u8> {
    let x: Vec<f32> = (0..n_in * n_out).map(|i| (((i + seed) * 7919 % 1013) as f32 / 1013.0 - 0.5) * 0.2).collect();
    let mut bytes = Vec::new();
    quant::quantize_row(ty, &x, &mut bytes).unwrap();
    bytes
}

fn input(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 104729 % 2003) as f32 / 2003.0 - 0.5) * 4.0).collect()
}

const FORMATS: [GgmlType; 10] = [
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::F16,
];

/// Row counts that are not multiples of the 16-row tasks or 8-row groups.
const N_OUT: [usize; 3] = [40, 8, 77];

fn tiers() -> Vec<Isa> {
    let tiers = Isa::available();
    println!("tiers on this CPU: {:?}", tiers.iter().map(|t| t.name()).collect::<Vec<_>>());
    tiers
}

#[test]
fn products_together_equal_products_one_by_one() {
    let n_in = 512;
    let x = input(n_in);
    for isa in tiers() {
        for mode in [KernelMode::Auto, KernelMode::Exact] {
            for ty in FORMATS {
                let data: Vec<Vec<u8>> = N_OUT.iter().enumerate().map(|(i, &n)| weights(ty, n_in, n, i)).collect();
                let matrices: Vec<WeightMatrix> = data
                    .iter()
                    .zip(N_OUT)
                    .map(|(w, n)| WeightMatrix::from_raw("blk.0.attn_q.weight", ty, n_in, n, w, mode, isa).unwrap())
                    .collect();
                let one_by_one: Vec<Vec<f32>> = matrices
                    .iter()
                    .map(|m| {
                        let mut out = vec![0.0; m.n_out];
                        m.matmul(&x, &mut Activations::default(), &mut out);
                        out
                    })
                    .collect();
                for threads in 1..=4 {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let mut outs: Vec<Vec<f32>> = N_OUT.iter().map(|&n| vec![f32::NAN; n]).collect();
                    pool.install(|| {
                        let mut acts = Activations::default();
                        acts.quantize(&x, n_in, matrices[0].act_format(), matrices[0].kernel.isa);
                        let mut products: Vec<(&WeightMatrix, &mut [f32])> =
                            matrices.iter().zip(outs.iter_mut()).map(|(m, o)| (m, &mut o[..])).collect();
                        matvec_together(&acts, &mut products);
                    });
                    for (i, (got, want)) in outs.iter().zip(&one_by_one).enumerate() {
                        let same = got.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits());
                        assert!(
                            same,
                            "{ty} {isa} {mode:?} matrix {i}, {threads} threads ({})",
                            matrices[i].kernel.name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn gate_and_up_together_equal_two_products_and_the_activation() {
    let (n_in, n_ff) = (256, 88);
    let x = input(n_in);
    for isa in tiers() {
        for ty in FORMATS {
            let (wg, wu) = (weights(ty, n_in, n_ff, 1), weights(ty, n_in, n_ff, 2));
            let gate_m =
                WeightMatrix::from_raw("blk.0.ffn_gate.weight", ty, n_in, n_ff, &wg, KernelMode::Auto, isa).unwrap();
            let up_m =
                WeightMatrix::from_raw("blk.0.ffn_up.weight", ty, n_in, n_ff, &wu, KernelMode::Auto, isa).unwrap();
            let (mut gate, mut up) = (vec![0.0; n_ff], vec![0.0; n_ff]);
            gate_m.matmul(&x, &mut Activations::default(), &mut gate);
            up_m.matmul(&x, &mut Activations::default(), &mut up);
            let mut swiglu = gate.clone();
            ops::swiglu_in_place(&mut swiglu, &up);
            let mut geglu = gate.clone();
            ops::geglu_in_place(&mut geglu, &up);
            for threads in 1..=4 {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                for (name, want) in [("swiglu", &swiglu), ("geglu", &geglu)] {
                    let (mut g, mut u) = (vec![f32::NAN; n_ff], vec![f32::NAN; n_ff]);
                    pool.install(|| {
                        let mut acts = Activations::default();
                        acts.quantize(&x, n_in, gate_m.act_format(), gate_m.kernel.isa);
                        if name == "swiglu" {
                            matvec_gated(&acts, (&gate_m, &mut g), (&up_m, &mut u), ops::swiglu_chunk);
                        } else {
                            let table = ops::gelu_table();
                            matvec_gated(&acts, (&gate_m, &mut g), (&up_m, &mut u), |g, u| {
                                ops::geglu_chunk(table, g, u)
                            });
                        }
                    });
                    let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same(&u, &up), "{ty} {isa} {name}: up, {threads} threads");
                    assert!(same(&g, want), "{ty} {isa} {name}: gated, {threads} threads ({})", gate_m.kernel.name);
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "the matrices read different activations")]
fn matrices_of_different_activation_formats_are_refused() {
    let n_in = 256;
    let (w4, w8) = (weights(GgmlType::Q4_K, n_in, 8, 0), weights(GgmlType::Q8_0, n_in, 8, 1));
    let isa = Isa::detect();
    let q4 = WeightMatrix::from_raw("a", GgmlType::Q4_K, n_in, 8, &w4, KernelMode::Exact, isa).unwrap();
    let q8 = WeightMatrix::from_raw("b", GgmlType::Q8_0, n_in, 8, &w8, KernelMode::Exact, isa).unwrap();
    let mut acts = Activations::default();
    acts.quantize(&input(n_in), n_in, q4.act_format(), q4.kernel.isa);
    let (mut a, mut b) = (vec![0.0; 8], vec![0.0; 8]);
    matvec_together(&acts, &mut [(&q4, &mut a[..]), (&q8, &mut b[..])]);
}
