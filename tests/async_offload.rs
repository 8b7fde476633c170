//! A backend that hands its logits back later (as WebGPU does in the
//! browser), driven the way the wasm engine drives one: the generator's feed,
//! the logits handed in with `Context::receive_logits`, then its sample; the
//! bench's `TestRun` the same way. The stand-in backend computes each batch
//! with the CPU kernels in a context of its own and keeps the logits until
//! asked, so every result must equal the plain CPU path's exactly.

use std::any::Any;
use std::sync::Arc;

use fuselm::bench::TestRun;
use fuselm::generation::GenerateOptions;
use fuselm::generator::Generator;
use fuselm::gguf::GgufFile;
use fuselm::model::{Context, ContextOptions, ForwardOffload, LoadOptions, Model, OffloadFactory};
use fuselm::sampler::SamplerConfig;
use fuselm::session::Session;
use fuselm::synth::{synthesize, SynthQuant, SynthShape};
use fuselm::{Error, Result};

/// Evaluates on the CPU at once, but keeps the logits until received.
struct LateLogits {
    ctx: Context,
    pending: Option<Vec<f32>>, // [rows, n_vocab]
    /// Poisons the next logits with a NaN (a broken backend).
    poison: bool,
}

impl ForwardOffload for LateLogits {
    fn forward_batch(
        &mut self,
        model: &Model<'_>,
        tokens: &[u32],
        pos0: usize,
        all: bool,
        _: &mut [f32],
    ) -> Result<()> {
        assert!(!all, "the stand-in keeps the last row only");
        self.ctx.truncate(pos0);
        model.forward(&mut self.ctx, tokens)?;
        let mut logits = self.ctx.last_logits().to_vec();
        if self.poison {
            logits[3] = f32::NAN;
        }
        self.pending = Some(logits);
        Ok(())
    }

    fn logits_pending(&self) -> bool {
        self.pending.is_some()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

struct LateFactory;

impl OffloadFactory for LateFactory {
    fn offload(&self, model: &Model<'_>, n_ctx: usize, n_batch: usize, _: bool) -> Result<Box<dyn ForwardOffload>> {
        let options = ContextOptions { n_ctx: Some(n_ctx), n_batch, ..Default::default() };
        let ctx = Context::new(&model.config, model.n_vocab(), &options)?;
        Ok(Box::new(LateLogits { ctx, pending: None, poison: false }))
    }
}

/// Hands in what the stand-in kept, as the wasm engine does once a read-back resolves.
fn receive(ctx: &mut Context) -> Result<()> {
    ctx.receive_logits(|offload, logits| {
        let late = offload.as_any_mut().downcast_mut::<LateLogits>().expect("the stand-in backend");
        logits.copy_from_slice(&late.pending.take().expect("pending logits"));
        Ok(())
    })
}

fn tiny_bytes() -> Vec<u8> {
    let shape: SynthShape = "tiny".parse().unwrap();
    synthesize(&shape, SynthQuant::Q4KM, None, 7, |_, _| {}).unwrap().to_bytes()
}

fn clock() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
}

#[test]
fn late_logits_give_the_cpu_path_s_generation_and_bench() {
    fuselm::clock::set_clock(clock);
    let bytes = tiny_bytes();
    let file = GgufFile::parse(&bytes).unwrap();
    let mut model = Model::load(&file, LoadOptions::default()).unwrap();
    let options = GenerateOptions { max_tokens: 12, sampler: SamplerConfig::greedy(), ..Default::default() };
    let ctx_options = ContextOptions { n_ctx: Some(64), ..Default::default() };
    let prompt = model.tokenize_prompt("Hello there", true);
    let expected = Session::new(&model, &ctx_options)
        .unwrap()
        .generate_from_tokens(&model, &prompt, &options, |_| std::ops::ControlFlow::Continue(()))
        .unwrap();

    model.set_offload_factory(Arc::new(LateFactory));
    let mut session = Session::new(&model, &ctx_options).unwrap();
    let mut generator = Generator::start(&model, &mut session, &prompt, &options).unwrap();
    assert!(session.context.logits_pending(), "the prefill's logits should be on their way");
    // Sampling before they arrive is an error, not a sample from stale logits.
    assert!(generator.feed(&model, &mut session).unwrap());
    let early = generator.sample(&model, &mut session).map(|_| ()).unwrap_err();
    assert!(early.to_string().contains("still on their way"), "{early}");
    let mut tokens = Vec::new();
    loop {
        receive(&mut session.context).unwrap();
        generator.logits_arrived();
        match generator.sample(&model, &mut session).unwrap() {
            Some(event) => tokens.push(event.id),
            None => break,
        }
        if !generator.feed(&model, &mut session).unwrap() {
            break;
        }
    }
    assert_eq!(tokens, expected.tokens, "greedy ids through late logits");
    let generation = generator.finish();
    assert!(generation.timings.prompt_seconds > 0.0);

    // A NaN in late logits is caught when they are handed in.
    let late = session.context.offload_mut().unwrap().as_any_mut().downcast_mut::<LateLogits>().unwrap();
    late.poison = true;
    model.forward(&mut session.context, &[5]).unwrap();
    match receive(&mut session.context) {
        Err(Error::NonFiniteLogits { value, .. }) => assert!(value.is_nan()),
        other => panic!("expected NonFiniteLogits, got {other:?}"),
    }

    // The bench, a batch at a time with the logits handed in between.
    let test = ("tg3".to_string(), 0, 3);
    let mut run = TestRun::new(&test, 2);
    let mut batches = 0;
    while run.step(&model).unwrap() {
        batches += 1;
        let ctx = run.context_mut().unwrap();
        assert!(ctx.logits_pending());
        receive(ctx).unwrap();
    }
    assert_eq!(batches, 3 * 3, "a warm-up and two timed runs of three tokens");
    let row = run.row(&file, &model, "late", 1);
    assert_eq!(row.samples_ts.len(), 2);
    assert!(row.samples_ts.iter().all(|t| t.is_finite() && *t > 0.0), "{:?}", row.samples_ts);
}

#[test]
fn the_bench_announces_each_timed_repetition_and_refuses_an_empty_test() {
    fuselm::clock::set_clock(clock);
    let bytes = tiny_bytes();
    let file = GgufFile::parse(&bytes).unwrap();
    let model = Model::load(&file, LoadOptions::default()).unwrap();
    for test in [("pp4".to_string(), 4, 0), ("tg3".to_string(), 0, 3)] {
        let mut announced = Vec::new();
        let row = fuselm::bench::measure(&file, &model, "cpu", 1, &test, 3, |r| announced.push(r)).unwrap();
        assert_eq!(announced, [0, 1, 2], "{}", test.0);
        assert_eq!(row.samples_ts.len(), 3);
    }
    let empty = fuselm::bench::measure(&file, &model, "cpu", 1, &("none".to_string(), 0, 0), 1, |_| {});
    assert!(empty.unwrap_err().to_string().contains("nothing to measure"));
}
