//! Mailbox numbers.

use std::fmt;

/// A mailbox number as the dialplan and the phones know it: 1 to 20 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxIdError {
    #[error("a mailbox number cannot be empty")]
    Empty,
    #[error("a mailbox number has at most 20 digits")]
    TooLong,
    #[error("a mailbox number has digits only")]
    NotDigits,
}

impl MailboxId {
    pub const MAX_LEN: usize = 20;

    pub fn parse(raw: &str) -> Result<MailboxId, MailboxIdError> {
        let raw = raw.trim();
        if raw.is_empty() {
            Err(MailboxIdError::Empty)
        } else if raw.len() > Self::MAX_LEN {
            Err(MailboxIdError::TooLong)
        } else if !raw.bytes().all(|b| b.is_ascii_digit()) {
            Err(MailboxIdError::NotDigits)
        } else {
            Ok(MailboxId(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ARI stored-recording name of one of this mailbox's recordings
    /// (`name`, `unavail`, `busy`, `temp`): `voiceportal/1001/name`. Asterisk keeps
    /// it under its recordings directory, in `voiceportal/1001/`.
    pub fn recording(&self, what: &str) -> String {
        format!("voiceportal/{}/{what}", self.0)
    }
}

impl fmt::Display for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_digits_only() {
        assert_eq!(MailboxId::parse(" 1001 ").unwrap().as_str(), "1001");
        assert_eq!(MailboxId::parse(""), Err(MailboxIdError::Empty));
        assert_eq!(MailboxId::parse("10a1"), Err(MailboxIdError::NotDigits));
        assert_eq!(MailboxId::parse("1{2}"), Err(MailboxIdError::NotDigits));
        assert_eq!(
            MailboxId::parse(&"1".repeat(21)),
            Err(MailboxIdError::TooLong)
        );
    }
}
