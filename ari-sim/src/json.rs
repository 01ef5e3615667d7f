//! Small helpers to write JSON objects with a fixed key order.
//!
//! Asterisk emits keys in a stable order (`type`, `timestamp`, ...,
//! `asterisk_id`, `application`; `ChannelVarset` starts with `variable`). A
//! `serde_json::Value` would sort keys alphabetically unless the
//! `preserve_order` feature were enabled workspace-wide, which could change the
//! behaviour of the crate under test; so objects are assembled as text here.

use serde::Serialize;

/// An object under construction, as JSON text.
#[derive(Debug, Default)]
pub(crate) struct Obj {
    text: String,
}

impl Obj {
    pub(crate) fn new() -> Obj {
        Obj::default()
    }

    fn key(&mut self, key: &str) {
        self.text.push(if self.text.is_empty() { '{' } else { ',' });
        self.text.push_str(&quote(key));
        self.text.push(':');
    }

    /// Adds a value that is already JSON text.
    pub(crate) fn raw(mut self, key: &str, json: &str) -> Obj {
        self.key(key);
        self.text.push_str(json);
        self
    }

    /// Adds a string value.
    pub(crate) fn str(self, key: &str, value: &str) -> Obj {
        let quoted = quote(value);
        self.raw(key, &quoted)
    }

    /// Adds any serializable value.
    pub(crate) fn val<T: Serialize + ?Sized>(self, key: &str, value: &T) -> Obj {
        let text = to_json(value);
        self.raw(key, &text)
    }

    /// Finishes the object.
    pub(crate) fn finish(mut self) -> String {
        if self.text.is_empty() {
            return "{}".to_string();
        }
        self.text.push('}');
        self.text
    }
}

/// A JSON string literal.
pub(crate) fn quote(s: &str) -> String {
    to_json(s)
}

/// Serializes a value; our types always serialize, but a failure would yield
/// `null` rather than a panic.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}
