//! The model loader on arbitrary bytes (the seeds are the hostile corpus and
//! its valid base): an error naming what is wrong, or a model that runs one
//! forward pass; never a panic.
#![no_main]

use fuselm_core::gguf::GgufFile;
use fuselm_core::model::{ContextOptions, LoadOptions, Model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::parse(data) else { return };
    let Ok(model) = Model::load(&file, LoadOptions::default()) else { return };
    // Small models only: a forward pass over a fuzzed giant would only be slow.
    if file.total_tensor_bytes() > 4 << 20 || model.config.n_layer > 4 {
        return;
    }
    let Ok(mut ctx) = model.new_context(&ContextOptions { n_ctx: Some(4), ..ContextOptions::default() }) else {
        return;
    };
    let tokens = model.tokenizer.encode("hi there", true);
    let _ = model.forward(&mut ctx, &tokens[..tokens.len().min(4)]);
});
