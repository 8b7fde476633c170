//! The hostile-file corpus (`tests/data/hostile/`, written by
//! `scripts/reference/hostile-corpus/make-corpus`): every broken file gets the error
//! variant its manifest names, with a message naming what is wrong; nothing
//! panics; and reading plus loading allocates no more than the file could
//! justify. Every prefix of the valid base file and thousands of random bit
//! flips are tried too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;

use fuselm::gguf::GgufFile;
use fuselm::model::{LoadOptions, Model};
use fuselm::sampler::Rng;
use fuselm::Error;

/// Counts the bytes live on this thread and their peak, so a test can bound
/// what one load allocates. Const-initialized thread locals never allocate.
struct CountingAlloc;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: forwards to the system allocator; the bookkeeping does not allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Parses and loads; returns the result and the peak bytes allocated on the way.
fn load(name: &str, bytes: &[u8]) -> (Result<(), Error>, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let result = GgufFile::parse_named(name, bytes)
        .and_then(|file| Model::load(&file, LoadOptions::default()).map_err(|e| e.in_file(name)).map(drop));
    let peak = PEAK.with(Cell::get) - start;
    (result, peak.max(0) as usize)
}

/// What loading a file of `len` bytes may allocate: the tokenizer's tables and
/// the weights' bookkeeping are a small multiple of the file, plus a constant.
fn allowed(len: usize) -> usize {
    16 * len + (1 << 20)
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostile")
}

fn variant_name(e: &Error) -> String {
    let debug = format!("{:?}", e.root());
    debug.split([' ', '(', '{']).next().unwrap_or_default().to_string()
}

#[derive(Debug)]
struct Case {
    error: Option<String>,
    mentions: Option<String>,
}

fn manifest() -> BTreeMap<String, Case> {
    let text = std::fs::read_to_string(corpus_dir().join("manifest.json")).expect("manifest.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    json.as_object()
        .expect("manifest is an object")
        .iter()
        .map(|(file, c)| {
            let s = |k: &str| c[k].as_str().map(str::to_string);
            (file.clone(), Case { error: s("error"), mentions: s("mentions") })
        })
        .collect()
}

#[test]
fn every_broken_file_gets_its_named_error() {
    let cases = manifest();
    assert!(cases.len() >= 40, "the corpus has {} files", cases.len());
    let mut failures = Vec::new();
    for (file, case) in &cases {
        let bytes = std::fs::read(corpus_dir().join(file)).expect("corpus file");
        let (result, peak) = load(file, &bytes);
        if peak > allowed(bytes.len()) {
            failures.push(format!("{file}: allocated {peak} bytes for a {}-byte file", bytes.len()));
        }
        match (result, &case.error) {
            (Ok(()), None) => {}
            (Ok(()), Some(want)) => failures.push(format!("{file}: loaded, expected {want}")),
            (Err(e), None) => failures.push(format!("{file}: expected to load, got: {e}")),
            (Err(e), Some(want)) => {
                let message = e.to_string();
                if &variant_name(&e) != want {
                    failures.push(format!("{file}: expected {want}, got {}: {message}", variant_name(&e)));
                }
                if !message.starts_with(&format!("{file}: ")) {
                    failures.push(format!("{file}: the message does not name the file: {message}"));
                }
                if let Some(text) = &case.mentions {
                    if !message.contains(text.as_str()) {
                        failures.push(format!("{file}: the message does not mention {text:?}: {message}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_prefix_of_a_valid_file_is_an_error() {
    let bytes = std::fs::read(corpus_dir().join("base.gguf")).expect("base.gguf");
    // Every length through the header and tensor infos, then a stride through the data.
    let data_start = GgufFile::parse(&bytes).expect("base parses").data_offset as usize;
    let lengths = (0..data_start + 64).chain((data_start + 64..bytes.len()).step_by(61));
    let mut tried = 0;
    for len in lengths {
        let (result, peak) = load("cut.gguf", &bytes[..len]);
        let e = result.expect_err(&format!("a {len}-byte prefix loaded"));
        assert!(
            matches!(e.root(), Error::Truncated { .. } | Error::CountTooLarge { .. } | Error::TensorOutOfBounds { .. }),
            "prefix {len}: unexpected error {e}"
        );
        assert!(peak <= allowed(len), "prefix {len}: allocated {peak} bytes");
        tried += 1;
    }
    assert!(tried > 1000, "only {tried} prefixes");
}

#[test]
fn random_bit_flips_never_panic_or_overallocate() {
    let bytes = std::fs::read(corpus_dir().join("base.gguf")).expect("base.gguf");
    let data_start = GgufFile::parse(&bytes).expect("base parses").data_offset as usize;
    let mut rng = Rng::new(2026);
    let mut errors = 0;
    for _ in 0..20_000 {
        let mut broken = bytes.clone();
        // Most flips land in the header, tensor infos and first data bytes.
        let mut flips = Vec::new();
        for _ in 0..1 + rng.next_u64() % 3 {
            let at = (rng.next_u64() % (data_start as u64 + 256)) as usize % broken.len();
            let bit = 1u8 << (rng.next_u64() % 8);
            broken[at] ^= bit;
            flips.push((at, bit));
        }
        let (result, peak) = load("flipped.gguf", &broken);
        assert!(
            peak <= allowed(broken.len()),
            "flips {flips:?} (byte, bit) made loading allocate {peak} bytes; result: {:?}",
            result.err().map(|e| e.to_string())
        );
        errors += usize::from(result.is_err());
    }
    assert!(errors > 100, "only {errors} of 20000 flipped files were rejected; are the flips landing?");
}

/// Generation stays within the same bound: a context the size the file asks
/// for allocates its KV cache only as positions are used, so a small file
/// claiming many layers, wide heads and a long context cannot make a short run
/// allocate gigabytes.
#[test]
fn a_short_generation_allocates_what_the_file_justifies() {
    use fuselm::model::ContextOptions;
    let bytes = std::fs::read(corpus_dir().join("base.gguf")).unwrap();
    let file = GgufFile::parse_named("base.gguf", &bytes).unwrap();
    let model = Model::load(&file, LoadOptions::default()).unwrap();
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let options = ContextOptions { n_ctx: Some(model.config.n_ctx_train), ..Default::default() };
    let mut ctx = model.new_context(&options).unwrap();
    assert_eq!(ctx.cache.allocated_bytes(), 0, "no KV memory before a position is used");
    model.forward(&mut ctx, &[1, 20, 21]).unwrap();
    for t in 0..8 {
        model.forward(&mut ctx, &[22 + t]).unwrap();
    }
    let per_position = ctx.cache.bytes() / ctx.n_ctx() as u64;
    assert!(ctx.cache.allocated_bytes() <= 32 * per_position, "11 positions take the first 32-position step");
    let peak = (PEAK.with(Cell::get) - start).max(0) as usize;
    assert!(peak <= allowed(bytes.len()), "a short generation allocated {peak} bytes for a {}-byte file", bytes.len());
}
