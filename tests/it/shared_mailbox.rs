//! Simultaneous logins to one shared mailbox, from several service instances
//! (several `Access`, one Redis): an entry beyond the `max_failed_attempts`
//! verifications in flight waits for a slot (`lockout.busy_wait`) instead of
//! being answered as a wrong PIN, and the lock still holds at the limit.

use std::time::Duration;

use futures_util::future::join_all;
use voiceportal::access::{Access, Login, Origin};
use voiceportal::config::{Config, Secret};
use voiceportal::domain::{HashCost, MailboxId, Pin, PinHasher};
use voiceportal::store::Store;
use voiceportal::store::lockout::{LockSubject, Reservation};
use voiceportal::store::mailboxes::{MailboxRecord, PinOrigin};

use crate::support::redis::TestRedis;

const PIN: &str = "582039";
const WRONG: &str = "246802";

fn config(redis: &TestRedis) -> Config {
    let mut config = Config::default();
    config.redis.url = redis.url.clone();
    config.security.pepper = Secret::new("test-pepper");
    config.security.hash = HashCost::fast_for_tests();
    // Generous: the entries must get their turn however slow the machine is.
    config.lockout.busy_wait = Duration::from_secs(30);
    config
}

fn mailbox() -> MailboxId {
    MailboxId::parse("1001").unwrap()
}

/// The store and `instances` services sharing it, with mailbox 1001 on `PIN`.
async fn setup(config: &Config, instances: usize) -> (Store, Vec<Access>) {
    let store = Store::connect(&config.redis).await.unwrap();
    let hasher = PinHasher::new(&config.security.pepper, &config.security.hash).unwrap();
    let mut record = MailboxRecord::new(mailbox());
    record.pin_origin = PinOrigin::User;
    record.name_recorded = true;
    let hash = hasher.hash(&Pin::parse(PIN).unwrap()).unwrap();
    store.create_mailbox(&record, Some(&hash)).await.unwrap();
    let services = (0..instances)
        .map(|_| Access::new(config, store.clone()).unwrap())
        .collect();
    (store, services)
}

/// `per_instance` simultaneous logins with `pin` on each service.
async fn storm(services: &[Access], per_instance: usize, pin: &str) -> Vec<Login> {
    let pin = Pin::parse(pin).unwrap();
    let id = mailbox();
    let logins = services.iter().flat_map(|access| {
        (0..per_instance).map(|_| {
            let (access, pin, id) = (access.clone(), pin.clone(), id.clone());
            async move { access.login(&id, &pin, Origin::Elsewhere).await.unwrap() }
        })
    });
    join_all(logins.collect::<Vec<_>>()).await
}

fn count(outcomes: &[Login], f: impl Fn(&Login) -> bool) -> usize {
    outcomes.iter().filter(|o| f(o)).count()
}

async fn status(store: &Store) -> (u32, bool) {
    let s = store
        .lock_status(&LockSubject::Mailbox(mailbox()))
        .await
        .unwrap();
    (s.strikes, s.locked)
}

/// Twelve owners' devices (or people sharing a mailbox) log in at once through
/// two instances; only four verifications may be in flight, so most entries
/// must wait: every one of them gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_right_pins_all_get_in() {
    let redis = TestRedis::fresh();
    let config = config(&redis);
    let (store, services) = setup(&config, 2).await;
    let outcomes = storm(&services, 6, PIN).await;
    let granted = count(&outcomes, |o| matches!(o, Login::Granted(..)));
    assert_eq!(granted, 12, "{outcomes:?}");
    let verified: u64 = services.iter().map(Access::verifications).sum();
    assert_eq!(verified, 12);
    assert_eq!(status(&store).await, (0, false));
}

/// Ten wrong PINs at once through two instances: exactly four are verified;
/// three are answered as wrong, the fourth locks, and the six that waited for a
/// slot find the mailbox locked (no PIN checked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_wrong_pins_strike_and_lock_at_the_limit() {
    let redis = TestRedis::fresh();
    let config = config(&redis);
    let (store, services) = setup(&config, 2).await;
    let outcomes = storm(&services, 5, WRONG).await;
    assert_eq!(count(&outcomes, |o| *o == Login::Denied), 3, "{outcomes:?}");
    assert_eq!(count(&outcomes, |o| *o == Login::Locked), 7, "{outcomes:?}");
    let verified: u64 = services.iter().map(Access::verifications).sum();
    assert_eq!(verified, 4);
    assert_eq!(status(&store).await, (4, true));
    // The right PIN no longer helps.
    let late = storm(&services[..1], 1, PIN).await;
    assert_eq!(late, vec![Login::Locked]);
}

/// Other calls (here: held by hand, as another instance would) hold the whole
/// quota: a right PIN waits, and gets in as soon as a slot frees. (A failure
/// frees no slot: its strike takes the place of the attempt.)
#[tokio::test]
async fn an_entry_waits_for_a_slot_held_elsewhere() {
    let redis = TestRedis::fresh();
    let config = config(&redis);
    let (store, services) = setup(&config, 1).await;
    let subject = LockSubject::Mailbox(mailbox());
    let mut held = Vec::new();
    for _ in 0..config.lockout.max_failed_attempts {
        match store.reserve_attempt(&subject, &config.lockout).await {
            Ok(Reservation::Granted(token)) => held.push(token),
            other => panic!("expected a grant, got {other:?}"),
        }
    }
    let access = services[0].clone();
    let mut login = tokio::spawn(async move {
        let pin = Pin::parse(PIN).unwrap();
        access.login(&mailbox(), &pin, Origin::Elsewhere).await
    });
    // While the quota is held the entry cannot be answered (busy_wait is 30 s).
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut login)
            .await
            .is_err(),
        "answered while every slot was held"
    );
    assert_eq!(services[0].verifications(), 0);
    let failed = held.pop().unwrap();
    let result = store
        .finish_attempt(&subject, failed, false, &config.lockout)
        .await
        .unwrap();
    assert_eq!((result.strikes, result.locked), (1, false));
    let right = held.pop().unwrap();
    let result = store
        .finish_attempt(&subject, right, true, &config.lockout)
        .await
        .unwrap();
    assert_eq!((result.strikes, result.locked), (0, false));
    let outcome = login.await.unwrap().unwrap();
    assert!(matches!(outcome, Login::Granted(..)), "{outcome:?}");
    for token in held {
        store
            .cancel_attempt(&subject, token, &config.lockout)
            .await
            .unwrap();
    }
    assert_eq!(status(&store).await, (0, false));
}

/// With `busy_wait = 0` an entry meeting a busy quota is answered at once, as a
/// wrong PIN with no strike and no verification.
#[tokio::test]
async fn no_wait_answers_a_busy_quota_as_wrong_without_a_strike() {
    let redis = TestRedis::fresh();
    let mut config = config(&redis);
    config.lockout.busy_wait = Duration::ZERO;
    let (store, services) = setup(&config, 1).await;
    let subject = LockSubject::Mailbox(mailbox());
    let mut held = Vec::new();
    for _ in 0..config.lockout.max_failed_attempts {
        if let Reservation::Granted(token) = store
            .reserve_attempt(&subject, &config.lockout)
            .await
            .unwrap()
        {
            held.push(token);
        }
    }
    assert_eq!(held.len(), 4);
    let outcome = storm(&services, 1, PIN).await;
    assert_eq!(outcome, vec![Login::Denied]);
    assert_eq!(services[0].verifications(), 0);
    for token in held {
        store
            .cancel_attempt(&subject, token, &config.lockout)
            .await
            .unwrap();
    }
    assert_eq!(status(&store).await, (0, false));
    let outcome = storm(&services, 1, PIN).await;
    assert!(matches!(outcome[0], Login::Granted(..)), "{outcome:?}");
}
