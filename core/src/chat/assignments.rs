//! Every value a template stores in a variable passes a size check.
//!
//! A value built in one expression is as large and as deep as the fuel and
//! the parser allow, but assignments let a template build on its own results:
//! `{% set a = [a] %}` a hundred thousand times (in a loop through a
//! namespace, or just written out) nests a list so deep that printing,
//! comparing or dropping it overflows the stack, and `{% set a = a + a %}`
//! 33 times makes minijinja flatten a lazy list of 2^33 items. minijinja runs
//! assignments in its VM with no hook, so the template source is rewritten
//! before it is compiled: the right-hand side of every `{% set target = expr %}`
//! becomes `fuselm_checked((expr))`, a function that measures the value
//! (depth, items; the walk is paid for with fuel and stops at the budget) and
//! passes it through unchanged. Token spans from minijinja's own lexer place
//! the insertions; string literals, raw blocks and comments are never touched
//! and line numbers in error messages stay the same.

use minijinja::machinery::{tokenize, Token};
use minijinja::syntax::SyntaxConfig;
use minijinja::{Error, State, Value};

use super::limits;

/// The function wrapped around assigned values.
pub(super) const CHECK_FUNCTION: &str = "fuselm_checked";

/// Items the check may walk per unit of fuel: a template that keeps
/// appending to a list re-measures it at every step, so walking must be cheap
/// (a 1,000-message accumulator costs about 200k fuel), yet bounded: at most
/// 8 million items walked in one render, about 2 s where the items are a
/// lazily concatenated list 20 levels deep (the slowest kind to walk).
const ITEMS_WALKED_PER_FUEL: usize = 8;

/// The most items one assigned value may hold. Chat templates keep a few
/// messages or flags in variables; a million items is only reached on
/// purpose, for instance by doubling a list.
const MAX_ASSIGNED_ITEMS: usize = 1 << 20;

/// `source` with every assignment's value wrapped in [`CHECK_FUNCTION`]; a
/// source the lexer rejects comes back unchanged (compiling it reports the
/// error with its line).
pub(super) fn wrap_assignments(source: &str) -> String {
    let Ok(tokens) = tokenize(source, false, SyntaxConfig::default()).collect::<Result<Vec<_>, Error>>() else {
        return source.to_string();
    };
    let mut insertions: Vec<(usize, &str)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let is_set =
            matches!(tokens[i].0, Token::BlockStart) && matches!(tokens.get(i + 1), Some((Token::Ident("set"), _)));
        if !is_set {
            i += 1;
            continue;
        }
        // The first `=` outside brackets ends the target; `{% set x %}` (a
        // block assignment, whose value is rendered text) has none.
        let mut depth = 0usize;
        let mut assign = None;
        let mut end = None;
        for (j, (token, _)) in tokens.iter().enumerate().skip(i + 2) {
            match token {
                Token::BlockEnd => {
                    end = Some(j);
                    break;
                }
                Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => depth += 1,
                Token::ParenClose | Token::BracketClose | Token::BraceClose => depth = depth.saturating_sub(1),
                Token::Assign if depth == 0 && assign.is_none() => assign = Some(j),
                _ => {}
            }
        }
        let Some(end) = end else { break };
        if let Some(assign) = assign {
            insertions.push((tokens[assign].1.end_offset as usize, " fuselm_checked(("));
            insertions.push((tokens[end].1.start_offset as usize, ")) "));
        }
        i = end + 1;
    }
    let mut out = String::with_capacity(source.len() + insertions.len() * 20);
    let mut at = 0;
    for (offset, text) in insertions {
        out.push_str(&source[at..offset]);
        out.push_str(text);
        at = offset;
    }
    out.push_str(&source[at..]);
    out
}

/// The check itself: the value nests at most 64 levels and holds at most
/// [`MAX_ASSIGNED_ITEMS`] items, no more than the fuel left can pay to walk.
pub(super) fn checked(state: &State, value: Value) -> Result<Value, Error> {
    let budget = limits::remaining_fuel(state).saturating_mul(ITEMS_WALKED_PER_FUEL).min(MAX_ASSIGNED_ITEMS);
    let extent = limits::measure(&value, budget, "an assigned value")?;
    state.consume_fuel((extent.items / ITEMS_WALKED_PER_FUEL) as u64)?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_the_value_of_every_assignment_and_nothing_else() {
        assert_eq!(
            wrap_assignments("{% set x = [1, 2] %}{%- set ns.a, b = f(y=1), '{% set z = 1 %}' -%}"),
            "{% set x = fuselm_checked(( [1, 2] )) %}{%- set ns.a, b = fuselm_checked(( f(y=1), '{% set z = 1 %}' )) -%}"
        );
        let untouched =
            "{% set x %}text{% endset %}{% raw %}{% set y = 1 %}{% endraw %}{# {% set z = 1 %} #}{{ x == 1 }}";
        assert_eq!(wrap_assignments(untouched), untouched);
        assert_eq!(wrap_assignments("{% set x = "), "{% set x = ");
    }
}
