//! PINs and the policy a new PIN must satisfy.
//!
//! A [`Pin`] is what a caller typed or an administrator set. It is a secret: it has
//! no `Display`, its `Debug` is masked, and no error message ever repeats it, so it
//! cannot end up in a log line by accident. The only way to read it is
//! [`Pin::expose`], which the hasher calls.
//!
//! [`PinPolicy`] holds the rules of the SPEC ("PIN policy"). The pure rules are in
//! [`PinPolicy::check_rules`]; [`PinPolicy::check`] adds the two rules that need hash
//! comparisons (org default PIN, recent PINs) and runs everything cheapest first, so
//! an obviously bad PIN never costs an argon2 computation.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::mailbox::MailboxId;
use super::pin_hash::Hashing;

/// A PIN or passcode: digits only, at least one, at most [`Pin::MAX_LEN`].
///
/// Deliberately not `Display`: formatting a PIN must be a visible decision
/// (`expose`), never a side effect of `{}` in a log macro.
#[derive(Clone, Eq)]
pub struct Pin(String);

impl Pin {
    /// No policy may allow longer PINs than this (see [`PinPolicy::validate`]), so a
    /// longer entry can never be a valid PIN; refusing it here also bounds what is
    /// fed to the hasher from any input path.
    pub const MAX_LEN: usize = 20;

    /// Parses what was typed on a keypad or given to the admin CLI/API. Surrounding
    /// whitespace (a trailing newline from a terminal) is ignored; anything but the
    /// digits 0-9 inside is refused, including `*` and `#`, which terminate an entry
    /// and never belong to it.
    pub fn parse(raw: &str) -> Result<Pin, PinRejection> {
        let digits = raw.trim();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PinRejection::NotDigits);
        }
        if digits.len() > Self::MAX_LEN {
            return Err(PinRejection::TooLong { max: Self::MAX_LEN });
        }
        Ok(Pin(digits.to_owned()))
    }

    /// The digits, for the hasher. Never log or display this.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Number of digits (not secret: the policy reports length limits).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false for a parsed PIN; present because `len` is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// Compares without an early exit on the first differing digit, so comparing a
/// typed confirmation with a new PIN leaks nothing through timing but the length.
impl PartialEq for Pin {
    fn eq(&self, other: &Pin) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Why a PIN was refused. One variant per reason so the flows can say it
/// ("that PIN is too short") and the admin CLI can print it. No variant carries the
/// PIN or anything derived from it; the messages only name policy numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinRejection {
    /// Empty, or something other than the digits 0-9.
    #[error("a PIN is made of the digits 0 to 9 only and cannot be empty")]
    NotDigits,
    #[error("the PIN is too short: it needs at least {min} digits")]
    TooShort { min: usize },
    #[error("the PIN is too long: it may have at most {max} digits")]
    TooLong { max: usize },
    /// Every digit is the same.
    #[error("the PIN cannot be a single digit repeated")]
    RepeatedDigit,
    /// The whole PIN is an ascending or descending run (wrap-around included).
    #[error("the PIN cannot be a run of consecutive digits, ascending or descending")]
    Sequence,
    /// The PIN is, or contains, the mailbox number or its reverse.
    #[error("the PIN cannot be or contain the mailbox number, forwards or backwards")]
    MailboxNumber,
    /// The PIN equals the organisation's default PIN.
    #[error("the PIN cannot be the organisation's default PIN")]
    DefaultPin,
    /// The PIN is one of the mailbox's recent PINs.
    #[error("the PIN was used recently for this mailbox; choose a new one")]
    RecentlyUsed,
}

impl PinRejection {
    /// One of each kind, for tests that must cover every reason.
    #[cfg(test)]
    pub(crate) const EVERY_KIND: [PinRejection; 8] = [
        PinRejection::NotDigits,
        PinRejection::TooShort { min: 6 },
        PinRejection::TooLong { max: 12 },
        PinRejection::RepeatedDigit,
        PinRejection::Sequence,
        PinRejection::MailboxNumber,
        PinRejection::DefaultPin,
        PinRejection::RecentlyUsed,
    ];
}

/// The rules a new PIN must satisfy (SPEC "PIN policy"); every field is configurable.
///
/// These rules apply to PINs an owner chooses. An administrator's temporary PIN is
/// forced to change at the next login anyway, so the admin tools may apply only
/// [`PinPolicy::check_rules`] to it, or nothing; that is their call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PinPolicy {
    /// Fewest digits; [`PinPolicy::ABSOLUTE_MIN_LENGTH`] is enforced even if a
    /// smaller value slips past validation.
    pub min_length: usize,
    /// Most digits; at most [`Pin::MAX_LEN`].
    pub max_length: usize,
    /// Refuse one digit repeated (`000000`).
    pub forbid_repeated_digit: bool,
    /// Refuse ascending or descending runs, wrap-around included.
    pub forbid_sequences: bool,
    /// Refuse the mailbox number or its reverse (see [`PinPolicy::check_rules`]).
    pub forbid_mailbox_number: bool,
    /// Refuse the organisation's default PIN.
    pub forbid_default_pin: bool,
    /// Refuse the last N PINs of the mailbox; 0 turns the rule off.
    pub history: usize,
}

impl Default for PinPolicy {
    fn default() -> Self {
        PinPolicy {
            min_length: 6,
            max_length: 12,
            forbid_repeated_digit: true,
            forbid_sequences: true,
            forbid_mailbox_number: true,
            forbid_default_pin: true,
            history: 5,
        }
    }
}

impl PinPolicy {
    /// The SPEC allows the minimum to be configured down to 4, never below: fewer
    /// digits are 1000 combinations or less, which even a lockout does not make safe.
    pub const ABSOLUTE_MIN_LENGTH: usize = 4;
    /// Every history entry costs one argon2 verification when a PIN is changed, so
    /// the history is bounded to keep a PIN change fast.
    pub const MAX_HISTORY: usize = 20;
    /// A mailbox number at least this long is refused anywhere inside a PIN; a
    /// shorter one only as the whole PIN (a one- or two-digit number inside a PIN
    /// would refuse a large share of good PINs for no real gain).
    pub const MAILBOX_CONTAINMENT_MIN_LEN: usize = 3;

    /// Checks the values serde alone cannot, for config validation. The message
    /// names the field so the config layer can prefix its section.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_length < Self::ABSOLUTE_MIN_LENGTH {
            return Err(format!(
                "min_length must be at least {} (got {})",
                Self::ABSOLUTE_MIN_LENGTH,
                self.min_length
            ));
        }
        if self.max_length > Pin::MAX_LEN {
            return Err(format!(
                "max_length must be at most {} (got {})",
                Pin::MAX_LEN,
                self.max_length
            ));
        }
        if self.min_length > self.max_length {
            return Err(format!(
                "min_length ({}) must not be above max_length ({})",
                self.min_length, self.max_length
            ));
        }
        if self.history > Self::MAX_HISTORY {
            return Err(format!(
                "history must be at most {} (got {})",
                Self::MAX_HISTORY,
                self.history
            ));
        }
        Ok(())
    }

    /// The pure rules, in this order: length, repeated digit, sequence, mailbox
    /// number. No hashing, so this is cheap and can run before anything else (and
    /// is what the admin tools can apply to a temporary PIN).
    ///
    /// Decisions:
    /// - A *sequence* is the whole PIN, each digit one more (or one less) than the
    ///   previous, modulo 10: `123456`, `987654`, and also the wrap-arounds
    ///   `890123` and `210987`. Refusing wrap-arounds costs 20 PINs per length and
    ///   they are as guessable as the plain runs. A PIN that merely contains a run
    ///   (`123789`) is allowed.
    /// - The *mailbox number* rule refuses the number or its reverse as the whole
    ///   PIN, and, for numbers of [`Self::MAILBOX_CONTAINMENT_MIN_LEN`] digits or
    ///   more, anywhere inside it (`100199` for mailbox 1001): padding the
    ///   extension with two digits is the first thing a guesser tries.
    pub fn check_rules(&self, pin: &Pin, mailbox: &MailboxId) -> Result<(), PinRejection> {
        let digits = pin.expose().as_bytes();
        let min = self.min_length.max(Self::ABSOLUTE_MIN_LENGTH);
        if digits.len() < min {
            return Err(PinRejection::TooShort { min });
        }
        let max = self.max_length.min(Pin::MAX_LEN);
        if digits.len() > max {
            return Err(PinRejection::TooLong { max });
        }
        if self.forbid_repeated_digit && digits.windows(2).all(|w| w[0] == w[1]) {
            return Err(PinRejection::RepeatedDigit);
        }
        if self.forbid_sequences && (is_run(digits, 1) || is_run(digits, 9)) {
            return Err(PinRejection::Sequence);
        }
        if self.forbid_mailbox_number && matches_mailbox(pin.expose(), mailbox.as_str()) {
            return Err(PinRejection::MailboxNumber);
        }
        Ok(())
    }

    /// Every rule, cheapest first: the pure rules, then one verification against
    /// the org default PIN, then one per history entry.
    ///
    /// `default_pin_hash` is the org default PIN's hash, if one is configured.
    /// `history_hashes` are the mailbox's previous PIN hashes, newest first (as the
    /// store keeps them); only the first [`PinPolicy::history`] are considered.
    /// Hashes that cannot be parsed never match (they cannot refuse a PIN).
    pub fn check(
        &self,
        pin: &Pin,
        mailbox: &MailboxId,
        hashing: &mut Hashing<'_>,
        default_pin_hash: Option<&str>,
        history_hashes: &[String],
    ) -> Result<(), PinRejection> {
        self.check_rules(pin, mailbox)?;
        if self.forbid_default_pin
            && let Some(hash) = default_pin_hash
            && hashing.verify(pin, hash)
        {
            return Err(PinRejection::DefaultPin);
        }
        if history_hashes
            .iter()
            .take(self.history)
            .any(|hash| hashing.verify(pin, hash))
        {
            return Err(PinRejection::RecentlyUsed);
        }
        Ok(())
    }
}

/// True when every digit is `step` (mod 10) above the previous one: 1 ascending,
/// 9 (that is, -1) descending. ASCII digits are consecutive, so byte arithmetic on
/// `b'0'..=b'9'` is digit arithmetic.
fn is_run(digits: &[u8], step: u8) -> bool {
    digits
        .windows(2)
        .all(|w| (w[0] - b'0' + step) % 10 == w[1] - b'0')
}

fn matches_mailbox(pin: &str, mailbox: &str) -> bool {
    let reversed: String = mailbox.chars().rev().collect();
    if pin == mailbox || pin == reversed {
        return true;
    }
    mailbox.len() >= PinPolicy::MAILBOX_CONTAINMENT_MIN_LEN
        && (pin.contains(mailbox) || pin.contains(&reversed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::domain::pin_hash::{HashCost, PinHasher};

    fn pin(s: &str) -> Pin {
        Pin::parse(s).unwrap()
    }

    fn mailbox(s: &str) -> MailboxId {
        MailboxId::parse(s).unwrap()
    }

    fn rules(p: &str) -> Result<(), PinRejection> {
        PinPolicy::default().check_rules(&pin(p), &mailbox("1001"))
    }

    #[test]
    fn parse_accepts_digits_only() {
        assert_eq!(pin("048213").expose(), "048213");
        assert_eq!(pin(" 048213\n").expose(), "048213");
        assert_eq!(Pin::parse(""), Err(PinRejection::NotDigits));
        assert_eq!(Pin::parse("  "), Err(PinRejection::NotDigits));
        assert_eq!(Pin::parse("12a456"), Err(PinRejection::NotDigits));
        assert_eq!(Pin::parse("123456#"), Err(PinRejection::NotDigits));
        assert_eq!(Pin::parse("12 456"), Err(PinRejection::NotDigits));
        assert_eq!(Pin::parse("١٢٣٤٥٦"), Err(PinRejection::NotDigits));
        assert_eq!(pin(&"7".repeat(20)).len(), 20);
        assert_eq!(
            Pin::parse(&"7".repeat(21)),
            Err(PinRejection::TooLong { max: 20 })
        );
    }

    #[test]
    fn equality_compares_every_digit() {
        assert_eq!(pin("482913"), pin("482913"));
        assert_ne!(pin("482913"), pin("482914"));
        assert_ne!(pin("482913"), pin("4829130"));
    }

    #[test]
    fn defaults_follow_the_spec_and_validate() {
        let p = PinPolicy::default();
        assert_eq!((p.min_length, p.max_length, p.history), (6, 12, 5));
        assert!(p.forbid_repeated_digit && p.forbid_sequences);
        assert!(p.forbid_mailbox_number && p.forbid_default_pin);
        p.validate().unwrap();
    }

    #[test]
    fn validate_bounds() {
        let with = |min, max| PinPolicy {
            min_length: min,
            max_length: max,
            ..PinPolicy::default()
        };
        with(4, 4).validate().unwrap();
        with(4, 20).validate().unwrap();
        assert!(with(3, 12).validate().unwrap_err().contains("min_length"));
        assert!(with(8, 7).validate().unwrap_err().contains("max_length"));
        assert!(with(6, 21).validate().unwrap_err().contains("max_length"));
        let long_history = PinPolicy {
            history: 21,
            ..PinPolicy::default()
        };
        assert!(long_history.validate().unwrap_err().contains("history"));
    }

    #[test]
    fn serde_defaults_and_unknown_fields() {
        let p: PinPolicy = toml::from_str("min_length = 4\nhistory = 0").unwrap();
        assert_eq!(p.min_length, 4);
        assert_eq!(p.history, 0);
        assert_eq!(p.max_length, 12);
        assert!(toml::from_str::<PinPolicy>("min_lenght = 4").is_err());
        let back: PinPolicy = toml::from_str(&toml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn length_boundaries() {
        assert_eq!(rules("48291"), Err(PinRejection::TooShort { min: 6 }));
        assert_eq!(rules("482913"), Ok(()));
        assert_eq!(rules("482913482913"), Ok(()));
        assert_eq!(
            rules("4829134829135"),
            Err(PinRejection::TooLong { max: 12 })
        );
        let four = PinPolicy {
            min_length: 4,
            ..PinPolicy::default()
        };
        assert_eq!(four.check_rules(&pin("4829"), &mailbox("1001")), Ok(()));
        assert_eq!(
            four.check_rules(&pin("482"), &mailbox("1001")),
            Err(PinRejection::TooShort { min: 4 })
        );
    }

    #[test]
    fn minimum_never_below_four_even_if_misconfigured() {
        let bad = PinPolicy {
            min_length: 1,
            ..PinPolicy::default()
        };
        assert_eq!(
            bad.check_rules(&pin("482"), &mailbox("1001")),
            Err(PinRejection::TooShort { min: 4 })
        );
    }

    #[test]
    fn repeated_digit() {
        assert_eq!(rules("000000"), Err(PinRejection::RepeatedDigit));
        assert_eq!(rules("777777777777"), Err(PinRejection::RepeatedDigit));
        assert_eq!(rules("777778"), Ok(()));
        let off = PinPolicy {
            forbid_repeated_digit: false,
            ..PinPolicy::default()
        };
        assert_eq!(off.check_rules(&pin("000000"), &mailbox("1001")), Ok(()));
    }

    #[test]
    fn sequences_both_ways_with_wrap_around() {
        for run in [
            "123456",
            "012345",
            "456789",
            "987654",
            "543210",
            "890123",
            "901234",
            "210987",
            "109876",
            "123456789012",
        ] {
            assert_eq!(rules(run), Err(PinRejection::Sequence), "{run}");
        }
        for not_run in ["123457", "123789", "135791", "121212", "123321"] {
            assert_eq!(rules(not_run), Ok(()), "{not_run}");
        }
        let off = PinPolicy {
            forbid_sequences: false,
            ..PinPolicy::default()
        };
        assert_eq!(off.check_rules(&pin("123456"), &mailbox("1001")), Ok(()));
    }

    #[test]
    fn mailbox_number_and_reverse() {
        let policy = PinPolicy::default();
        let check = |p: &str, m: &str| policy.check_rules(&pin(p), &mailbox(m));
        assert_eq!(check("100123", "100123"), Err(PinRejection::MailboxNumber));
        assert_eq!(check("321001", "100123"), Err(PinRejection::MailboxNumber));
        assert_eq!(check("100155", "1001"), Err(PinRejection::MailboxNumber));
        assert_eq!(check("551025", "2015"), Err(PinRejection::MailboxNumber));
        assert_eq!(check("482913", "1001"), Ok(()));
        // Short mailbox numbers only count as the whole PIN.
        assert_eq!(check("482913", "48"), Ok(()));
        assert_eq!(check("748209", "482"), Err(PinRejection::MailboxNumber));
        let off = PinPolicy {
            forbid_mailbox_number: false,
            ..PinPolicy::default()
        };
        assert_eq!(off.check_rules(&pin("100155"), &mailbox("1001")), Ok(()));
    }

    #[test]
    fn cheapest_rule_reported_first() {
        // Too short beats repeated; repeated beats mailbox (mailbox 111111).
        assert_eq!(rules("1111"), Err(PinRejection::TooShort { min: 6 }));
        let policy = PinPolicy::default();
        assert_eq!(
            policy.check_rules(&pin("111111"), &mailbox("111111")),
            Err(PinRejection::RepeatedDigit)
        );
    }

    fn hasher() -> PinHasher {
        PinHasher::new(&Secret::new("pepper"), &HashCost::fast_for_tests()).unwrap()
    }

    #[test]
    fn default_pin_and_history_need_the_hasher() {
        let hasher = hasher();
        let policy = PinPolicy::default();
        let m = mailbox("1001");
        let default = hasher.hash(&pin("482913")).unwrap();
        let history: Vec<String> = ["573920", "668201"]
            .iter()
            .map(|p| hasher.hash(&pin(p)).unwrap())
            .collect();
        let check = |p: &str| {
            policy.check(
                &pin(p),
                &m,
                &mut hasher.with(&mut hasher.memory()),
                Some(&default),
                &history,
            )
        };
        assert_eq!(check("482913"), Err(PinRejection::DefaultPin));
        assert_eq!(check("573920"), Err(PinRejection::RecentlyUsed));
        assert_eq!(check("668201"), Err(PinRejection::RecentlyUsed));
        assert_eq!(check("739105"), Ok(()));
        // Pure rules still apply and come first.
        assert_eq!(check("123456"), Err(PinRejection::Sequence));
        // No default PIN configured.
        assert_eq!(
            policy.check(
                &pin("482913"),
                &m,
                &mut hasher.with(&mut hasher.memory()),
                None,
                &history
            ),
            Ok(())
        );
        // Garbage in the history never refuses a PIN.
        let garbage = vec!["not a hash".to_owned()];
        assert_eq!(
            policy.check(
                &pin("739105"),
                &m,
                &mut hasher.with(&mut hasher.memory()),
                None,
                &garbage
            ),
            Ok(())
        );
    }

    #[test]
    fn history_depth_and_switches() {
        let hasher = hasher();
        let m = mailbox("1001");
        let history: Vec<String> = ["573920", "668201", "739105"]
            .iter()
            .map(|p| hasher.hash(&pin(p)).unwrap())
            .collect();
        let two = PinPolicy {
            history: 2,
            ..PinPolicy::default()
        };
        assert_eq!(
            two.check(
                &pin("668201"),
                &m,
                &mut hasher.with(&mut hasher.memory()),
                None,
                &history
            ),
            Err(PinRejection::RecentlyUsed)
        );
        // The third-newest is beyond a history of 2.
        assert_eq!(
            two.check(
                &pin("739105"),
                &m,
                &mut hasher.with(&mut hasher.memory()),
                None,
                &history
            ),
            Ok(())
        );
        let none = PinPolicy {
            history: 0,
            forbid_default_pin: false,
            ..PinPolicy::default()
        };
        let default = hasher.hash(&pin("573920")).unwrap();
        assert_eq!(
            none.check(
                &pin("573920"),
                &m,
                &mut hasher.with(&mut hasher.memory()),
                Some(&default),
                &history
            ),
            Ok(())
        );
    }

    #[test]
    fn nothing_prints_the_digits() {
        let secret = "582047";
        let p = pin(secret);
        let shown = format!("{p:?} {:?}", Some(p.clone()));
        assert!(!shown.contains(secret), "{shown}");
        assert_eq!(format!("{p:?}"), "Pin(***)");

        let rejections = PinRejection::EVERY_KIND;
        // Every rejection a real PIN can produce, for a few PINs.
        let m = mailbox("582047");
        for raw in ["582047", "999999", "345678", "58204", "5820475820475"] {
            let err = PinPolicy::default().check_rules(&pin(raw), &m).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains(raw), "{text}");
        }
        for r in rejections {
            let text = format!("{r} {r:?}");
            assert!(!text.contains(secret), "{text}");
            assert!(!text.is_empty());
        }
        let err = Pin::parse("58a2047").unwrap_err();
        assert!(!err.to_string().contains("58a2047"));
    }
}
