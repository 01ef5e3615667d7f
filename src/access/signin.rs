//! Signing in to the owners' portal with a one-time code (SPEC "sign in with
//! your phone"): the owner types their extension, a six-digit code is spoken to
//! their own phone (or mailed), and they type it into the page.
//!
//! - **Codes** are stored only as salted argon2id hashes, are valid
//!   [`CODE_LIFETIME`], single use, and allow [`CODE_TRIES`] tries; a new request
//!   replaces the pending code of the mailbox.
//! - **Requests** are rate-limited per mailbox ([`REQUESTS_PER_MAILBOX`]) and per
//!   client address ([`REQUESTS_PER_ADDRESS`]): nobody can make a phone ring
//!   all day, nor use the service to call every extension in turn.
//! - **No enumeration**: a number with no mailbox takes the same steps (rate
//!   limits, one hash) and gets the same answer; only no phone rings.
//! - The lock of a mailbox's PIN does not apply: signing in with the phone is how
//!   a locked-out owner sets a new PIN.

use std::net::IpAddr;
use std::time::Duration;

use super::{Access, AccessError};
use crate::domain::token::random_secret;
use crate::domain::{MailboxId, OneTimeCode, Pin};
use crate::store::mailboxes::MailboxRecord;
pub use crate::store::signin::CodeState;
use crate::store::throttle::{Rate, RateScope};

pub const CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);
pub const CODE_TRIES: u32 = 3;
/// Code requests per mailbox per [`REQUEST_WINDOW`].
pub const REQUESTS_PER_MAILBOX: u32 = 3;
/// Code requests per client address per [`REQUEST_WINDOW`].
pub const REQUESTS_PER_ADDRESS: u32 = 10;
/// Code entries per client address per [`REQUEST_WINDOW`]: three tries per code
/// already bound guessing; this stops one address from spraying many mailboxes.
pub const TRIES_PER_ADDRESS: u32 = 30;
pub const REQUEST_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The answer to a code request.
#[derive(Debug)]
pub enum CodeRequest {
    /// Accepted; `code` is there only when the mailbox exists (deliver it).
    Accepted(Option<IssuedCode>),
    /// Too many requests for this mailbox or from this address.
    Throttled { retry_after: Duration },
}

/// A code just issued: what delivering it needs.
#[derive(Debug)]
pub struct IssuedCode {
    pub record: MailboxRecord,
    pub code: OneTimeCode,
    /// Identifies this request: the call speaking the code asks whether it is
    /// still pending, and stops once it is used.
    pub request: String,
}

/// The answer to a code entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    Granted(Box<MailboxRecord>),
    /// Wrong, expired, used, or no such mailbox: one answer for all.
    Denied,
    Throttled {
        retry_after: Duration,
    },
}

impl Access {
    /// Issues a code for the mailbox numbered `number` (as typed), from `client`.
    pub async fn request_signin_code(
        &self,
        number: &str,
        client: IpAddr,
    ) -> Result<CodeRequest, AccessError> {
        let mailbox = MailboxId::parse(number).ok();
        let mut scopes = vec![(RateScope::Address(client), REQUESTS_PER_ADDRESS)];
        if let Some(id) = &mailbox {
            scopes.push((RateScope::Mailbox(id.clone()), REQUESTS_PER_MAILBOX));
        }
        for (scope, limit) in scopes {
            if let Rate::Limited { retry_after } = self
                .store
                .hit_rate(&scope, "signin-request", limit, REQUEST_WINDOW)
                .await?
            {
                return Ok(CodeRequest::Throttled { retry_after });
            }
        }
        let code = OneTimeCode::generate();
        let pin = as_pin(&code)?;
        // Hashed whether or not the mailbox exists: the same work either way.
        let hash = self.hashing(move |h| h.hash(&pin)).await??;
        let record = match &mailbox {
            Some(id) => self.store.mailbox(id).await?,
            None => None,
        };
        let Some(record) = record else {
            return Ok(CodeRequest::Accepted(None));
        };
        let request = random_secret();
        self.store
            .set_signin_code(&record.id, &hash, &request, CODE_TRIES, CODE_LIFETIME)
            .await?;
        Ok(CodeRequest::Accepted(Some(IssuedCode {
            record,
            code,
            request,
        })))
    }

    /// One try at the code of mailbox `number`, from `client`.
    pub async fn check_signin_code(
        &self,
        number: &str,
        code: &str,
        client: IpAddr,
    ) -> Result<CodeCheck, AccessError> {
        if let Rate::Limited { retry_after } = self
            .store
            .hit_rate(
                &RateScope::Address(client),
                "signin-code",
                TRIES_PER_ADDRESS,
                REQUEST_WINDOW,
            )
            .await?
        {
            return Ok(CodeCheck::Throttled { retry_after });
        }
        let typed = OneTimeCode::parse(code).unwrap_or_else(OneTimeCode::generate);
        let pin = as_pin(&typed)?;
        let attempt = match (MailboxId::parse(number), OneTimeCode::parse(code)) {
            (Ok(id), Some(_)) => self
                .store
                .take_signin_try(&id)
                .await?
                .map(|attempt| (id, attempt)),
            _ => None,
        };
        let Some((id, attempt)) = attempt else {
            self.hashing(move |h| h.verify_dummy(&pin)).await?;
            return Ok(CodeCheck::Denied);
        };
        let hash = attempt.hash.clone();
        let right = self.hashing(move |h| h.verify(&pin, &hash)).await?;
        if !right
            || !self
                .store
                .consume_signin_code(&id, &attempt.request)
                .await?
        {
            return Ok(CodeCheck::Denied);
        }
        Ok(match self.store.mailbox(&id).await? {
            Some(record) => CodeCheck::Granted(Box::new(record)),
            None => CodeCheck::Denied,
        })
    }

    /// Where the code of `request` stands: the call that speaks it stops once
    /// it is no longer pending.
    pub async fn signin_code_state(
        &self,
        mailbox: &MailboxId,
        request: &str,
    ) -> Result<CodeState, AccessError> {
        Ok(self.store.signin_code_state(mailbox, request).await?)
    }
}

/// A code is six digits, so it hashes and verifies like a PIN.
fn as_pin(code: &OneTimeCode) -> Result<Pin, AccessError> {
    Pin::parse(code.expose()).map_err(|e| AccessError::Task(e.to_string()))
}
