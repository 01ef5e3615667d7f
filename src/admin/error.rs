//! What can go wrong in an admin operation. Every message is meant to be shown to
//! the administrator as is (CLI stderr, HTTP API body), so each names what was
//! wrong and, where useful, what is expected. None carries a PIN, a passcode or a
//! hash: a refused PIN is described by the policy rule it broke, never repeated.

use crate::domain::{
    AdminName, AdminNameError, HashError, MailboxId, MailboxIdError, PasswordRejection,
    PinRejection, UnknownLanguage,
};
use crate::store::StoreError;

/// The longest piece of rejected input an error message repeats, so a pasted
/// megabyte does not end up in a terminal or a log line.
const ECHO_MAX: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("mailbox {0} does not exist")]
    UnknownMailbox(MailboxId),
    #[error("mailbox {0} already exists")]
    MailboxExists(MailboxId),
    /// A mailbox of this number was deleted while Asterisk could not be
    /// reached: its recordings are still there, and a new mailbox would inherit
    /// them (old messages re-indexed, the old greeting played).
    #[error(
        "mailbox {0} was deleted while Asterisk could not be reached and its recordings are \
         still there; they must be removed before a new mailbox {0} is created (start Asterisk \
         and try again, or run `voiceportal admin repair`)"
    )]
    AudioPending(MailboxId),
    #[error("the PIN of mailbox {0} was changed meanwhile; try again")]
    PinChangedMeanwhile(MailboxId),
    #[error("invalid mailbox number: {0}")]
    BadNumber(#[from] MailboxIdError),
    /// Entering the portal's number at the mailbox prompt leads to the admin
    /// passcode, so a mailbox with that number could never be reached.
    #[error("{0} is the voice portal's own number (portal.number) and cannot be a mailbox")]
    ReservedNumber(MailboxId),
    #[error("PIN refused: {0}")]
    PinRejected(#[from] PinRejection),
    #[error(
        "no org default PIN is configured: give a temporary PIN, or set the org default \
         PIN first"
    )]
    NoDefaultPin,
    /// Everyone with a mailbox knows the org default PIN; if it also opened the
    /// greetings menu, every employee would be an administrator of the portal.
    #[error("the portal passcode and the org default PIN must be different")]
    PasscodeIsDefaultPin,
    #[error("invalid language: {0}")]
    BadLanguage(#[from] UnknownLanguage),
    #[error("unknown time zone {0:?}: expected an IANA name such as Europe/Paris, or UTC")]
    BadTimeZone(String),
    #[error("{0:?} is not an e-mail address (expected name@example.org, or \"\" for none)")]
    BadEmail(String),
    #[error("invalid display name: {0}")]
    BadName(&'static str),
    #[error("nothing to change: give at least one of name, e-mail, language, time zone")]
    NothingToUpdate,
    #[error("invalid name: {0}")]
    BadAdminName(#[from] AdminNameError),
    #[error("password refused: {0}")]
    BadPassword(#[from] PasswordRejection),
    #[error("there is no administrator account {0}")]
    UnknownAdmin(AdminName),
    #[error("administrator account {0} already exists")]
    AdminExists(AdminName),
    #[error("there is no API token named {0}")]
    UnknownToken(AdminName),
    #[error("an API token named {0} already exists")]
    TokenExists(AdminName),
    #[error("invalid configuration value `portal.number`: {0}")]
    BadPortalNumber(MailboxIdError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The change is stored; only its audit entry is missing. Said explicitly so
    /// the administrator does not retry an action that already took effect.
    #[error("the change was made, but its audit entry could not be written: {0}")]
    AuditFailed(StoreError),
    #[error("PIN hashing failed: {0}")]
    Hash(#[from] HashError),
    #[error("PIN hashing task failed: {0}")]
    Task(String),
}

/// Rejected (non-secret) input as an error message repeats it: at most
/// [`ECHO_MAX`] characters.
pub(crate) fn echo(raw: &str) -> String {
    raw.chars().take(ECHO_MAX).collect()
}
