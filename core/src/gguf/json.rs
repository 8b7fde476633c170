//! Metadata values as JSON (`fuselm inspect --json`, the browser's model info).

use serde_json::{json, Value as Json};

use super::MetaValue;

/// JSON for a value; arrays keep at most `max_items` items.
pub fn value_to_json(value: &MetaValue<'_>, max_items: usize) -> Json {
    match value {
        MetaValue::Str(s) => Json::String(String::from_utf8_lossy(s).into_owned()),
        MetaValue::Bool(b) => Json::Bool(*b),
        MetaValue::Array(a) => Json::Array(a.iter().take(max_items).map(|v| value_to_json(&v, max_items)).collect()),
        // serde_json writes non-finite floats as null.
        // Widen through the shortest f32 decimal so 1e-6f32 prints as 1e-6, not 9.99999997e-7.
        MetaValue::F32(f) => f.to_string().parse::<f64>().map_or(Json::Null, |f| json!(f)),
        MetaValue::F64(f) => json!(f),
        integer => integer.as_integer().map_or(Json::Null, |i| {
            if let Ok(i) = i64::try_from(i) {
                json!(i)
            } else {
                json!(i as u64)
            }
        }),
    }
}
