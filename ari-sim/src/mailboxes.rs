//! Mailbox message counts (`/mailboxes`, res_mwi_external). No events.

use std::collections::BTreeMap;

/// Mailbox name => (old, new) message counts.
#[derive(Debug, Default)]
pub(crate) struct Mailboxes {
    map: BTreeMap<String, (u32, u32)>,
}

impl Mailboxes {
    pub(crate) fn get(&self, name: &str) -> Option<(u32, u32)> {
        self.map.get(name).copied()
    }

    pub(crate) fn put(&mut self, name: &str, old: u32, new: u32) {
        self.map.insert(name.to_string(), (old, new));
    }

    pub(crate) fn remove(&mut self, name: &str) -> bool {
        self.map.remove(name).is_some()
    }

    /// One mailbox as ARI shows it.
    pub(crate) fn json(name: &str, (old, new): (u32, u32)) -> String {
        crate::json::Obj::new()
            .str("name", name)
            .val("old_messages", &old)
            .val("new_messages", &new)
            .finish()
    }

    /// `GET /mailboxes` body.
    pub(crate) fn list_json(&self) -> String {
        let items: Vec<String> = self
            .map
            .iter()
            .map(|(n, c)| Mailboxes::json(n, *c))
            .collect();
        format!("[{}]", items.join(","))
    }
}
