//! A chat template comes from the model file, so it is untrusted code: every
//! way a template can ask for a large allocation in one step (format widths,
//! `indent`, `tojson(indent=)`, `slice`/`batch` counts, `replace` and `join`
//! blow-ups, repetition, doubling by concatenation, materialising a lazily
//! repeated list, nesting or doubling a value by assigning it to itself)
//! must end in a named error while the render's peak memory
//! stays within a fixed budget. The peak is measured by a counting allocator,
//! so this file holds only these tests (one at a time: the counter is global).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fuselm_core::chat::{ChatMessage, ChatTemplate};
use fuselm_core::Error;

/// Live heap bytes and their high-water mark since the last reset.
struct PeakCounter;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: PeakCounter = PeakCounter;

/// Tests in this file run one at a time so each measures only its own render.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The most a render may allocate above what was live before it: the
/// template fuel pays for about 64 bytes per unit, plus headroom for
/// the engine's own bookkeeping.
const RENDER_BUDGET_BYTES: usize = 160 << 20;

/// Renders `source` and returns its result, the render's peak heap growth
/// and how long it took.
fn render_measured(source: &str) -> (fuselm_core::Result<String>, usize, Duration) {
    let template = ChatTemplate::new(source, "<s>", "</s>").expect(source);
    let messages = [ChatMessage::new("system", "Be brief."), ChatMessage::new("user", "hello\nthere")];
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let start = Instant::now();
    let result = template.render(&messages, true);
    let elapsed = start.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    (result, peak, elapsed)
}

/// Templates that each try to allocate far more than the budget in a few
/// instructions. Each must fail, except where the huge argument does not
/// change the (small) result: `batch` with a count above the length.
const HOSTILE: &[&str] = &[
    // printf-style widths and precisions.
    "{{ '%999999999999d'|format(1) }}",
    "{{ '%-99999999999s'|format('a') }}",
    "{{ '%.99999999999f'|format(1.5) }}",
    "{% for i in range(100) %}{{ '%99999999s'|format('a') }}{% endfor %}",
    // Python-style str.format widths.
    "{{ '{:>999999999999}'.format(1) }}",
    "{{ '{:0999999999999d}'.format(1) }}",
    "{% for i in range(100) %}{{ '{:>99999999}'.format('a') }}{% endfor %}",
    // Indentation and JSON indentation.
    "{{ 'a\\nb'|indent(999999999999) }}",
    "{{ messages[1].content|indent(width=99999999999, first=true) }}",
    "{% for i in range(100) %}{{ 'a\\nb'|indent(60000000) }}{% endfor %}",
    "{{ messages|tojson(indent=999999999999) }}",
    "{% for i in range(100) %}{{ messages|tojson(indent=50000000) }}{% endfor %}",
    // Counts that size a list.
    "{{ range(10)|slice(999999999999) }}",
    "{{ range(10)|batch(999999999999)|list|length }}",
    "{{ range(10)|batch(99999999999, fill_with='x') }}",
    "{{ range(100000)|batch(3, fill_with='y' * 99999999) }}",
    // Replacement and join blow-ups, filter and method forms.
    "{{ ('x' * 9999999)|replace('x', 'y' * 9999999) }}",
    "{{ ('x' * 9999999).replace('x', 'y' * 9999999) }}",
    "{{ ('x' * 99999)|replace('', 'y' * 99999) }}",
    "{{ (['x' * 9999999] * 1000)|join }}",
    "{{ ('y' * 9999999).join(['x'] * 1000) }}",
    "{{ range(100000)|join('z' * 9999999) }}",
    // Repetition, then doubling by concatenation in a namespace.
    "{% for i in range(100) %}{% set s = 'x' * 99999999 %}{{ s|length }}{% endfor %}",
    "{% set ns = namespace(s='x') %}{% for i in range(80) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(s='x') %}{% for i in range(80) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
    // Lazily repeated lists, materialised or stringified.
    "{{ ([1] * 999999999999)|list|length }}",
    "{{ ([1] * 999999999999)|join|length }}",
    "{{ ([1] * 999999999999)|sort|first }}",
    "{{ ([1] * 999999999999)|unique|list }}",
    "{{ ([1] * 999999999999)|reverse|first }}",
    "{{ ([1] * 999999999999)|sum }}",
    "{{ (([1] * 999999999999) ~ '')|length }}",
    "{{ ([1] * 999999999999)|string|length }}",
    "{{ ([1] * 999999999999)|tojson|length }}",
    "{{ 555555 * 40 * [4472] }}",
    // Building on its own results through a namespace: nesting (printing,
    // comparing and dropping recurse per level) and doubling a lazy list.
    "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l|length }}",
    "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}",
    "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l ~ '' }}",
    "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l == ns.l }}",
    "{% set ns = namespace(d={}) %}{% for i in range(100000) %}{% set ns.d = {'a': ns.d} %}{% endfor %}{{ ns.d|tojson }}",
    "{% set ns = namespace(o=namespace()) %}{% for i in range(100000) %}{% set ns.o = namespace(o=ns.o) %}{% endfor %}{{ ns.o }}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(80) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(80) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|list|length }}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(80) %}{% set ns.l, ns.m = ns.l + ns.l, 0 %}{% endfor %}{{ ns.l|length }}",
    // Splitting a big string into many small values.
    "{{ ('a ' * 15000000).split()|length }}",
    "{{ ('a\\n' * 15000000).splitlines()|length }}",
    "{{ ('x' * 30000000)|list|length }}",
    "{{ ('x' * 30000000)|reverse|length }}",
    "{{ ('x' * 30000000)|upper|lower|title|capitalize|trim|length }}",
];

#[test]
fn allocation_bombs_end_in_an_error_within_the_budget() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut report = Vec::new();
    let mut failures = Vec::new();
    // The same without a loop: assignments written out one after another.
    let written_out = [
        format!("{{% set a = [] %}}{}{{{{ a|length }}}}", "{% set a = [a] %}".repeat(100_000)),
        format!("{{% set a = [1] %}}{}{{{{ a|length }}}}", "{% set a = a + a %}".repeat(80)),
    ];
    for source in HOSTILE.iter().copied().chain(written_out.iter().map(String::as_str)) {
        let (result, peak, elapsed) = render_measured(source);
        report.push(format!("{peak:>11} B {elapsed:>9.2?} {}", source.get(..120).unwrap_or(source)));
        match result {
            Err(Error::ChatTemplate(_)) => {}
            Ok(text) if source.contains("batch(999999999999)") && text == "1" => {}
            Err(other) => failures.push(format!("{source}: expected a chat-template error, got {other}")),
            Ok(text) => failures.push(format!("{source}: rendered {} bytes instead of failing", text.len())),
        }
        if peak > RENDER_BUDGET_BYTES {
            failures.push(format!("{source}: the render allocated {peak} bytes at its peak"));
        }
        // Generous: a debug build on a loaded 2-core machine.
        if elapsed > Duration::from_secs(20) {
            failures.push(format!("{source}: took {elapsed:?}"));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The budget must not get in the way of real templates with long chats.
#[test]
fn long_conversations_render_within_the_budget() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Shaped like the Qwen2.5 template's message loop.
    let source = "{%- for message in messages %}{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) or (message.role == 'assistant') %}{{- '<|im_start|>' + message.role + '\\n' + message.content | trim + '<|im_end|>' + '\\n' }}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
    let template = ChatTemplate::new(source, "", "").unwrap();
    let turn = "word ".repeat(300);
    let messages: Vec<ChatMessage> =
        (0..500).map(|i| ChatMessage::new(if i % 2 == 0 { "user" } else { "assistant" }, &turn)).collect();
    let text = template.render(&messages, true).unwrap();
    assert_eq!(text.matches("<|im_start|>").count(), 501);

    // Templates that collect messages in a namespace re-measure the list at
    // every step: 1,000 messages must stay well inside the budget.
    let collecting = "{%- set ns = namespace(kept=[], system='') %}{%- for m in messages %}{%- if m.role == 'system' %}{%- set ns.system = m.content %}{%- else %}{%- set ns.kept = ns.kept + [m] %}{%- endif %}{%- endfor %}{{ ns.system }}{% for m in ns.kept %}[{{ m.role }}]{{ m.content|length }}{% endfor %}";
    let template = ChatTemplate::new(collecting, "", "").unwrap();
    let messages: Vec<ChatMessage> =
        (0..1000).map(|i| ChatMessage::new(["system", "user", "assistant"][i % 3], &format!("turn {i}"))).collect();
    let text = template.render(&messages, true).unwrap();
    assert_eq!(text.matches("[user]").count() + text.matches("[assistant]").count(), 666);
}
