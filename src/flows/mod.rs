//! The IVR flows, one file per flow, each reading like SPEC.md.

mod admin_greetings;
mod ask;
mod attendant;
mod deposit;
mod menu;
mod options;
mod portal;
mod receptionist;
mod review;
mod setup;
mod signin_code;

use std::sync::Arc;

use tracing::{info, warn};

use crate::access::Access;
use crate::call::{Call, CallError, CallHandler, Media};
use crate::config::Config;
use crate::domain::{EntryPoint, Prompt};
use crate::metrics::{EntryLabel, METRICS};
use crate::notify::email::Notifier;
use crate::notify::mwi::Mwi;
use crate::notify::signin::PhoneCourier;
use crate::store::Store;

/// Everything a flow may use besides its call.
pub struct Flows {
    pub config: Arc<Config>,
    pub store: Store,
    pub access: Access,
    pub mwi: Mwi,
    pub notifier: Notifier,
    /// The codes of the sign-in calls this instance placed.
    pub courier: PhoneCourier,
}

impl CallHandler for Flows {
    async fn handle(&self, call: &mut Call) {
        let entry = EntryPoint::parse(call.args());
        let _active = METRICS.call_started(match &entry {
            Ok(EntryPoint::Portal) => EntryLabel::Portal,
            Ok(EntryPoint::Login { .. }) => EntryLabel::Login,
            Ok(EntryPoint::Attendant { .. }) => EntryLabel::Attendant,
            Ok(EntryPoint::Receptionist { .. }) => EntryLabel::Receptionist,
            Ok(EntryPoint::Deposit { .. }) => EntryLabel::Deposit,
            Ok(EntryPoint::SigninCode) => EntryLabel::SigninCode,
            Err(_) => EntryLabel::Invalid,
        });
        let result = match entry {
            Ok(EntryPoint::Portal) => portal::run(self, call).await,
            Ok(EntryPoint::SigninCode) => signin_code::run(self, call).await,
            Ok(EntryPoint::Login { mailbox }) => portal::run_login(self, call, mailbox).await,
            Ok(EntryPoint::Attendant { greeting }) => attendant::run(call, &greeting).await,
            Ok(EntryPoint::Receptionist { greeting }) => {
                receptionist::run(self, call, greeting.as_deref()).await
            }
            Ok(EntryPoint::Deposit { mailbox, busy }) => {
                deposit::run(self, call, mailbox, busy).await
            }
            Err(e) => {
                warn!(error = %e, args = ?call.args(), "bad Stasis arguments");
                apologise(call).await
            }
        };
        match result {
            Ok(()) => {}
            Err(CallError::Gone) => info!("caller hung up"),
            Err(e) => {
                warn!(error = %e, "call flow failed; apologising");
                let _ = apologise(call).await;
            }
        }
    }
}

/// What a caller hears when we cannot serve them.
pub fn apology() -> Vec<Media> {
    vec![ask::say(Prompt::Error), ask::say(Prompt::Goodbye)]
}

/// Apologises and hangs up: never leave a caller in silence.
async fn apologise(call: &mut Call) -> Result<(), CallError> {
    call.answer().await?;
    call.play(&apology()).await?;
    call.hangup().await
}
