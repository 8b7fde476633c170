//! Size limits for what a chat template can build in one step.
//!
//! minijinja's fuel pays for most data a template creates (one unit per 64
//! bytes, checked before sized values such as `'x' * n` are made). A few
//! builtins make output far larger than what was charged before they ran:
//! `join` with an empty separator over a repeated list of big strings,
//! `tojson` (charged after serialising, whatever the indent), and
//! minijinja-contrib's `str.format` (widths) and `split` (one value per
//! piece). Printing a value recurses once per nesting level. The wrappers
//! here measure first, with a walk that stops as soon as the remaining
//! budget is exceeded (a lazily repeated list is never walked whole), and
//! pay up front.

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value};

/// How deep printed, joined or serialised values may nest: printing and
/// serialising recurse once per level. Real templates nest two or three
/// (messages, tool calls, their arguments).
const MAX_NESTING: usize = 64;

const TOO_MANY_ITEMS: &str = "the value holds more items than the template may still use";

/// The fuel unit: minijinja charges one fuel per 64 bytes of data.
const BYTES_PER_FUEL: usize = 64;

/// The longest text a scalar (number, bool, none) prints as.
const SCALAR_TEXT_BYTES: usize = 32;

/// What a value holds, counted without materialising it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Extent {
    /// Items of sequences and entries of maps, nested ones included.
    pub items: usize,
    /// Bytes of the strings in it (map keys included).
    pub string_bytes: usize,
    /// 0 for a scalar or string, 1 for a flat list, ...
    pub depth: usize,
}

/// Measures `value`, walking at most `item_budget` items; an error names
/// `what` once the value holds more or nests deeper than [`MAX_NESTING`].
pub(super) fn measure(value: &Value, item_budget: usize, what: &str) -> Result<Extent, Error> {
    let mut extent = Extent::default();
    let mut budget = item_budget;
    walk(value, 0, &mut budget, &mut extent)
        .map_err(|limit| Error::new(ErrorKind::InvalidOperation, format!("{what}: {limit}")))?;
    Ok(extent)
}

fn walk(value: &Value, depth: usize, budget: &mut usize, extent: &mut Extent) -> Result<(), String> {
    if let Some(text) = value.as_str() {
        extent.string_bytes = extent.string_bytes.saturating_add(text.len());
        return Ok(());
    }
    if !matches!(value.kind(), ValueKind::Seq | ValueKind::Map | ValueKind::Iterable) {
        return Ok(());
    }
    if depth == MAX_NESTING {
        return Err(format!("the value nests deeper than {MAX_NESTING} levels"));
    }
    extent.depth = extent.depth.max(depth + 1);
    if value.len().is_some_and(|n| n > *budget) {
        return Err(TOO_MANY_ITEMS.to_string());
    }
    let Ok(items) = value.try_iter() else { return Ok(()) };
    for item in items {
        if *budget == 0 {
            return Err(TOO_MANY_ITEMS.to_string());
        }
        *budget -= 1;
        extent.items += 1;
        // A map iterates its keys; anything else its items (looking an item up
        // by position in a lazy sequence would walk it again each time).
        if value.kind() == ValueKind::Map {
            walk(&item, depth + 1, budget, extent)?;
            walk(&value.get_item(&item).unwrap_or_default(), depth + 1, budget, extent)?;
        } else {
            walk(&item, depth + 1, budget, extent)?;
        }
    }
    Ok(())
}

/// The fuel left in this render (1 fuel = 64 bytes or one item).
pub(super) fn remaining_fuel(state: &State) -> usize {
    state.fuel_levels().map_or(usize::MAX, |(_, remaining)| usize::try_from(remaining).unwrap_or(usize::MAX))
}

/// Pays for `bytes` of output before it is made; the error names `what`.
pub(super) fn pay_bytes(state: &State, bytes: usize, what: &str) -> Result<(), Error> {
    let fuel = bytes / BYTES_PER_FUEL;
    if fuel > remaining_fuel(state) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("{what} would make about {bytes} bytes, more than the template may still allocate"),
        ));
    }
    state.consume_fuel(fuel as u64)
}

/// Measures `value` against the fuel left in this render.
fn measure_in(state: &State, value: &Value, what: &str) -> Result<Extent, Error> {
    measure(value, remaining_fuel(state), what)
}

/// Builtin filters replaced by a measuring wrapper; the builtin stays
/// reachable under a name a template cannot spell (it has a space).
pub(super) fn add_bounded_filters(env: &mut Environment<'static>) {
    env.add_filter(" join", minijinja::filters::join);
    env.add_filter("join", |state: &mut State, args: Rest<Value>| {
        let joiner = positional_or_keyword(&args, 1, "d").and_then(|d| d.as_str().map(str::len)).unwrap_or(0);
        let extent = measure_in(state, args.first().unwrap_or(&Value::UNDEFINED), "join")?;
        // Items print as their text, strings inside nested values quoted and
        // escaped (at most 4 bytes per byte, as `\x..` does).
        let bytes = extent
            .string_bytes
            .saturating_mul(4)
            .saturating_add(extent.items.saturating_mul(SCALAR_TEXT_BYTES.saturating_add(joiner)));
        pay_bytes(state, bytes, "join")?;
        state.apply_filter(" join", &args)
    });
    env.add_filter(" tojson", minijinja::filters::tojson);
    env.add_filter("tojson", |state: &mut State, args: Rest<Value>| {
        let indent = match positional_or_keyword(&args, 1, "indent") {
            Some(v) if v.kind() == ValueKind::Bool && v.is_true() => 2,
            Some(v) if v.kind() == ValueKind::Bool => 0,
            Some(v) => usize::try_from(v).unwrap_or(usize::MAX),
            None => 0,
        };
        let extent = measure_in(state, args.first().unwrap_or(&Value::UNDEFINED), "tojson")?;
        // Strings may be escaped to 6 bytes per byte (`\u003c`); every item
        // is on its own line, indented by its depth.
        let per_item = extent.depth.saturating_add(1).saturating_mul(indent).saturating_add(SCALAR_TEXT_BYTES);
        let bytes = extent.string_bytes.saturating_mul(6).saturating_add(extent.items.saturating_mul(per_item));
        pay_bytes(state, bytes, "tojson")?;
        state.apply_filter(" tojson", &args)
    });
}

/// Argument `index` of a filter call (the value itself is 0), given by
/// position or as the keyword `name`.
fn positional_or_keyword(args: &[Value], index: usize, name: &str) -> Option<Value> {
    let (kwargs, positional) = match args.last() {
        Some(last) if last.is_kwargs() => (Kwargs::try_from(last.clone()).ok(), &args[..args.len() - 1]),
        _ => (None, args),
    };
    positional.get(index).cloned().or_else(|| kwargs.and_then(|k| k.peek::<Value>(name).ok()))
}

/// The Python string methods of minijinja-contrib, with fuel paid up front
/// where the method's output can be much larger than what the engine has
/// charged for so far: `str.format` widths and precisions (`'{:>999999999}'`)
/// and the items `split` / `splitlines` create (a 60 MB string of `'a '`
/// would become 30 million values). The other methods pay as they go.
pub(super) fn python_method(state: &mut State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if let Some(text) = value.as_str() {
        match method {
            "format" => pay_bytes(state, format_padding_bytes(text), "str.format")?,
            "split" | "splitlines" => {
                let pieces = piece_count(text, method, args);
                pay_bytes(state, pieces.saturating_mul(BYTES_PER_FUEL), method)?
            }
            _ => {}
        }
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// The bytes the widths and precisions of a `str.format` string can ask for:
/// the sum of every number in every replacement field's format spec (the part
/// after `:`). minijinja's `str.format` has no nested fields, so widths are
/// always literal digits; counting a digit fill character too only
/// overestimates.
fn format_padding_bytes(format: &str) -> usize {
    let mut total = 0usize;
    let mut rest = format;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(escaped) = rest.strip_prefix('{') {
            rest = escaped;
            continue;
        }
        let field = &rest[..rest.find('}').unwrap_or(rest.len())];
        if let Some((_, spec)) = field.split_once(':') {
            for number in spec.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()) {
                total = total.saturating_add(number.parse().unwrap_or(usize::MAX));
            }
        }
        rest = &rest[field.len()..];
    }
    total
}

/// How many strings `text.split(...)` or `text.splitlines()` will create.
fn piece_count(text: &str, method: &str, args: &[Value]) -> usize {
    match (method, args.first().and_then(Value::as_str)) {
        ("splitlines", _) => text.lines().count(),
        (_, Some(separator)) if !separator.is_empty() => text.matches(separator).count() + 1,
        _ => text.split_whitespace().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_padding_sums_widths_and_precisions() {
        assert_eq!(format_padding_bytes("{} and {0} {{:999}}"), 0);
        assert_eq!(format_padding_bytes("{:>12}{:08.3f}|{name:^5}"), 12 + 8 + 3 + 5);
        assert_eq!(format_padding_bytes("{:99999999999999999999999}"), usize::MAX);
        assert_eq!(format_padding_bytes("{:5"), 5);
    }

    #[test]
    fn measure_counts_items_strings_and_depth() {
        let map = std::collections::BTreeMap::from([("k", Value::from("xyz"))]);
        let value = Value::from(vec![Value::from(vec![Value::from("ab"), Value::from(1)]), Value::from(map)]);
        let extent = measure(&value, 100, "test").unwrap();
        assert_eq!(extent, Extent { items: 5, string_bytes: 6, depth: 2 });
        assert!(measure(&value, 4, "test").is_err());
        let mut deep = Value::from(1);
        for _ in 0..=MAX_NESTING {
            deep = Value::from(vec![deep]);
        }
        assert!(measure(&deep, 1000, "test").unwrap_err().to_string().contains("deeper"));
    }
}
