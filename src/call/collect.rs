//! What a digit entry is, and when it is complete. Pure, so the rules are tested
//! without a call.

use std::time::Duration;

/// How to collect digits after (or during) a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collect {
    /// The most digits an entry keeps. See `ends_at_max` for what happens when
    /// the caller types more.
    pub max_digits: usize,
    /// True: the entry ends as soon as `max_digits` are typed (a menu key).
    /// False: it ends only on the terminator or a timeout, and digits beyond
    /// `max_digits` mark it as overflowed (one wrong entry) instead of spilling
    /// into the next prompt.
    pub ends_at_max: bool,
    /// A key that ends the entry without being part of it (`#` for PINs and numbers).
    pub terminator: Option<char>,
    /// Overrides `call.first_digit_timeout`.
    pub first_digit_timeout: Option<Duration>,
    /// Overrides `call.inter_digit_timeout`.
    pub inter_digit_timeout: Option<Duration>,
}

impl Collect {
    /// A number or PIN of up to `max_digits`: it ends on `#` or when the caller
    /// stops typing, never in the middle of what they type (a PIN of exactly
    /// `max_digits` followed by `#` is one entry, and the `#` is not left over
    /// for the next prompt). More digits make it [`Digits::overflow`].
    pub fn digits(max_digits: usize) -> Collect {
        Collect {
            max_digits,
            ends_at_max: false,
            terminator: Some('#'),
            first_digit_timeout: None,
            inter_digit_timeout: None,
        }
    }

    /// One menu key; `#` and `*` are keys like the others.
    pub fn one_key() -> Collect {
        Collect {
            max_digits: 1,
            ends_at_max: true,
            terminator: None,
            first_digit_timeout: None,
            inter_digit_timeout: None,
        }
    }
}

/// Why a digit entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectEnd {
    /// The terminator was pressed.
    Terminator,
    /// `max_digits` were typed.
    MaxDigits,
    /// The caller stopped typing (or never started).
    Timeout,
}

/// What the caller typed: one attempt, never a sliding window over earlier input.
/// It may be a PIN, so `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Digits {
    pub digits: String,
    pub end: CollectEnd,
    /// More than `max_digits` were typed (the extra ones are not kept): the
    /// entry cannot be a valid number or PIN.
    pub overflow: bool,
}

impl std::fmt::Debug for Digits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digits")
            .field("len", &self.digits.len())
            .field("end", &self.end)
            .field("overflow", &self.overflow)
            .finish()
    }
}

impl Digits {
    /// Nothing typed before the timeout: the flow reprompts.
    pub fn is_silence(&self) -> bool {
        self.digits.is_empty() && !self.overflow && self.end == CollectEnd::Timeout
    }
}

/// Accumulates one entry, digit by digit.
pub(crate) struct Entry<'a> {
    spec: &'a Collect,
    pub(crate) digits: String,
    overflow: bool,
}

impl<'a> Entry<'a> {
    pub(crate) fn new(spec: &'a Collect) -> Entry<'a> {
        Entry {
            spec,
            digits: String::new(),
            overflow: false,
        }
    }

    /// Adds one DTMF key; returns how the entry ended if this key ended it.
    /// Anything that is not a DTMF key (a malformed event) is ignored.
    pub(crate) fn push(&mut self, key: &str) -> Option<CollectEnd> {
        let mut chars = key.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return None;
        };
        if !is_dtmf_key(c) {
            return None;
        }
        if Some(c) == self.spec.terminator {
            return Some(CollectEnd::Terminator);
        }
        if self.digits.len() >= self.spec.max_digits {
            // Only reachable when the entry does not end at its maximum.
            self.overflow = true;
            return None;
        }
        self.digits.push(c);
        (self.spec.ends_at_max && self.digits.len() >= self.spec.max_digits)
            .then_some(CollectEnd::MaxDigits)
    }

    /// Whether anything was typed (kept or not).
    pub(crate) fn is_started(&self) -> bool {
        !self.digits.is_empty() || self.overflow
    }

    pub(crate) fn finish(self, end: CollectEnd) -> Digits {
        Digits {
            digits: self.digits,
            end,
            overflow: self.overflow,
        }
    }
}

/// The sixteen RFC 4733 keys.
fn is_dtmf_key(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminator_ends_without_being_kept() {
        let spec = Collect::digits(12);
        let mut entry = Entry::new(&spec);
        for key in ["1", "2", "3"] {
            assert_eq!(entry.push(key), None);
        }
        assert_eq!(entry.push("#"), Some(CollectEnd::Terminator));
        assert_eq!(entry.digits, "123");
    }

    #[test]
    fn a_number_ends_on_the_terminator_even_at_its_maximum() {
        let spec = Collect::digits(4);
        let mut entry = Entry::new(&spec);
        let ends: Vec<_> = ["1", "2", "3", "4", "#"]
            .iter()
            .map(|k| entry.push(k))
            .collect();
        assert_eq!(ends, [None, None, None, None, Some(CollectEnd::Terminator)]);
        let digits = entry.finish(CollectEnd::Terminator);
        assert_eq!((digits.digits.as_str(), digits.overflow), ("1234", false));
    }

    #[test]
    fn digits_beyond_the_maximum_overflow_the_entry() {
        let spec = Collect::digits(4);
        let mut entry = Entry::new(&spec);
        for key in ["1", "2", "3", "4", "5", "6"] {
            assert_eq!(entry.push(key), None);
        }
        assert_eq!(entry.push("#"), Some(CollectEnd::Terminator));
        let digits = entry.finish(CollectEnd::Terminator);
        assert_eq!((digits.digits.as_str(), digits.overflow), ("1234", true));
    }

    #[test]
    fn one_key_keeps_hash_and_star() {
        let spec = Collect::one_key();
        let mut entry = Entry::new(&spec);
        assert_eq!(entry.push("#"), Some(CollectEnd::MaxDigits));
        assert_eq!(entry.finish(CollectEnd::MaxDigits).digits, "#");
    }

    #[test]
    fn debug_never_shows_the_digits() {
        let spec = Collect::digits(8);
        let mut entry = Entry::new(&spec);
        for key in ["5", "8", "3", "9"] {
            entry.push(key);
        }
        let shown = format!("{:?}", entry.finish(CollectEnd::Terminator));
        assert!(!shown.contains("5839"), "{shown}");
        assert!(shown.contains("len: 4"), "{shown}");
    }

    #[test]
    fn odd_keys_are_ignored() {
        let spec = Collect::digits(4);
        let mut entry = Entry::new(&spec);
        assert_eq!(entry.push(""), None);
        assert_eq!(entry.push("12"), None);
        assert_eq!(entry.push("x"), None);
        assert_eq!(entry.digits, "");
    }
}
