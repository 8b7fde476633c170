//! Decoder and session behaviour on a tiny synthetic model (built in memory)
//! and, where present, the real models: batch-size and thread independence,
//! context limits and shifting, errors that name what is wrong, chat templates.

mod common;

use std::ops::ControlFlow;

use fuselm::chat::ChatMessage;
use fuselm::generation::{GenerateOptions, Generation, StopReason};
use fuselm::generator::Generator;
use fuselm::gguf::{GgufFile, GgufWriter, Value};
use fuselm::kernels::KernelMode;
use fuselm::model::{ContextOptions, LoadOptions, Model};
use fuselm::sampler::SamplerConfig;
use fuselm::session::Session;
use fuselm::synth::{synthesize, SynthQuant, SynthShape};
use fuselm::Error;

fn tiny_bytes() -> Vec<u8> {
    let shape: SynthShape = "tiny".parse().unwrap();
    synthesize(&shape, SynthQuant::Q4KM, None, 7, |_, _| {}).unwrap().to_bytes()
}

/// A copy of `bytes` with metadata and tensors edited.
fn edited(
    bytes: &[u8],
    edit_meta: impl Fn(&str, Value) -> Option<Value>,
    edit_tensor: impl Fn(&str, &[u64]) -> Option<Vec<u64>>,
) -> Vec<u8> {
    let file = GgufFile::parse(bytes).unwrap();
    let mut w = GgufWriter::new();
    for (key, value) in file.metadata.iter() {
        if let Some(v) = edit_meta(key, value.to_value()) {
            w.add(key, v).unwrap();
        }
    }
    for t in &file.tensors {
        let dims = edit_tensor(t.name, &t.dims).unwrap_or_else(|| t.dims.clone());
        let data = file.tensor_data(t).to_vec();
        // Keep the byte count valid: reshape only to the same number of elements' bytes.
        let need = fuselm::gguf::tensor_bytes(t.name, t.ggml_type, &dims).unwrap() as usize;
        let mut data = data;
        data.resize(need, 0);
        w.add_tensor(t.name, t.ggml_type, &dims, data).unwrap();
    }
    w.to_bytes()
}

fn load_err(bytes: &[u8]) -> Error {
    let file = GgufFile::parse(bytes).unwrap();
    Model::load(&file, LoadOptions::default()).err().expect("load should fail")
}

fn greedy(max_tokens: usize) -> GenerateOptions {
    GenerateOptions { max_tokens, sampler: SamplerConfig::greedy(), ..Default::default() }
}

#[test]
fn wrong_shapes_unknown_architecture_and_vocabulary_mismatch_are_named() {
    let bytes = tiny_bytes();
    let bad = edited(&bytes, |_, v| Some(v), |name, dims| (name == "blk.1.attn_q.weight").then(|| vec![dims[0], 128]));
    let err = load_err(&bad);
    assert!(matches!(err, Error::TensorShape { ref tensor, .. } if tensor == "blk.1.attn_q.weight"), "{err}");
    assert!(err.to_string().contains("[256, 256]"), "{err}");

    let bad = edited(
        &bytes,
        |k, v| Some(if k == "general.architecture" { Value::Str("mamba".into()) } else { v }),
        |_, _| None,
    );
    let err = load_err(&bad);
    assert!(matches!(err, Error::UnsupportedArchitecture { ref arch, .. } if arch == "mamba"), "{err}");

    let bad = edited(
        &bytes,
        |_, v| Some(v),
        |name, dims| matches!(name, "token_embd.weight" | "output.weight").then(|| vec![dims[0], 300]),
    );
    let err = load_err(&bad);
    assert!(matches!(err, Error::TensorShape { ref tensor, .. } if tensor == "token_embd.weight"), "{err}");

    let bad = edited(&bytes, |k, v| (k != "llama.block_count").then_some(v), |_, _| None);
    let err = load_err(&bad);
    assert!(matches!(err, Error::MissingKey { ref key } if key == "llama.block_count"), "{err}");

    let bad = edited(&bytes, |_, v| Some(v), |name, _| (name == "blk.0.ffn_up.weight").then(|| vec![256, 512, 1]));
    let err = load_err(&bad);
    assert!(matches!(err, Error::TensorShape { .. }), "{err}");
}

#[test]
fn inconsistent_hyperparameters_and_unsupported_rope_scaling_are_named() {
    let bytes = tiny_bytes();
    let bad =
        edited(&bytes, |k, v| Some(if k == "llama.attention.head_count_kv" { Value::U32(3) } else { v }), |_, _| None);
    let err = load_err(&bad);
    assert!(
        matches!(err, Error::BadHyperparameter { ref what, .. } if what == "llama.attention.head_count_kv"),
        "{err}"
    );

    let file = GgufFile::parse(&bytes).unwrap();
    let mut w = GgufWriter::new();
    for (key, value) in file.metadata.iter() {
        w.add(key, value.to_value()).unwrap();
    }
    w.add("llama.rope.scaling.type", Value::Str("yarn".into())).unwrap();
    for t in &file.tensors {
        w.add_tensor(t.name, t.ggml_type, &t.dims, file.tensor_data(t).to_vec()).unwrap();
    }
    let err = load_err(&w.to_bytes());
    assert!(matches!(err, Error::WrongType { ref key, .. } if key == "llama.rope.scaling.type"), "{err}");
    assert!(err.to_string().contains("yarn"), "{err}");
}

/// Logits after `tokens` evaluated in batches of `n_batch`.
fn logits_with_batch(model: &Model<'_>, tokens: &[u32], n_batch: usize) -> Vec<f32> {
    let mut ctx = model.new_context(&ContextOptions { n_ctx: Some(256), n_batch, ..Default::default() }).unwrap();
    model.forward(&mut ctx, tokens).unwrap();
    ctx.last_logits().to_vec()
}

/// With the exact kernels nothing depends on the batch size; with the default
/// (tiled prefill where the CPU has it) the batch size picks per-row or tiled
/// kernels, which sum floats in different orders, but threads never matter.
#[test]
fn batch_size_and_thread_count_do_not_change_logits() {
    let bytes = tiny_bytes();
    let mut files = vec![("tiny".to_string(), bytes)];
    if let Some((path, _)) = common::present_models().into_iter().next() {
        files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    for ((name, bytes), mode) in files.iter().flat_map(|f| [(f, KernelMode::Exact), (f, KernelMode::Auto)]) {
        let file = GgufFile::parse(bytes).unwrap();
        let model = Model::load(&file, LoadOptions { kernel_mode: mode, ..LoadOptions::default() }).unwrap();
        let tokens =
            model.tokenizer.encode("The quick brown fox jumps over the lazy dog, twice: the quick brown fox.", true);
        let whole = logits_with_batch(&model, &tokens, 512);
        let batches: &[usize] = if mode == KernelMode::Exact { &[1, 3, 7] } else { &[] };
        for &n_batch in batches {
            assert_eq!(logits_with_batch(&model, &tokens, n_batch), whole, "{name} {mode:?}: n_batch {n_batch}");
        }
        for threads in [1, 3, 8] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let logits = pool.install(|| logits_with_batch(&model, &tokens, 512));
            assert_eq!(logits, whole, "{name}: {threads} threads");
        }
    }
}

#[test]
fn full_context_is_an_error_unless_shifting_is_asked_for() {
    let bytes = tiny_bytes();
    let file = GgufFile::parse(&bytes).unwrap();
    let model = Model::load(&file, LoadOptions::default()).unwrap();
    let mut session = Session::new(&model, &ContextOptions { n_ctx: Some(16), ..Default::default() }).unwrap();

    let long: Vec<u32> = (3..30).collect();
    let err = session.generate_from_tokens(&model, &long, &greedy(4), |_| ControlFlow::Continue(())).unwrap_err();
    assert!(matches!(err, Error::ContextFull { n_ctx: 16, used: 0, requested: 27 }), "{err}");

    session.reset();
    let prompt: Vec<u32> = vec![1, 40, 41, 42];
    let err = session.generate_from_tokens(&model, &prompt, &greedy(40), |_| ControlFlow::Continue(())).unwrap_err();
    assert!(matches!(err, Error::ContextFull { n_ctx: 16, used: 16, requested: 1 }), "{err}");
    assert!(
        err.to_string().contains("16 of 16 positions are used") && err.to_string().contains("context shift"),
        "{err}"
    );

    session.reset();
    let shifting = GenerateOptions { context_shift: true, ..greedy(40) };
    let out = session.generate_from_tokens(&model, &prompt, &shifting, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(out.tokens.len(), 40);
    assert_eq!(out.stop_reason, StopReason::MaxTokens);
    assert!(session.history.len() <= 16);
    assert_eq!(session.history[0], 1, "BOS is kept across shifts");
    assert_eq!(session.context.n_past(), session.history.len());
}

#[test]
fn bad_inputs_are_errors() {
    let bytes = tiny_bytes();
    let file = GgufFile::parse(&bytes).unwrap();
    let model = Model::load(&file, LoadOptions::default()).unwrap();
    let mut ctx = model.new_context(&ContextOptions { n_ctx: Some(8), ..Default::default() }).unwrap();
    let err = model.forward(&mut ctx, &[1, 100_000]).unwrap_err();
    assert!(err.to_string().contains("100000"), "{err}");
    assert_eq!(ctx.n_past(), 0, "a rejected batch changes nothing");
    assert!(model.forward(&mut ctx, &[]).is_err());
    for bad in [Some(0), Some(1 << 20)] {
        let err = model.new_context(&ContextOptions { n_ctx: bad, ..Default::default() }).err().unwrap();
        assert!(matches!(err, Error::BadSetting { what: "context size", .. }), "{err}");
    }
    let mut session = Session::new(&model, &ContextOptions::default()).unwrap();
    assert!(session.generate_from_tokens(&model, &[], &greedy(4), |_| ControlFlow::Continue(())).is_err());
    // No template in the file: ChatML, as llama.cpp.
    let chat = session.chat_prompt(&model, &[ChatMessage::new("user", "hi")]).unwrap();
    assert_eq!(chat, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

/// Runs a generation started with [`Generator::start_reusing`] to its end.
fn run_reusing(model: &Model<'_>, session: &mut Session, prompt: &[u32], options: &GenerateOptions) -> Generation {
    let mut generator = Generator::start_reusing(model, session, prompt, options).unwrap();
    while generator.step(model, session).unwrap().is_some() {}
    generator.finish()
}

#[test]
fn a_prompt_that_extends_the_last_one_reuses_the_cache_and_answers_the_same() {
    let bytes = tiny_bytes();
    let file = GgufFile::parse(&bytes).unwrap();
    // The exact set computes every (row, token) and every attention row the
    // same way whatever the batch split, so a reused cache must give the very
    // ids of a fresh one. The fast set's batched prefill (tiled products, f32
    // attention) rounds otherwise than its decode steps, and this random
    // model's near-ties show it.
    let options = LoadOptions { kernel_mode: KernelMode::Exact, ..LoadOptions::default() };
    let model = Model::load(&file, options).unwrap();
    let options = GenerateOptions { ignore_eos: true, ..greedy(8) };
    let fresh = |prompt: &[u32]| {
        let mut session = Session::new(&model, &ContextOptions { n_ctx: Some(128), ..Default::default() }).unwrap();
        run_reusing(&model, &mut session, prompt, &options)
    };
    let mut session = Session::new(&model, &ContextOptions { n_ctx: Some(128), ..Default::default() }).unwrap();

    // Turn one: nothing cached.
    let turn1: Vec<u32> = vec![1, 40, 41, 42, 43, 44];
    let out1 = run_reusing(&model, &mut session, &turn1, &options);
    assert_eq!(out1.timings.cached_tokens, 0);
    assert_eq!(out1.timings.prompt_tokens, turn1.len());
    assert_eq!(out1.tokens, fresh(&turn1).tokens);

    // Turn two: the first prompt, the reply, and more. Everything but the
    // last reply token (sampled, never evaluated) is in the cache already.
    let turn2: Vec<u32> = turn1.iter().chain(&out1.tokens).chain(&[50, 51, 52]).copied().collect();
    let out2 = run_reusing(&model, &mut session, &turn2, &options);
    assert_eq!(out2.timings.cached_tokens, turn1.len() + out1.tokens.len() - 1);
    assert_eq!(out2.timings.prompt_tokens, 4);
    assert_eq!(out2.tokens, fresh(&turn2).tokens, "reusing the cache changed the answer");

    // A prompt that diverges early keeps only the shared part.
    let other: Vec<u32> = vec![1, 40, 41, 90, 91];
    let out3 = run_reusing(&model, &mut session, &other, &options);
    assert_eq!(out3.timings.cached_tokens, 3);
    assert_eq!(out3.tokens, fresh(&other).tokens);

    // The same prompt again: all but its last token is reused.
    let out4 = run_reusing(&model, &mut session, &other, &options);
    assert_eq!((out4.timings.cached_tokens, out4.timings.prompt_tokens), (other.len() - 1, 1));
    assert_eq!(out4.tokens, out3.tokens);
}

#[test]
fn cancelling_from_the_callback_stops_generation() {
    let bytes = tiny_bytes();
    let file = GgufFile::parse(&bytes).unwrap();
    let model = Model::load(&file, LoadOptions::default()).unwrap();
    let mut session = Session::new(&model, &ContextOptions::default()).unwrap();
    let out = session
        .generate_from_tokens(&model, &[1, 50, 60], &greedy(100), |e| {
            if e.index == 4 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(out.stop_reason, StopReason::Cancelled);
    assert_eq!(out.tokens.len(), 5);
}

#[test]
fn real_models_chat_templates_render_and_generate() {
    for (path, _) in common::present_models() {
        let bytes = std::fs::read(&path).unwrap();
        let file = GgufFile::parse(&bytes).unwrap();
        let model = Model::load(&file, LoadOptions::default()).unwrap();
        let mut session = Session::new(&model, &ContextOptions { n_ctx: Some(256), ..Default::default() }).unwrap();
        let prompt = session
            .chat_prompt(&model, &[ChatMessage::new("user", "What is the capital of France? Answer in one word.")])
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(prompt.contains("capital of France"), "{prompt}");
        // The turn markers are the vocabulary's control tokens, not text.
        let ids = session.tokenize_prompt(&model, &prompt);
        assert!(ids.iter().any(|&id| model.tokenizer.vocab.control[id as usize]), "{}: {prompt:?}", path.display());
        let out = session.generate(&model, &prompt, &greedy(24), |_| ControlFlow::Continue(())).unwrap();
        eprintln!("{}: {:?} ({:?})", path.display(), out.text, out.stop_reason);
        // Base models ramble; the instruction-tuned one answers.
        if path.to_string_lossy().contains("Instruct") {
            assert!(out.text.contains("Paris"), "{}: {:?}", path.display(), out.text);
        }
    }
}

/// A tier can be forced by name where the CPU has it (every matrix then runs
/// on that tier); a tier it lacks is an error naming the tier and the ones it has.
#[test]
fn a_kernel_tier_is_forced_by_name_or_refused_where_missing() {
    use fuselm::kernels::Isa;
    let bytes = tiny_bytes();
    let file = GgufFile::parse(&bytes).unwrap();
    for isa in Isa::ALL {
        let options = LoadOptions { kernel_mode: KernelMode::Tier(isa), ..LoadOptions::default() };
        match Model::load(&file, options) {
            Ok(model) => {
                assert!(Isa::available().contains(&isa), "{isa} loaded but is not available");
                assert_eq!(model.weights.output.kernel.isa, isa, "{isa}");
            }
            Err(e) => {
                assert!(!Isa::available().contains(&isa), "{isa}: {e}");
                let text = e.to_string();
                assert!(text.contains("kernel tier") && text.contains(isa.name()), "{text}");
            }
        }
    }
}
