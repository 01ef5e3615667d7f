//! Provisioning shared by the flow tests: mailboxes with a PIN of a given origin,
//! and messages whose audio is in the simulator.

use chrono::{DateTime, Utc};
use voiceportal::config::Config;
use voiceportal::domain::{MailboxId, Pin, PinHasher};
use voiceportal::store::Store;
use voiceportal::store::mailboxes::{MailboxRecord, PinOrigin};
use voiceportal::store::messages::{Folder, Message, MessageId};

use super::app::TestApp;

pub fn id(number: &str) -> MailboxId {
    MailboxId::parse(number).expect("a mailbox number")
}

/// Creates mailbox `number` with `pin` set as coming from `origin` (or no PIN),
/// and its name marked recorded or not.
pub async fn provision(app: &TestApp, number: &str, pin: Option<(&str, PinOrigin)>, named: bool) {
    let mut record = MailboxRecord::new(id(number));
    record.name_recorded = named;
    provision_record(&app.store, &app.config, &record, pin).await;
}

/// Creates the mailbox `record` describes, in any store, with `pin` as coming
/// from `origin` (or no PIN).
pub async fn provision_record(
    store: &Store,
    config: &Config,
    record: &MailboxRecord,
    pin: Option<(&str, PinOrigin)>,
) {
    store.create_mailbox(record, None).await.unwrap();
    if let Some((pin, origin)) = pin {
        let hasher = PinHasher::new(&config.security.pepper, &config.security.hash).unwrap();
        let hash = hasher.hash(&Pin::parse(pin).unwrap()).unwrap();
        store.set_pin(&record.id, &hash, origin, 5).await.unwrap();
    }
}

/// A new message of `secs` seconds from `caller`, indexed and with its audio.
pub async fn message(
    app: &TestApp,
    number: &str,
    caller: &str,
    received: DateTime<Utc>,
    secs: u32,
) -> Message {
    let message = Message {
        id: MessageId::generate(received),
        mailbox: id(number),
        folder: Folder::New,
        caller_number: caller.into(),
        caller_name: String::new(),
        received,
        duration_secs: secs,
        recorded_on: String::new(),
    };
    app.sim
        .put_stored_recording(&message.recording(), secs.into());
    app.store.save_message(&message, 1000).await.unwrap();
    message
}

/// Locks mailbox `number` as `max_failed_attempts` wrong PINs would.
pub async fn lock(app: &TestApp, number: &str) {
    use voiceportal::store::lockout::{LockSubject, Reservation};
    let subject = LockSubject::Mailbox(id(number));
    for _ in 0..app.config.lockout.max_failed_attempts {
        if let Reservation::Granted(token) = app
            .store
            .reserve_attempt(&subject, &app.config.lockout)
            .await
            .unwrap()
        {
            app.store
                .finish_attempt(&subject, token, false, &app.config.lockout)
                .await
                .unwrap();
        }
    }
    assert!(app.store.lock_status(&subject).await.unwrap().locked);
}

/// Gives existing mailbox `number` the owner-chosen PIN `pin`.
pub async fn provision_pin(app: &TestApp, number: &str, pin: &str) {
    let hasher = PinHasher::new(&app.config.security.pepper, &app.config.security.hash).unwrap();
    let hash = hasher.hash(&Pin::parse(pin).unwrap()).unwrap();
    assert!(
        app.store
            .set_pin(&id(number), &hash, PinOrigin::User, 5)
            .await
            .unwrap()
    );
}
