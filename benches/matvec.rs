//! Single-thread matrix-vector products per weight format on TinyLlama-1.1B and
//! Llama-2-7B shapes: fused SIMD vs fused scalar vs the unfused baseline
//! (dequantize the row, then an f32 dot). Criterion measures each; at the end a
//! table gives GB/s of weight bytes and the speedups over unfused, all from
//! this run.
//!
//! `cargo bench --bench matvec` (all) or `cargo bench --bench matvec -- Q4_K` (filter).
//! `FUSELM_BENCH_QUICK=1` shortens the measurement (for smoke runs).

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{black_box, BenchmarkId, Criterion, Throughput};
use fuselm::kernels::{Activations, Isa, KernelMode, WeightMatrix};
use fuselm::GgmlType;

/// (n_out, n_in): TinyLlama's q/o, gate/up, down and output; Llama-2-7B's gate/up; and
/// the two shapes llama.cpp's `test-backend-ops perf -o MUL_MAT` times (m=4096 k=14336,
/// and Q4_K m=14336 k=4096), so the two engines can be compared on the same products.
const SHAPES: &[(usize, usize)] =
    &[(2048, 2048), (5632, 2048), (2048, 5632), (32000, 2048), (11008, 4096), (4096, 14336), (14336, 4096)];

const FORMATS: &[GgmlType] =
    &[GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_1];

const MODES: &[(KernelMode, &str)] =
    &[(KernelMode::Auto, "simd"), (KernelMode::Scalar, "scalar"), (KernelMode::Unfused, "unfused")];

/// Random blocks with sane f16 scales: speed does not depend on the values, and
/// generating bytes is much faster than running the reference quantizers on 65M values.
fn random_weights(ty: GgmlType, n_in: usize, n_out: usize) -> Vec<u8> {
    let n = ty.row_bytes(n_in as u64).unwrap() as usize * n_out;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut bytes: Vec<u8> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    // Clear the top exponent bit of every byte pair: any f16 field becomes finite.
    for pair in bytes.chunks_exact_mut(2) {
        pair[1] &= 0xBF;
    }
    bytes
}

fn main() {
    let quick = std::env::var("FUSELM_BENCH_QUICK").is_ok();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(if quick { 100 } else { 500 }))
        .measurement_time(Duration::from_millis(if quick { 300 } else { 1500 }))
        .configure_from_args();
    let isa = Isa::detect();
    let mut results: BTreeMap<(String, String), BTreeMap<&str, f64>> = BTreeMap::new();
    for &ty in FORMATS {
        for &(n_out, n_in) in SHAPES {
            let weights = random_weights(ty, n_in, n_out);
            let x: Vec<f32> = (0..n_in).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
            let shape = format!("{n_out}x{n_in}");
            let mut group = c.benchmark_group(format!("matvec/{}", ty.name()));
            group.throughput(Throughput::Bytes(weights.len() as u64));
            for &(mode, label) in MODES {
                let m = WeightMatrix::from_raw("bench", ty, n_in, n_out, &weights, mode, isa).unwrap();
                let mut acts = Activations::default();
                let mut out = vec![0.0f32; n_out];
                let id = BenchmarkId::new(label, &shape);
                let mut per_iter = Vec::new();
                group.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let start = std::time::Instant::now();
                        for _ in 0..iters {
                            m.matmul(black_box(&x), &mut acts, &mut out);
                        }
                        let t = start.elapsed();
                        per_iter.push(t.as_secs_f64() / iters as f64);
                        t
                    })
                });
                if let Some(seconds) = median(&mut per_iter) {
                    let label = if mode == KernelMode::Auto { m.kernel.name } else { label };
                    results.entry((ty.name().to_string(), shape.clone())).or_default().insert(label, seconds);
                    results
                        .entry((ty.name().to_string(), shape.clone()))
                        .or_default()
                        .insert("bytes", weights.len() as f64);
                }
            }
            group.finish();
        }
    }
    c.final_summary();
    print_table(&results, isa);
    if let Ok(path) = std::env::var("FUSELM_BENCH_JSON") {
        write_json(&path, &results, isa);
    }
}

/// The measurements as JSON for scripts/bench/kernels (which writes docs/benchmarks.md).
fn write_json(path: &str, results: &BTreeMap<(String, String), BTreeMap<&str, f64>>, isa: Isa) {
    let rows: Vec<String> = results
        .iter()
        .map(|((ty, shape), r)| {
            let fields: Vec<String> = r.iter().map(|(k, v)| format!("\"{k}\": {v:e}")).collect();
            format!("{{\"format\": \"{ty}\", \"shape\": \"{shape}\", {}}}", fields.join(", "))
        })
        .collect();
    let json = format!("{{\"isa\": \"{}\", \"results\": [\n{}\n]}}\n", isa.name(), rows.join(",\n"));
    if let Err(e) = std::fs::write(path, json) {
        eprintln!("cannot write {path}: {e}");
    }
}

fn median(samples: &mut [f64]) -> Option<f64> {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied()
}

/// Prints GB/s per variant and speedups over unfused (median over criterion's samples).
fn print_table(results: &BTreeMap<(String, String), BTreeMap<&str, f64>>, isa: Isa) {
    if results.is_empty() {
        return;
    }
    let simd = isa.name();
    println!("\n| format | shape (out x in) | {simd} GB/s | scalar GB/s | unfused GB/s | {simd} / unfused | scalar / unfused | {simd} / scalar |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for ((ty, shape), r) in results {
        let bytes = r.get("bytes").copied().unwrap_or(0.0);
        let gbs = |k: &str| r.get(k).map(|s| bytes / s / 1e9);
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let ratio = |a: &str, b: &str| match (r.get(a), r.get(b)) {
            (Some(x), Some(y)) => format!("{:.1}x", y / x),
            _ => "-".to_string(),
        };
        println!(
            "| {ty} | {shape} | {} | {} | {} | {} | {} | {} |",
            fmt(gbs(simd)),
            fmt(gbs("scalar")),
            fmt(gbs("unfused")),
            ratio(simd, "unfused"),
            ratio("scalar", "unfused"),
            ratio(simd, "scalar"),
        );
    }
}
