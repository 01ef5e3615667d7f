//! Bearer tokens of the HTTP API: recognising one. (Creating and revoking them
//! are admin operations, `admin::accounts`.)
//!
//! A token is `vpt_` and 256 random bits; Redis keeps only its keyed digest (see
//! `domain::token`), so recognising one is one digest and one Redis read, with no
//! argon2 run per request.

use super::{Access, AccessError};
use crate::domain::TokenKey;
use crate::domain::token::random_secret;
use crate::store::tokens::ApiToken;

/// What every token starts with, so one pasted in the wrong place is recognisable.
pub const TOKEN_PREFIX: &str = "vpt_";

impl Access {
    /// The token that `bearer` (the `Authorization: Bearer` value) is, if any.
    pub async fn api_token(&self, bearer: &str) -> Result<Option<ApiToken>, AccessError> {
        let bearer = bearer.trim();
        let well_formed = bearer.len() == TOKEN_PREFIX.len() + 43
            && bearer.starts_with(TOKEN_PREFIX)
            && bearer[TOKEN_PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Ok(None);
        }
        Ok(self
            .store
            .token_by_digest(&digest(&self.token_key, bearer))
            .await?)
    }
}

/// What Redis keeps of a token.
pub(crate) fn digest(key: &TokenKey, token: &str) -> String {
    key.digest("api-token", token)
}

/// A fresh token, to be shown once to whoever created it.
pub(crate) fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_secret())
}
