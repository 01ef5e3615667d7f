//! The Stasis arguments the dialplan passes: which flow a call enters.

use super::mailbox::{MailboxId, MailboxIdError};
use super::receptionist::{MAX_GREETING_DIGITS, is_greeting_number};

/// `Stasis(voiceportal,<entry point>...)`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryPoint {
    /// `portal`: the voice portal number and `*98`.
    Portal,
    /// `deposit,<mailbox>[,<DIALSTATUS>]`: leave a message.
    Deposit { mailbox: MailboxId, busy: bool },
    /// `login,<mailbox>`: straight to the PIN prompt of a known mailbox.
    Login { mailbox: MailboxId },
    /// `attendant,<greeting>`: play an auto-attendant greeting, return one digit.
    Attendant { greeting: String },
    /// `receptionist[,<greeting>]`: the virtual receptionist; without a greeting,
    /// the company greeting (`receptionist.default_greeting`).
    Receptionist { greeting: Option<String> },
    /// `signin-code`: a call voiceportal itself placed to an owner's phone, to
    /// speak a web sign-in code. Never routed from the dialplan: the flow only
    /// serves a channel id it originated, so a dialplan that sends a call here
    /// gets an apology, never a code.
    SigninCode,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("no entry point given (expected portal, deposit, login, attendant or receptionist)")]
    Missing,
    #[error(
        "unknown entry point `{0}` (expected portal, deposit, login, attendant or receptionist)"
    )]
    Unknown(String),
    #[error("`{entry}` needs {what}")]
    MissingArgument {
        entry: &'static str,
        what: &'static str,
    },
    #[error("`{entry}`: {source}")]
    BadMailbox {
        entry: &'static str,
        source: MailboxIdError,
    },
    #[error("attendant greeting names are 1 to 32 letters, digits, '-' or '_'")]
    BadGreeting,
    #[error("receptionist greetings are numbers of 1 to {MAX_GREETING_DIGITS} digits")]
    BadReceptionistGreeting,
    #[error("`{entry}` takes at most {max} arguments")]
    TooManyArguments { entry: &'static str, max: usize },
}

impl EntryPoint {
    pub fn parse(args: &[String]) -> Result<EntryPoint, EntryError> {
        let (first, rest) = args.split_first().ok_or(EntryError::Missing)?;
        let mailbox = |entry: &'static str| -> Result<MailboxId, EntryError> {
            let raw = rest.first().ok_or(EntryError::MissingArgument {
                entry,
                what: "a mailbox number",
            })?;
            MailboxId::parse(raw).map_err(|source| EntryError::BadMailbox { entry, source })
        };
        let at_most = |entry: &'static str, max: usize| {
            if rest.len() > max {
                Err(EntryError::TooManyArguments { entry, max })
            } else {
                Ok(())
            }
        };
        match first.trim().to_ascii_lowercase().as_str() {
            "portal" => {
                at_most("portal", 0)?;
                Ok(EntryPoint::Portal)
            }
            "deposit" => {
                at_most("deposit", 2)?;
                let mailbox = mailbox("deposit")?;
                let busy = rest
                    .get(1)
                    .is_some_and(|status| status.trim().eq_ignore_ascii_case("BUSY"));
                Ok(EntryPoint::Deposit { mailbox, busy })
            }
            "login" => {
                at_most("login", 1)?;
                Ok(EntryPoint::Login {
                    mailbox: mailbox("login")?,
                })
            }
            "signin-code" => {
                at_most("signin-code", 0)?;
                Ok(EntryPoint::SigninCode)
            }
            "attendant" => {
                at_most("attendant", 1)?;
                let greeting = rest.first().ok_or(EntryError::MissingArgument {
                    entry: "attendant",
                    what: "a greeting name",
                })?;
                let valid = !greeting.is_empty()
                    && greeting.len() <= 32
                    && greeting
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    return Err(EntryError::BadGreeting);
                }
                Ok(EntryPoint::Attendant {
                    greeting: greeting.clone(),
                })
            }
            "receptionist" => {
                at_most("receptionist", 1)?;
                let greeting = match rest.first().map(|g| g.trim()) {
                    None | Some("") => None,
                    Some(greeting) if is_greeting_number(greeting) => Some(greeting.to_owned()),
                    Some(_) => return Err(EntryError::BadReceptionistGreeting),
                };
                Ok(EntryPoint::Receptionist { greeting })
            }
            other => Err(EntryError::Unknown(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<EntryPoint, EntryError> {
        EntryPoint::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_every_entry_point() {
        assert_eq!(parse(&["portal"]), Ok(EntryPoint::Portal));
        let m = MailboxId::parse("1001").unwrap();
        assert_eq!(
            parse(&["deposit", "1001", "BUSY"]),
            Ok(EntryPoint::Deposit {
                mailbox: m.clone(),
                busy: true
            })
        );
        assert_eq!(
            parse(&["deposit", "1001", "NOANSWER"]),
            Ok(EntryPoint::Deposit {
                mailbox: m.clone(),
                busy: false
            })
        );
        assert_eq!(
            parse(&["deposit", "1001", ""]),
            Ok(EntryPoint::Deposit {
                mailbox: m.clone(),
                busy: false
            })
        );
        assert_eq!(
            parse(&["login", "1001"]),
            Ok(EntryPoint::Login { mailbox: m })
        );
        assert_eq!(parse(&["signin-code"]), Ok(EntryPoint::SigninCode));
        assert!(matches!(
            parse(&["signin-code", "123456"]),
            Err(EntryError::TooManyArguments { .. })
        ));
        assert_eq!(
            parse(&["attendant", "main-menu"]),
            Ok(EntryPoint::Attendant {
                greeting: "main-menu".into()
            })
        );
        assert_eq!(
            parse(&["receptionist"]),
            Ok(EntryPoint::Receptionist { greeting: None })
        );
        // An empty argument (`receptionist,${GREETING}` with nothing set).
        assert_eq!(
            parse(&["receptionist", ""]),
            Ok(EntryPoint::Receptionist { greeting: None })
        );
        assert_eq!(
            parse(&["receptionist", "2"]),
            Ok(EntryPoint::Receptionist {
                greeting: Some("2".into())
            })
        );
    }

    #[test]
    fn rejects_malformed_arguments_precisely() {
        assert_eq!(parse(&[]), Err(EntryError::Missing));
        assert_eq!(parse(&["dance"]), Err(EntryError::Unknown("dance".into())));
        assert!(matches!(
            parse(&["deposit"]),
            Err(EntryError::MissingArgument { .. })
        ));
        assert!(matches!(
            parse(&["login", "x1"]),
            Err(EntryError::BadMailbox { .. })
        ));
        assert_eq!(
            parse(&["attendant", "../etc"]),
            Err(EntryError::BadGreeting)
        );
        assert!(matches!(
            parse(&["portal", "extra"]),
            Err(EntryError::TooManyArguments { .. })
        ));
        for bad in ["main", "12345", "../1", "1 2"] {
            assert_eq!(
                parse(&["receptionist", bad]),
                Err(EntryError::BadReceptionistGreeting),
                "{bad}"
            );
        }
        assert!(matches!(
            parse(&["receptionist", "1", "2"]),
            Err(EntryError::TooManyArguments { .. })
        ));
    }
}
