//! Delivering a web sign-in code to the owner's own phone: voiceportal calls the
//! extension's endpoint (`portal.own_phone_channel`) into its own Stasis
//! application, and the `signin-code` flow speaks the code once answered.
//!
//! # Why the code never leaves this process before it is spoken
//!
//! The plain code exists only here, in memory, keyed by the channel id we chose
//! for the call; Redis holds its argon2id hash. It is not in the Stasis
//! arguments (which Asterisk and our call span log), so the arguments are just
//! `signin-code`, and a dialplan that sends some other call there finds no
//! pending code for its channel id. The instance that originates the call is
//! the one that owns the ARI application (one owner per app name), so it is the
//! one that receives the answered channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;
use tracing::{info, warn};

use crate::access::signin::{CODE_LIFETIME, IssuedCode};
use crate::ari::{AriClient, AriError, Originate};
use crate::config::Config;
use crate::domain::{Language, MailboxId, OneTimeCode};
use crate::ha::RoleCell;

/// How long the phone rings before the call is given up.
const RING_SECS: u32 = 45;

/// A code waiting for its call to be answered.
#[derive(Debug, Clone)]
pub struct PendingCall {
    pub mailbox: MailboxId,
    pub code: OneTimeCode,
    /// The request of the code, to ask whether it is still pending.
    pub request: String,
    pub language: Language,
    /// The code expires then; the call stops repeating it.
    pub until: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum CourierError {
    #[error(
        "portal.own_phone_channel is empty: voiceportal does not know which endpoint is \
         the owner's phone, so it cannot call it"
    )]
    NoEndpoint,
    /// Under `[ha]`, only the active instance receives the calls of the
    /// application, and the code lives in the memory of the instance that
    /// places the call: the standby must not place it.
    #[error(
        "this instance is the high-availability standby: the sign-in call would reach the \
         active instance, which does not hold the code; send web traffic to the active \
         instance (the one whose /readyz answers 200)"
    )]
    Standby,
    #[error(transparent)]
    Ari(#[from] AriError),
}

/// Places sign-in calls and hands their codes to the flow. Cheap to clone.
#[derive(Clone)]
pub struct PhoneCourier {
    client: AriClient,
    app: String,
    /// `portal.own_phone_channel`, `{number}` standing for the extension.
    endpoint: String,
    /// `"Voice portal" <8500>`: what the owner's phone shows.
    caller_id: String,
    pending: Arc<Mutex<HashMap<String, PendingCall>>>,
    role: RoleCell,
}

impl PhoneCourier {
    pub fn new(config: &Config, client: AriClient, role: RoleCell) -> PhoneCourier {
        PhoneCourier {
            client,
            app: config.ari.app.clone(),
            endpoint: config.portal.own_phone_channel.clone(),
            caller_id: format!("\"Voice portal\" <{}>", config.portal.number),
            pending: Arc::new(Mutex::new(HashMap::new())),
            role,
        }
    }

    /// Calls the owner's phone to speak `issued.code`. Returns once Asterisk has
    /// accepted the call (the phone rings), not when it is answered.
    pub async fn call(&self, issued: IssuedCode) -> Result<(), CourierError> {
        if self.endpoint.is_empty() {
            return Err(CourierError::NoEndpoint);
        }
        if !self.role.get().serves_calls() {
            return Err(CourierError::Standby);
        }
        let endpoint = self.endpoint.replace("{number}", issued.record.id.as_str());
        let rand: u64 = rand::random();
        let channel_id = format!("vp-signin-{rand:016x}");
        let pending = PendingCall {
            mailbox: issued.record.id.clone(),
            code: issued.code,
            request: issued.request,
            language: Language::parse(&issued.record.language).unwrap_or_default(),
            until: Instant::now() + CODE_LIFETIME,
        };
        self.table().insert(channel_id.clone(), pending);
        let originate = Originate {
            endpoint: &endpoint,
            app: &self.app,
            app_args: "signin-code",
            channel_id: &channel_id,
            caller_id: &self.caller_id,
            timeout_secs: RING_SECS,
        };
        match self.client.originate(&originate).await {
            Ok(_) => {
                info!(mailbox = %issued.record.id, channel = %channel_id, "calling the owner's phone with a sign-in code");
                Ok(())
            }
            Err(e) => {
                self.table().remove(&channel_id);
                Err(e.into())
            }
        }
    }

    /// The code a sign-in call must speak; `None` for a channel we did not
    /// originate (or whose code has expired). Each code is claimed once.
    pub fn claim(&self, channel_id: &str) -> Option<PendingCall> {
        self.table().remove(channel_id)
    }

    /// The table, with expired entries (calls never answered) dropped.
    fn table(&self) -> MutexGuard<'_, HashMap<String, PendingCall>> {
        // A panic while holding this lock cannot leave the map half-changed
        // (every use is one insert or remove), so a poisoned lock is still usable.
        let mut table = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        table.retain(|_, pending| pending.until > now);
        table
    }
}

/// What a failed delivery is logged as: never the code.
pub fn log_failure(mailbox: &MailboxId, error: &CourierError) {
    warn!(mailbox = %mailbox, error = %error, "cannot call the owner's phone with a sign-in code");
}
