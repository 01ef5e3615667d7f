//! Administrator accounts of the web portal: their names and passwords.
//!
//! A [`Password`] is a secret like a [`super::Pin`]: no `Display`, a masked
//! `Debug`, no error that repeats it; only the hasher reads it through
//! [`Password::expose`].

use std::fmt;

/// An administrator's sign-in name: 1 to 32 characters of lowercase letters,
/// digits, `.`, `_` and `-`, starting with a letter or digit. Typed at the
/// sign-in form and shown in the audit log, so it stays plain and unambiguous;
/// the input is lowercased, so `Alice` and `alice` are one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdminName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminNameError {
    #[error("an administrator name cannot be empty")]
    Empty,
    #[error("an administrator name has at most 32 characters")]
    TooLong,
    #[error(
        "an administrator name is made of letters a to z, digits, '.', '_' and '-', and \
         starts with a letter or a digit"
    )]
    BadCharacter,
}

impl AdminName {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<AdminName, AdminNameError> {
        let name = raw.trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(AdminNameError::Empty);
        }
        if name.chars().count() > Self::MAX_LEN {
            return Err(AdminNameError::TooLong);
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c);
        let first_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !first_ok || !name.chars().all(allowed) {
            return Err(AdminNameError::BadCharacter);
        }
        Ok(AdminName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdminName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An administrator's password.
#[derive(Clone)]
pub struct Password(String);

/// Why a password was refused. No variant carries the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    #[error("the password is too short: it needs at least {min} characters")]
    TooShort { min: usize },
    #[error("the password is too long: it may have at most {max} characters")]
    TooLong { max: usize },
    #[error("the password cannot contain control characters")]
    ControlCharacter,
}

impl Password {
    /// Long enough that guessing it online is hopeless even before the lockout.
    pub const MIN_LEN: usize = 12;
    /// Bounds what is fed to argon2 from a form.
    pub const MAX_LEN: usize = 256;

    /// A password to sign in with: only bounded in length (whatever rule it was
    /// made under, the hash decides). Never trimmed: spaces may be part of it.
    pub fn for_sign_in(raw: &str) -> Result<Password, PasswordRejection> {
        if raw.chars().count() > Self::MAX_LEN {
            return Err(PasswordRejection::TooLong { max: Self::MAX_LEN });
        }
        Ok(Password(raw.to_owned()))
    }

    /// A new password: at least [`Password::MIN_LEN`] characters, no control
    /// characters. A trailing newline (from a terminal or a pipe) is not part of it.
    pub fn new_password(raw: &str) -> Result<Password, PasswordRejection> {
        let password = raw.trim_end_matches(['\n', '\r']);
        if password.chars().any(char::is_control) {
            return Err(PasswordRejection::ControlCharacter);
        }
        let length = password.chars().count();
        if length < Self::MIN_LEN {
            return Err(PasswordRejection::TooShort { min: Self::MIN_LEN });
        }
        if length > Self::MAX_LEN {
            return Err(PasswordRejection::TooLong { max: Self::MAX_LEN });
        }
        Ok(Password(password.to_owned()))
    }

    /// The characters, for the hasher. Never log or display this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_and_lowercase() {
        assert_eq!(AdminName::parse(" Alice ").unwrap().as_str(), "alice");
        assert_eq!(
            AdminName::parse("ops.team-2_b").unwrap().as_str(),
            "ops.team-2_b"
        );
        assert_eq!(AdminName::parse(""), Err(AdminNameError::Empty));
        assert_eq!(AdminName::parse("-x"), Err(AdminNameError::BadCharacter));
        assert_eq!(AdminName::parse("a b"), Err(AdminNameError::BadCharacter));
        assert_eq!(AdminName::parse("é"), Err(AdminNameError::BadCharacter));
        assert_eq!(
            AdminName::parse(&"a".repeat(33)),
            Err(AdminNameError::TooLong)
        );
    }

    #[test]
    fn new_passwords_are_long_enough_and_never_shown() {
        let password = Password::new_password("correct horse battery\n").unwrap();
        assert_eq!(password.expose(), "correct horse battery");
        assert_eq!(format!("{password:?}"), "Password(***)");
        assert_eq!(
            Password::new_password("short").unwrap_err(),
            PasswordRejection::TooShort { min: 12 }
        );
        assert_eq!(
            Password::new_password("twelve chars\u{7}ok").unwrap_err(),
            PasswordRejection::ControlCharacter
        );
        assert!(Password::new_password(&"x".repeat(257)).is_err());
        let shown = PasswordRejection::TooShort { min: 12 }.to_string();
        assert!(!shown.contains("short\""), "{shown}");
    }

    #[test]
    fn sign_in_passwords_are_only_bounded() {
        assert_eq!(Password::for_sign_in(" x ").unwrap().expose(), " x ");
        assert!(Password::for_sign_in(&"x".repeat(257)).is_err());
    }
}
