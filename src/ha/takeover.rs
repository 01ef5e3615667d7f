//! What a new active instance does about the calls of the one it replaces.
//!
//! The callers are still in the application (Asterisk keeps a channel in Stasis
//! when the socket that served it dies), and they are handled by the router as
//! after any websocket gap: a channel nobody here started hears the apology and
//! is hung up (`call::Router`'s reconciliation).
//!
//! A message being recorded needs more: the old instance can no longer index
//! it, and its deposit lease (`store::deposits`) would keep repair away for up
//! to `deposit.lease`. So every deposit that began before this instance took
//! the lease is adopted: its live recording is stopped (Asterisk keeps the
//! file, as on a hang-up), its lease ended, and the repair pass that follows
//! indexes the message with its caller and time, lights the lamp and queues the
//! e-mail. Deposits this instance began itself are dated after the takeover by
//! its own clock, so they are never touched.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::ari::AriClient;
use crate::store::Store;
use crate::store::messages::{MessageId, message_recording};

/// How long to wait for Asterisk to close the files of stopped recordings.
const STOP_WAIT: Duration = Duration::from_secs(5);
const STOP_POLL: Duration = Duration::from_millis(100);

/// Adopts the deposits that began before `took_over` (see the module
/// documentation); returns how many. Logs and goes on past any failure: a
/// deposit not adopted now is finished by repair once its lease lapses.
pub async fn adopt_deposits(store: &Store, client: &AriClient, took_over: DateTime<Utc>) -> usize {
    let mailboxes = match store.mailbox_ids().await {
        Ok(mailboxes) => mailboxes,
        Err(e) => {
            warn!(error = %e, "takeover: cannot list the mailboxes; deposits in progress are left to repair");
            return 0;
        }
    };
    let mut stopped = Vec::new();
    let mut adopted = 0;
    for m in &mailboxes {
        let records = match store.deposits(m).await {
            Ok(records) => records,
            Err(e) => {
                warn!(mailbox = %m, error = %e, "takeover: cannot read the deposits in progress");
                continue;
            }
        };
        for (field, record) in records {
            let (Some(id), Some(record)) = (MessageId::parse(&field), record) else {
                continue;
            };
            if record.received >= took_over {
                continue;
            }
            let name = message_recording(m, &id);
            match client.stop_recording(&name).await {
                Ok(()) => {
                    info!(mailbox = %m, recording = %name, "takeover: stopped a message the previous instance was recording");
                    stopped.push(name);
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => warn!(recording = %name, error = %e, "takeover: cannot stop a recording"),
            }
            match store.lapse_deposit(m, &id).await {
                Ok(()) => adopted += 1,
                Err(e) => warn!(mailbox = %m, error = %e, "takeover: cannot adopt a deposit"),
            }
        }
    }
    wait_stopped(client, &stopped).await;
    if adopted > 0 {
        info!(
            deposits = adopted,
            "takeover: deposits of the previous instance adopted for repair"
        );
    }
    adopted
}

/// Waits until Asterisk no longer lists the recordings as live: repair skips
/// a live one.
async fn wait_stopped(client: &AriClient, names: &[String]) {
    let deadline = Instant::now() + STOP_WAIT;
    for name in names {
        while Instant::now() < deadline {
            match client.live_recording(name).await {
                Err(e) if e.is_not_found() => break,
                _ => tokio::time::sleep(STOP_POLL).await,
            }
        }
    }
}
