//! The fast kernel set through a whole forward pass, on every tier of this
//! CPU that has it (`--nocapture` prints which ran): a tiny stand-in of each
//! quant recipe, synthesized in memory, prefilled as one batch (so every
//! product takes its tiled kernel and attention its f32 prefill path) against
//! the exact set. The kernel tests (`tiled_kernels.rs`) prove each tile; this
//! proves the tiers are wired into the model: no NaN, logits within float
//! rounding of the exact set, and the NEON i8mm tier equal to the dotprod
//! tier bit for bit (same integers, same fused float step, same row kernels).

use fuselm_core::gguf::GgufFile;
use fuselm_core::kernels::{Isa, KernelMode};
use fuselm_core::model::{ContextOptions, LoadOptions, Model};
use fuselm_core::synth::{synthesize, SynthQuant, SHAPES};

const N_TOKENS: usize = 24;

/// Logits of every position, `[N_TOKENS, n_vocab]`, one batch.
fn logits(file: &GgufFile<'_>, kernel_mode: KernelMode, tokens: &[u32]) -> Vec<f32> {
    let model = Model::load(file, LoadOptions { kernel_mode, isa: None }).unwrap();
    let options = ContextOptions { n_ctx: Some(64), n_batch: tokens.len(), logits_all: true, ..Default::default() };
    let mut ctx = model.new_context(&options).unwrap();
    model.forward(&mut ctx, tokens).unwrap();
    (0..tokens.len()).flat_map(|i| ctx.logits_row(i).to_vec()).collect()
}

#[test]
fn every_fast_tier_runs_the_model_within_rounding_of_the_exact_set() {
    let tiers: Vec<Isa> = Isa::available().into_iter().filter(|isa| isa.has_fast_set()).collect();
    println!("fast-set tiers on this CPU: {:?}", tiers.iter().map(|i| i.name()).collect::<Vec<_>>());
    let tiny = SHAPES.iter().find(|s| s.name == "tiny").unwrap();
    // Q2_K, Q3_K (+Q4_K, Q5_K, Q6_K in the mixes), Q4_K_M (Q4_K, Q6_K), Q8_0.
    for quant in [SynthQuant::Q2K, SynthQuant::Q3KS, SynthQuant::Q4KM, SynthQuant::Q8_0] {
        let bytes = synthesize(tiny, quant, None, 7, |_, _| {}).unwrap().to_bytes();
        let file = GgufFile::parse(&bytes).unwrap();
        let tokens: Vec<u32> = (0..N_TOKENS as u32).map(|i| 3 + (i * 37) % 500).collect();
        let exact = logits(&file, KernelMode::Exact, &tokens);
        let mut per_tier = Vec::new();
        for &isa in &tiers {
            let fast = logits(&file, KernelMode::Tier(isa), &tokens);
            assert!(fast.iter().all(|x| x.is_finite()), "{} on {isa}: non-finite logits", quant.name());
            let rms = |v: &mut dyn Iterator<Item = f32>| {
                let (sum, n) = v.fold((0f64, 0usize), |(s, n), x| (s + (x as f64).powi(2), n + 1));
                (sum / n as f64).sqrt()
            };
            let off = rms(&mut fast.iter().zip(&exact).map(|(a, b)| a - b)) / rms(&mut exact.iter().copied());
            println!("{} on {isa}: rms(fast - exact) / rms(exact) = {off:.2e}", quant.name());
            // The fast set differs in float order only (and f32 instead of f16
            // attention sums): about 1% on this tiny random model, whose
            // near-uniform logits magnify rounding. A wrong row, token or
            // scale is of the order of the logits themselves.
            assert!(off <= 0.1, "{} on {isa}: logits off by {off:.3} of their rms", quant.name());
            per_tier.push((isa, fast));
        }
        let of = |isa| per_tier.iter().find(|(i, _)| *i == isa).map(|(_, l)| l);
        if let (Some(i8mm), Some(dotprod)) = (of(Isa::NeonI8mm), of(Isa::NeonDotprod)) {
            let same = i8mm.iter().zip(dotprod).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{}: neon-i8mm logits differ from neon-dotprod's", quant.name());
        }
    }
}
