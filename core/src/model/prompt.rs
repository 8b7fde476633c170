//! Turning text and chat messages into a model's prompt tokens.

use super::Model;
use crate::chat::{ChatMessage, ChatTemplate};
use crate::error::Result;

impl Model<'_> {
    /// Tokenizes a prompt with special-token texts parsed; at the start of a
    /// conversation, BOS is added where the vocabulary wants one, unless the
    /// text already starts with it.
    pub fn tokenize_prompt(&self, text: &str, at_start: bool) -> Vec<u32> {
        let tok = &self.tokenizer;
        let starts_with_bos = tok
            .vocab
            .bos
            .and_then(|b| std::str::from_utf8(&tok.vocab.tokens[b as usize]).ok())
            .is_some_and(|bos| !bos.is_empty() && text.starts_with(bos));
        tok.encode_with(text, at_start && !starts_with_bos, true)
    }

    /// The model's chat template applied to `messages`, ending with the
    /// assistant's turn. Files without a template get their family's format
    /// (or ChatML), as in llama.cpp.
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String> {
        let source = match self.chat_template.as_deref() {
            Some(source) => source,
            None => crate::chat::fallback_template(self.config.arch.name()),
        };
        let vocab = &self.tokenizer.vocab;
        let text_of = |id: Option<u32>| id.map(|i| String::from_utf8_lossy(&vocab.tokens[i as usize]).into_owned());
        let template = ChatTemplate::new(
            source,
            &text_of(vocab.bos).unwrap_or_default(),
            &text_of(vocab.eos).unwrap_or_default(),
        )?;
        template.render(messages, true)
    }
}
