//! Chat prompts: the model's own `tokenizer.chat_template` (Jinja) rendered
//! with minijinja, plus the Python string methods templates call
//! (`.strip()`, `.startswith()`, ...) from minijinja-contrib's pycompat.

use std::collections::BTreeMap;

use minijinja::{Environment, ErrorKind, Value};

use crate::error::{Error, Result};

mod assignments;
mod limits;

/// Gemma's turn format, for Gemma files that carry no template.
const GEMMA_TEMPLATE: &str = "{{ bos_token }}{% for m in messages %}{% set role = 'model' if m.role == 'assistant' else 'user' %}{% if m.role == 'system' %}{{ '<start_of_turn>user\n' + m.content + '\n' }}{% else %}{{ '<start_of_turn>' + role + '\n' + m.content + '<end_of_turn>\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}";

/// ChatML, llama.cpp's default when a file has no template.
const CHATML_TEMPLATE: &str = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// The template for a file without `tokenizer.chat_template`: the family's
/// own format where the architecture says which, otherwise ChatML (as llama.cpp).
pub fn fallback_template(architecture: &str) -> &'static str {
    match architecture {
        "gemma" | "gemma2" | "gemma3" => GEMMA_TEMPLATE,
        _ => CHATML_TEMPLATE,
    }
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &str, content: &str) -> ChatMessage {
        ChatMessage { role: role.to_string(), content: content.to_string() }
    }
}

/// The work and memory one render may use. A chat template comes from the
/// model file, which is untrusted: without a bound, a template that loops a
/// billion times would hang the engine and one that doubles a string in a
/// loop would exhaust memory. minijinja charges one unit per instruction, per
/// item a builtin iterates and per 64 bytes a value holds (checked before a
/// sized value such as `'x' * n` or a padded `format` is created), so this
/// bounds a render to about a million instructions or 64 MB of values. Real
/// templates use a few hundred units per message.
const TEMPLATE_FUEL: u64 = 1_000_000;

/// The most bytes a rendered prompt may have. Printing is not fuel-metered: a
/// template printing a lazily repeated list (`{{ 555555 * 40 * [1] }}`, found
/// by fuzzing) would otherwise write for minutes.
const MAX_PROMPT_BYTES: usize = 1 << 20;

/// The most items (counted through nested sequences and maps) one printed
/// value may hold. A lazily repeated list is printed item by item even after
/// the output has failed, and printing recurses once per nesting level, so
/// the size and depth are checked before printing.
const MAX_PRINTED_ITEMS: usize = 100_000;

/// A `String` sink that fails once more than [`MAX_PROMPT_BYTES`] arrive.
struct BoundedText(Vec<u8>);

impl std::io::Write for BoundedText {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_PROMPT_BYTES {
            return Err(std::io::Error::other(format!("the rendered prompt exceeds {MAX_PROMPT_BYTES} bytes")));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A compiled chat template with the special-token texts it may reference.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Compiles `source`; a syntax error names the line.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<ChatTemplate> {
        let mut env = Environment::new();
        env.set_fuel(Some(TEMPLATE_FUEL));
        env.set_formatter(|out, state, value| {
            limits::measure(value, MAX_PRINTED_ITEMS, "printing a value")?;
            minijinja::escape_formatter(out, state, value)
        });
        env.set_unknown_method_callback(limits::python_method);
        limits::add_bounded_filters(&mut env);
        env.add_function("raise_exception", |message: String| -> std::result::Result<Value, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
        });
        // Templates that print a date get a fixed one: the core has no clock.
        env.add_function("strftime_now", |_format: String| "26 Jul 2024".to_string());
        env.add_function(assignments::CHECK_FUNCTION, assignments::checked);
        env.add_template_owned("chat", assignments::wrap_assignments(source)).map_err(template_error)?;
        Ok(ChatTemplate { env, bos_token: bos_token.to_string(), eos_token: eos_token.to_string() })
    }

    /// Renders the conversation; with `add_generation_prompt` the text ends
    /// where the assistant's reply begins.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| {
                let mut map = BTreeMap::new();
                map.insert("role", Value::from(m.role.as_str()));
                map.insert("content", Value::from(m.content.as_str()));
                Value::from(map)
            })
            .collect();
        let mut ctx = BTreeMap::new();
        ctx.insert("messages", Value::from(messages));
        ctx.insert("add_generation_prompt", Value::from(add_generation_prompt));
        ctx.insert("bos_token", Value::from(self.bos_token.as_str()));
        ctx.insert("eos_token", Value::from(self.eos_token.as_str()));
        let template = self.env.get_template("chat").map_err(template_error)?;
        let mut out = BoundedText(Vec::new());
        template.render_captured_to(Value::from(ctx), &mut out).map_err(template_error)?;
        // minijinja writes only UTF-8 text.
        String::from_utf8(out.0).map_err(|e| Error::ChatTemplate(e.to_string()))
    }
}

fn template_error(e: minijinja::Error) -> Error {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        message.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    Error::ChatTemplate(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] | trim + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    #[test]
    fn hostile_templates_end_with_an_error() {
        let hello = [ChatMessage::new("user", "hi")];
        for source in [
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
            "{{ raise_exception('no system role') }}",
            "{% for m in messages %}{{ m.content.nosuchmethod() }}{% endfor %}",
            // Found by fuzzing: printing a 22-million-item lazy list.
            "{{555555*40*[4472]}}",
        ] {
            let t = ChatTemplate::new(source, "", "").unwrap();
            let err = t.render(&hello, true).unwrap_err();
            assert!(matches!(err, Error::ChatTemplate(_)), "{source}: {err}");
        }
    }

    #[test]
    fn renders_chatml_with_generation_prompt() {
        let t = ChatTemplate::new(CHATML, "", "<|im_end|>").unwrap();
        let text =
            t.render(&[ChatMessage::new("system", "Be brief."), ChatMessage::new("user", " Hi ")], true).unwrap();
        assert_eq!(
            text,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn python_string_methods_and_raise_exception_work() {
        let src = "{{ bos_token }}{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}{{ raise_exception('bad role ' + m.role) }}{% endif %}{{ m.content.strip().upper() }}{% endfor %}";
        let t = ChatTemplate::new(src, "<s>", "</s>").unwrap();
        assert_eq!(t.render(&[ChatMessage::new("user", "  hey ")], false).unwrap(), "<s>HEY");
        let err = t.render(&[ChatMessage::new("tool", "x")], false).unwrap_err();
        assert!(err.to_string().contains("bad role tool"), "{err}");
    }

    #[test]
    fn syntax_errors_are_reported() {
        let err = ChatTemplate::new("{% for m in messages %}", "", "").err().unwrap();
        assert!(matches!(err, Error::ChatTemplate(_)), "{err}");
    }
}
