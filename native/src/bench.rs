//! `fuselm bench`: llama-bench's measurements (pp: prompt processing of N
//! synthetic tokens in one batch; tg: generating N tokens one at a time) as a
//! table of t/s mean ± stddev, for several thread counts and kernel sets, with
//! each kernel set's speedup over `unfused` measured in the same run.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use fuselm_core::bench::{self, BenchRow};
use fuselm_core::kernels::KernelMode;
use fuselm_core::model::{LoadOptions, Model};

use crate::bandwidth;
use crate::model_file::ModelFile;

#[derive(clap::Args)]
pub struct BenchArgs {
    #[arg(short = 'm', long = "model")]
    pub model: PathBuf,
    /// Prompt lengths to process (comma-separated; 0 skips).
    #[arg(short = 'p', long = "n-prompt", default_value = "512", value_delimiter = ',')]
    pub n_prompt: Vec<usize>,
    /// Tokens to generate (comma-separated; 0 skips).
    #[arg(short = 'n', long = "n-gen", default_value = "128", value_delimiter = ',')]
    pub n_gen: Vec<usize>,
    /// Thread counts (comma-separated; default: all cores).
    #[arg(short = 't', long = "threads", value_delimiter = ',')]
    pub threads: Vec<usize>,
    /// Repetitions of each test (after one warm-up run).
    #[arg(short = 'r', long = "repetitions", default_value_t = 5)]
    pub repetitions: usize,
    /// Output format: md, json or csv.
    #[arg(short = 'o', long = "output", default_value = "md")]
    pub output: String,
    /// Kernel sets (comma-separated): auto, exact, simd, scalar, unfused, or a
    /// tier (avx512vnni, avxvnni, avx2, neon-i8mm, neon-dotprod, neon, simd128-relaxed, simd128).
    #[arg(long = "kernels", default_value = "auto", value_delimiter = ',')]
    pub kernels: Vec<String>,
    #[arg(long = "no-mmap")]
    pub no_mmap: bool,
    /// After the run, print calls and time per (role, format, kernel).
    #[arg(long = "debug-dispatch")]
    pub debug_dispatch: bool,
    /// Exit non-zero if any matrix product ran unfused or as an F32 fallback.
    #[arg(long = "require-fused")]
    pub require_fused: bool,
    /// Skip the memory bandwidth probe (512 MiB or four times the largest cache, read with the test's threads)
    /// that decode rows are compared with.
    #[arg(long = "no-probe")]
    pub no_probe: bool,
    /// Where the forward pass runs: cpu, gpu (wgpu: Vulkan, Metal, DX12),
    /// or auto (a hardware GPU adapter if there is one, else the CPU).
    #[arg(long, value_enum, default_value_t = crate::backend::Backend::Cpu)]
    pub backend: crate::backend::Backend,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    fuselm_core::clock::install_std_clock();
    crate::memory::install();
    if args.repetitions == 0 {
        bail!("--repetitions must be at least 1");
    }
    let format = args.output.as_str();
    if !matches!(format, "md" | "json" | "csv") {
        bail!("--output must be md, json or csv, not {format:?}");
    }
    let modes: Vec<KernelMode> = args.kernels.iter().map(|k| k.parse::<KernelMode>()).collect::<Result<_, _>>()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = if args.threads.is_empty() { vec![cores] } else { args.threads.clone() };
    for &n in &threads {
        crate::host::check_threads(n)?;
    }
    let file = ModelFile::open(&args.model, !args.no_mmap)?;
    let name = file.display_name();
    let gguf = file.parse()?;
    let tests = bench::tests(&args.n_prompt, &args.n_gen);
    let progress = std::io::stderr().is_terminal();
    let mut rows = Vec::new();
    for &mode in &modes {
        let mut model =
            Model::load(&gguf, LoadOptions { kernel_mode: mode, isa: None }).map_err(|e| e.in_file(&name))?;
        // On the GPU, the kernel column says so (the CPU kernel set then only embeds tokens).
        let kernels_label = match crate::backend::install(args.backend, &mut model)? {
            Some(_) => "gpu".to_string(),
            None => mode.name().to_string(),
        };
        crate::memory::release_copied_tensors(&file, &model);
        crate::host::log_selections();
        let model_name = bench::model_name(&gguf, &model);
        for &n_threads in &threads {
            let pool =
                rayon::ThreadPoolBuilder::new().num_threads(n_threads).build().context("cannot start threads")?;
            // Probed per (kernel set, threads), next to the decode tests it describes.
            let probe_gbs = (!args.no_probe && tests.iter().any(|t| t.2 > 0)).then(|| bandwidth::read_gbs(&pool));
            for test in &tests {
                // On the pool, its other threads polling between products.
                let row = pool.install(|| {
                    fuselm_core::warm_pool::run_warm(|| {
                        bench::measure(&gguf, &model, &kernels_label, n_threads, test, args.repetitions, |r| {
                            if progress {
                                eprint!(
                                    "\r{} {model_name} t={n_threads}: {} {}/{}   ",
                                    kernels_label,
                                    test.0,
                                    r + 1,
                                    args.repetitions
                                );
                            }
                        })
                    })
                })?;
                rows.push(BenchRow { probe_gbs: probe_gbs.filter(|_| row.decode_gbs.is_some()), ..row });
            }
        }
    }
    if progress {
        eprintln!();
    }
    let baseline: Vec<BenchRow> = rows.iter().filter(|r| r.kernels == "unfused").cloned().collect();
    if !baseline.is_empty() {
        for row in rows.iter_mut() {
            let base = baseline.iter().find(|b| b.test == row.test && b.n_threads == row.n_threads);
            row.speedup_vs_unfused = base.map(|b| row.avg_ts / b.avg_ts);
        }
    }
    match format {
        "json" => println!("{}", serde_json::to_string_pretty(&rows)?),
        "csv" => {
            println!("model,model_size,model_n_params,kernels,n_threads,test,avg_ts,stddev_ts,speedup_vs_unfused,decode_gbs,probe_gbs");
            for r in &rows {
                let opt = |v: Option<f64>| v.map_or(String::new(), |s| format!("{s:.3}"));
                println!(
                    "\"{}\",{},{},{},{},{},{:.3},{:.3},{},{},{}",
                    r.model,
                    r.model_size,
                    r.model_n_params,
                    r.kernels,
                    r.n_threads,
                    r.test,
                    r.avg_ts,
                    r.stddev_ts,
                    opt(r.speedup_vs_unfused),
                    opt(r.decode_gbs),
                    opt(r.probe_gbs)
                );
            }
        }
        _ => print!("{}", markdown(&rows)),
    }
    crate::dispatch::finish(args.debug_dispatch, args.require_fused)
}

/// llama-bench's table, plus the speedup column when `unfused` was measured
/// and decode's share of the bandwidth probe when it ran.
pub fn markdown(rows: &[BenchRow]) -> String {
    let with_speedup = rows.iter().any(|r| r.speedup_vs_unfused.is_some());
    let with_probe = rows.iter().any(|r| r.probe_gbs.is_some());
    let mut out = String::from("| model | size | params | kernels | threads | test | t/s |");
    out.push_str(if with_speedup { " vs unfused |" } else { "" });
    out.push_str(if with_probe { " weights GB/s | probe GB/s | of probe |\n" } else { "\n" });
    out.push_str("| --- | ---: | ---: | --- | ---: | ---: | ---: |");
    out.push_str(if with_speedup { " ---: |" } else { "" });
    out.push_str(if with_probe { " ---: | ---: | ---: |\n" } else { "\n" });
    for r in rows {
        out.push_str(&format!(
            "| {} | {:.2} MiB | {:.2} M | {} | {} | {} | {:.2} ± {:.2} |",
            r.model,
            r.model_size as f64 / (1 << 20) as f64,
            r.model_n_params as f64 / 1e6,
            r.kernels,
            r.n_threads,
            r.test,
            r.avg_ts,
            r.stddev_ts
        ));
        if with_speedup {
            out.push_str(&r.speedup_vs_unfused.map_or(" |".into(), |s| format!(" {s:.2}x |")));
        }
        if with_probe {
            match (r.decode_gbs, r.probe_gbs, r.bandwidth_share()) {
                (Some(d), Some(p), Some(share)) => out.push_str(&format!(" {d:.1} | {p:.1} | {:.0}% |", 100.0 * share)),
                _ => out.push_str(" | | |"),
            }
        }
        out.push('\n');
    }
    out
}
