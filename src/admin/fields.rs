//! The descriptive fields of a mailbox as an administrator gives them, and their
//! validation. Everything is checked before anything is written, so a bad value
//! never leaves a half-updated mailbox behind.

use std::str::FromStr;

use chrono_tz::Tz;

use super::error::{AdminError, echo};
use crate::domain::Language;
use crate::store::mailboxes::MailboxRecord;

/// A display name longer than this is almost certainly a paste error, and it is
/// printed in every listing.
const NAME_MAX_CHARS: usize = 100;
/// RFC 5321's limits on a forward path and on its local part.
const EMAIL_MAX: usize = 254;
const EMAIL_LOCAL_MAX: usize = 64;

/// Mailbox fields to set. `None` leaves a field as it is (on update) or at its
/// default (on create: no name, no e-mail, `portal.default_language`, UTC). An
/// empty `email` or `display_name` removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxFields {
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// `en`, `fr`, or a regional form such as `fr_CA` (stored as the language).
    pub language: Option<String>,
    /// An IANA time zone name, e.g. `Europe/Paris`.
    pub timezone: Option<String>,
}

impl MailboxFields {
    /// Validates every given field, then applies them all to `record`. Returns the
    /// names of the fields given (for the audit entry); on error `record` is left
    /// untouched.
    pub(crate) fn apply(
        &self,
        record: &mut MailboxRecord,
    ) -> Result<Vec<&'static str>, AdminError> {
        let name = self.display_name.as_deref().map(display_name).transpose()?;
        let email = self.email.as_deref().map(email).transpose()?;
        let language = self.language.as_deref().map(Language::parse).transpose()?;
        let timezone = self.timezone.as_deref().map(timezone).transpose()?;
        let mut given = Vec::new();
        if let Some(name) = name {
            record.display_name = name;
            given.push("name");
        }
        if let Some(email) = email {
            record.email = email;
            given.push("email");
        }
        if let Some(language) = language {
            record.language = language.code().to_owned();
            given.push("language");
        }
        if let Some(timezone) = timezone {
            record.timezone = timezone;
            given.push("timezone");
        }
        Ok(given)
    }
}

/// Trimmed; no control characters, which would garble listings and terminals.
fn display_name(raw: &str) -> Result<String, AdminError> {
    let name = raw.trim();
    if name.chars().any(char::is_control) {
        return Err(AdminError::BadName("control characters are not allowed"));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(AdminError::BadName("at most 100 characters"));
    }
    Ok(name.to_owned())
}

/// `Some(address)`, or `None` for an empty string (no e-mail). Only the shape is
/// checked (one `@`, a local part, a dotted domain of letters, digits and
/// hyphens): whether the address exists is for the mail server to say.
fn email(raw: &str) -> Result<Option<String>, AdminError> {
    let address = raw.trim();
    if address.is_empty() {
        return Ok(None);
    }
    let bad = || AdminError::BadEmail(echo(address));
    let (local, domain) = address.split_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= EMAIL_LOCAL_MAX
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"@\"(),:;<>[\\]".contains(&b));
    let domain_ok =
        domain.contains('.') && domain.split('.').all(crate::domain::hostname::is_dns_label);
    if !local_ok || !domain_ok || address.len() > EMAIL_MAX {
        return Err(bad());
    }
    Ok(Some(address.to_owned()))
}

/// The canonical IANA name (`europe/paris` is refused rather than guessed: the
/// database is case-sensitive, and so are other tools that read the record).
fn timezone(raw: &str) -> Result<String, AdminError> {
    Tz::from_str(raw.trim())
        .map(|tz| tz.name().to_owned())
        .map_err(|_| AdminError::BadTimeZone(echo(raw.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MailboxId;

    fn record() -> MailboxRecord {
        MailboxRecord::new(MailboxId::parse("1001").unwrap())
    }

    #[test]
    fn emails() {
        for good in ["a@b.co", "alice.martin+vm@mail.example.org", "x_y@a-b.fr"] {
            assert_eq!(email(good).unwrap().as_deref(), Some(good), "{good}");
        }
        assert_eq!(email("  ").unwrap(), None);
        for bad in [
            "alice",
            "alice@",
            "@example.org",
            "alice@example",
            "a@b@c.org",
            "a b@c.org",
            "a@-b.org",
            "a@b..org",
            ".a@b.org",
            "a..b@c.org",
            "<a@b.org>",
        ] {
            let err = email(bad).unwrap_err();
            assert!(matches!(err, AdminError::BadEmail(_)), "{bad}");
        }
        // Surrounding blanks (a trailing newline from a script) are not part of it.
        assert_eq!(email(" a@b.org\n").unwrap().as_deref(), Some("a@b.org"));
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(timezone("Europe/Paris").unwrap(), "Europe/Paris");
        assert_eq!(timezone(" UTC ").unwrap(), "UTC");
        let err = timezone("Mars/Olympus").unwrap_err().to_string();
        assert!(
            err.contains("Mars/Olympus") && err.contains("IANA"),
            "{err}"
        );
        assert!(timezone("").is_err());
    }

    #[test]
    fn apply_is_all_or_nothing() {
        let mut r = record();
        let fields = MailboxFields {
            display_name: Some("Alice".into()),
            language: Some("klingon".into()),
            ..MailboxFields::default()
        };
        assert!(matches!(
            fields.apply(&mut r),
            Err(AdminError::BadLanguage(_))
        ));
        assert_eq!(r, record());

        let fields = MailboxFields {
            display_name: Some(" Alice Martin ".into()),
            email: Some("alice@example.org".into()),
            language: Some("fr_CA".into()),
            timezone: Some("America/Montreal".into()),
        };
        let given = fields.apply(&mut r).unwrap();
        assert_eq!(given, ["name", "email", "language", "timezone"]);
        assert_eq!(r.display_name, "Alice Martin");
        assert_eq!(r.email.as_deref(), Some("alice@example.org"));
        assert_eq!(r.language, "fr");
        assert_eq!(r.timezone, "America/Montreal");

        let clear = MailboxFields {
            email: Some(String::new()),
            ..MailboxFields::default()
        };
        assert_eq!(clear.apply(&mut r).unwrap(), ["email"]);
        assert_eq!(r.email, None);
        assert_eq!(MailboxFields::default().apply(&mut r).unwrap().len(), 0);
    }

    #[test]
    fn names() {
        assert_eq!(display_name("  Bob ").unwrap(), "Bob");
        assert!(display_name("Bob\u{1b}[2J").is_err());
        assert!(display_name(&"x".repeat(101)).is_err());
        assert_eq!(display_name("").unwrap(), "");
    }
}
