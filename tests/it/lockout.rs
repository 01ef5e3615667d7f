//! Strikes, locks and the reservation quota against a real Redis.
//!
//! The central property: between two resets, no more PIN verifications are granted
//! than `max_failed_attempts`, even with many calls and several instances at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use redis::Commands;
use voiceportal::config::RedisConfig;
use voiceportal::domain::MailboxId;
use voiceportal::store::Store;
use voiceportal::store::lockout::{
    AttemptResult, LockStatus, LockSubject, LockoutPolicy, Reservation,
};

use crate::support::redis::TestRedis;

async fn connect(redis: &TestRedis) -> Store {
    Store::connect(&RedisConfig::single(redis.url.clone()))
        .await
        .unwrap()
}

fn mailbox(n: &str) -> LockSubject {
    LockSubject::Mailbox(MailboxId::parse(n).unwrap())
}

fn policy() -> LockoutPolicy {
    LockoutPolicy::default()
}

fn short_ttl(ttl_ms: u64) -> LockoutPolicy {
    LockoutPolicy {
        attempt_ttl: Duration::from_millis(ttl_ms),
        ..LockoutPolicy::default()
    }
}

/// One wrong PIN, as a flow would do it.
async fn fail(store: &Store, subject: &LockSubject, policy: &LockoutPolicy) -> AttemptResult {
    match store.reserve_attempt(subject, policy).await.unwrap() {
        Reservation::Granted(token) => store
            .finish_attempt(subject, token, false, policy)
            .await
            .unwrap(),
        other => panic!("expected a grant, got {other:?}"),
    }
}

async fn succeed(store: &Store, subject: &LockSubject, policy: &LockoutPolicy) -> AttemptResult {
    match store.reserve_attempt(subject, policy).await.unwrap() {
        Reservation::Granted(token) => store
            .finish_attempt(subject, token, true, policy)
            .await
            .unwrap(),
        other => panic!("expected a grant, got {other:?}"),
    }
}

fn clean() -> LockStatus {
    LockStatus {
        strikes: 0,
        locked: false,
        locked_until: None,
    }
}

#[tokio::test]
async fn four_failures_lock_until_an_admin_unlocks() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    let policy = policy();
    for n in 1..=3 {
        let result = fail(&store, &subject, &policy).await;
        assert_eq!(
            result,
            AttemptResult {
                strikes: n,
                locked: false
            }
        );
    }
    let result = fail(&store, &subject, &policy).await;
    assert_eq!(
        result,
        AttemptResult {
            strikes: 4,
            locked: true
        }
    );
    assert_eq!(
        store.lock_status(&subject).await.unwrap(),
        LockStatus {
            strikes: 4,
            locked: true,
            locked_until: None
        }
    );
    // The state lives where the key layout says.
    let mut raw = redis.connection();
    let locked: Option<String> = raw.hget("vp:{1001}:lock", "locked").unwrap();
    let strikes: Option<String> = raw.hget("vp:{1001}:lock", "strikes").unwrap();
    assert_eq!(locked.as_deref(), Some("1"));
    assert_eq!(strikes.as_deref(), Some("4"));
}

#[tokio::test]
async fn a_success_resets_the_strikes() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    let policy = policy();
    for _ in 0..3 {
        fail(&store, &subject, &policy).await;
    }
    let result = succeed(&store, &subject, &policy).await;
    assert_eq!(
        result,
        AttemptResult {
            strikes: 0,
            locked: false
        }
    );
    assert_eq!(store.lock_status(&subject).await.unwrap(), clean());
    // A clean subject leaves no key behind.
    let exists: bool = redis.connection().exists("vp:{1001}:lock").unwrap();
    assert!(!exists);
    // The quota is whole again: three more failures do not lock.
    for n in 1..=3 {
        assert_eq!(fail(&store, &subject, &policy).await.strikes, n);
    }
    assert!(!store.lock_status(&subject).await.unwrap().locked);
}

#[tokio::test]
async fn a_locked_subject_never_grants_and_gains_no_strike() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    let policy = policy();
    for _ in 0..4 {
        fail(&store, &subject, &policy).await;
    }
    for _ in 0..10 {
        assert!(matches!(
            store.reserve_attempt(&subject, &policy).await.unwrap(),
            Reservation::Locked
        ));
    }
    assert_eq!(store.lock_status(&subject).await.unwrap().strikes, 4);
}

#[tokio::test]
async fn in_flight_attempts_hold_the_quota() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    let policy = policy();
    fail(&store, &subject, &policy).await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        match store.reserve_attempt(&subject, &policy).await.unwrap() {
            Reservation::Granted(token) => tokens.push(token),
            other => panic!("expected a grant, got {other:?}"),
        }
    }
    // 1 strike + 3 in flight = 4: nothing more until one finishes.
    assert!(matches!(
        store.reserve_attempt(&subject, &policy).await.unwrap(),
        Reservation::Busy
    ));
    // Busy adds no strike.
    assert_eq!(store.lock_status(&subject).await.unwrap().strikes, 1);
    // A success frees its slot and resets the strikes: two slots free.
    let first = tokens.remove(0);
    let result = store
        .finish_attempt(&subject, first, true, &policy)
        .await
        .unwrap();
    assert_eq!(result.strikes, 0);
    let mut granted = 0;
    for _ in 0..4 {
        if let Reservation::Granted(token) = store.reserve_attempt(&subject, &policy).await.unwrap()
        {
            tokens.push(token);
            granted += 1;
        }
    }
    assert_eq!(granted, 2);
    // All four fail: locked, exactly at the limit.
    let mut last = None;
    for token in tokens {
        last = Some(
            store
                .finish_attempt(&subject, token, false, &policy)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        last,
        Some(AttemptResult {
            strikes: 4,
            locked: true
        })
    );
}

/// Guesses as fast as it can until the subject locks; returns how many
/// verifications it was granted.
async fn guess_until_locked(store: Store, subject: LockSubject, grants: Arc<AtomicU32>) {
    let policy = policy();
    for _ in 0..100_000 {
        match store.reserve_attempt(&subject, &policy).await.unwrap() {
            Reservation::Granted(token) => {
                grants.fetch_add(1, Ordering::SeqCst);
                // The verification: let the other guessers run meanwhile.
                tokio::task::yield_now().await;
                store
                    .finish_attempt(&subject, token, false, &policy)
                    .await
                    .unwrap();
            }
            Reservation::Busy => tokio::time::sleep(Duration::from_millis(1)).await,
            Reservation::Locked => return,
        }
    }
    panic!("never saw the lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_guessers_get_at_most_four_verifications() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    let grants = Arc::new(AtomicU32::new(0));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(guess_until_locked(
                store.clone(),
                subject.clone(),
                grants.clone(),
            ))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(grants.load(Ordering::SeqCst), 4);
    assert_eq!(
        store.lock_status(&subject).await.unwrap(),
        LockStatus {
            strikes: 4,
            locked: true,
            locked_until: None
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_one_quota() {
    let redis = TestRedis::fresh();
    let first = connect(&redis).await;
    let second = connect(&redis).await;
    let subject = mailbox("1001");
    let grants = Arc::new(AtomicU32::new(0));
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let store = if n % 2 == 0 { &first } else { &second };
            tokio::spawn(guess_until_locked(
                store.clone(),
                subject.clone(),
                grants.clone(),
            ))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(grants.load(Ordering::SeqCst), 4);
    assert!(second.lock_status(&subject).await.unwrap().locked);
    assert!(first.lock_status(&subject).await.unwrap().locked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_interleaving_step_by_step() {
    let redis = TestRedis::fresh();
    let a = connect(&redis).await;
    let b = connect(&redis).await;
    let subject = mailbox("1001");
    let policy = policy();
    // Reserve alternately on both instances, finishing nothing yet.
    let mut tokens = Vec::new();
    let mut refused = 0;
    for n in 0..10 {
        let store = if n % 2 == 0 { &a } else { &b };
        match store.reserve_attempt(&subject, &policy).await.unwrap() {
            Reservation::Granted(token) => tokens.push(token),
            Reservation::Busy => refused += 1,
            Reservation::Locked => panic!("nothing failed yet"),
        }
    }
    assert_eq!((tokens.len(), refused), (4, 6));
    // Finish crosswise: a token is not tied to the connection that got it.
    for (n, token) in tokens.into_iter().enumerate() {
        let store = if n % 2 == 0 { &b } else { &a };
        store
            .finish_attempt(&subject, token, false, &policy)
            .await
            .unwrap();
    }
    assert!(matches!(
        a.reserve_attempt(&subject, &policy).await.unwrap(),
        Reservation::Locked
    ));
}

#[tokio::test]
async fn an_unfinished_reservation_expires_into_one_strike() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    let policy = short_ttl(150);

    // Reserved, then the instance "crashes": the token is never finished.
    let Reservation::Granted(lost) = store.reserve_attempt(&subject, &policy).await.unwrap() else {
        panic!("expected a grant");
    };
    assert!(lost.expires_at().is_some());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        store.lock_status(&subject).await.unwrap(),
        LockStatus {
            strikes: 1,
            locked: false,
            locked_until: None
        }
    );
    // Finished late with a failure: the expiry counted it already.
    let result = store
        .finish_attempt(&subject, lost, false, &policy)
        .await
        .unwrap();
    assert_eq!(result.strikes, 1);
    assert_eq!(store.lock_status(&subject).await.unwrap().strikes, 1);

    // Same, but the late finish is the first thing to notice the expiry.
    let Reservation::Granted(late) = store.reserve_attempt(&subject, &policy).await.unwrap() else {
        panic!("expected a grant");
    };
    tokio::time::sleep(Duration::from_millis(250)).await;
    let result = store
        .finish_attempt(&subject, late, false, &policy)
        .await
        .unwrap();
    assert_eq!(result.strikes, 2);
    assert_eq!(store.lock_status(&subject).await.unwrap().strikes, 2);
}

#[tokio::test]
async fn a_late_success_still_resets_the_strikes() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    let policy = short_ttl(150);
    fail(&store, &subject, &policy).await;
    let Reservation::Granted(slow) = store.reserve_attempt(&subject, &policy).await.unwrap() else {
        panic!("expected a grant");
    };
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(store.lock_status(&subject).await.unwrap().strikes, 2);
    let result = store
        .finish_attempt(&subject, slow, true, &policy)
        .await
        .unwrap();
    assert_eq!(
        result,
        AttemptResult {
            strikes: 0,
            locked: false
        }
    );
}

#[tokio::test]
async fn lost_reservations_free_their_slots_by_locking_at_the_limit() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    let policy = short_ttl(150);
    let mut lost = Vec::new();
    for _ in 0..4 {
        if let Reservation::Granted(token) = store.reserve_attempt(&subject, &policy).await.unwrap()
        {
            lost.push(token);
        }
    }
    assert_eq!(lost.len(), 4);
    assert!(matches!(
        store.reserve_attempt(&subject, &policy).await.unwrap(),
        Reservation::Busy
    ));
    tokio::time::sleep(Duration::from_millis(250)).await;
    // Four possibly-verified guesses: as many as the policy allows.
    assert!(matches!(
        store.reserve_attempt(&subject, &policy).await.unwrap(),
        Reservation::Locked
    ));
    assert_eq!(store.lock_status(&subject).await.unwrap().strikes, 4);
    for token in lost {
        let result = store
            .finish_attempt(&subject, token, false, &policy)
            .await
            .unwrap();
        assert_eq!(
            result,
            AttemptResult {
                strikes: 4,
                locked: true
            }
        );
    }
}

#[tokio::test]
async fn unlock_resets_everything() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    let policy = policy();
    for _ in 0..4 {
        fail(&store, &subject, &policy).await;
    }
    store.unlock(&subject).await.unwrap();
    assert_eq!(store.lock_status(&subject).await.unwrap(), clean());
    assert_eq!(fail(&store, &subject, &policy).await.strikes, 1);
    // Unlocking something that is not locked is harmless.
    store.unlock(&mailbox("2002")).await.unwrap();
    assert_eq!(store.lock_status(&mailbox("2002")).await.unwrap(), clean());
}

#[tokio::test]
async fn unlock_voids_attempts_in_flight() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    let policy = policy();
    let mut tokens = Vec::new();
    for _ in 0..4 {
        if let Reservation::Granted(token) = store.reserve_attempt(&subject, &policy).await.unwrap()
        {
            tokens.push(token);
        }
    }
    assert!(matches!(
        store.reserve_attempt(&subject, &policy).await.unwrap(),
        Reservation::Busy
    ));
    store.unlock(&subject).await.unwrap();
    // The quota is whole again.
    let fresh = match store.reserve_attempt(&subject, &policy).await.unwrap() {
        Reservation::Granted(token) => token,
        other => panic!("expected a grant, got {other:?}"),
    };
    // A voided attempt that fails before its expiry was still a guess: it counts.
    let voided = tokens.remove(0);
    let result = store
        .finish_attempt(&subject, voided, false, &policy)
        .await
        .unwrap();
    assert_eq!(result.strikes, 1);
    let result = store
        .finish_attempt(&subject, fresh, false, &policy)
        .await
        .unwrap();
    assert_eq!(result.strikes, 2);
}

#[tokio::test]
async fn a_timed_lock_ends_by_itself() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    let policy = LockoutPolicy {
        lockout_duration: Some(Duration::from_millis(300)),
        ..LockoutPolicy::default()
    };
    for _ in 0..4 {
        fail(&store, &subject, &policy).await;
    }
    let status = store.lock_status(&subject).await.unwrap();
    assert!(status.locked);
    assert_eq!(status.strikes, 4);
    let until = status.locked_until.expect("a timed lock has an end");
    assert!(until > chrono::Utc::now() - chrono::Duration::seconds(5));
    assert!(matches!(
        store.reserve_attempt(&subject, &policy).await.unwrap(),
        Reservation::Locked
    ));

    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.lock_status(&subject).await.unwrap(), clean());
    // A fresh quota after the lock.
    for n in 1..=3 {
        assert_eq!(fail(&store, &subject, &policy).await.strikes, n);
    }
    assert!(fail(&store, &subject, &policy).await.locked);
}

#[tokio::test]
async fn the_portal_passcode_has_its_own_strikes() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let portal = LockSubject::PortalPasscode;
    let policy = policy();
    for _ in 0..4 {
        fail(&store, &mailbox("1001"), &policy).await;
    }
    assert!(store.lock_status(&mailbox("1001")).await.unwrap().locked);
    assert_eq!(store.lock_status(&portal).await.unwrap(), clean());

    for _ in 0..4 {
        fail(&store, &portal, &policy).await;
    }
    assert!(store.lock_status(&portal).await.unwrap().locked);
    assert_eq!(store.lock_status(&mailbox("1002")).await.unwrap(), clean());
    let locked: Option<String> = redis
        .connection()
        .hget("vp:{portal}:lock", "locked")
        .unwrap();
    assert_eq!(locked.as_deref(), Some("1"));
    // Unlocking the portal leaves the mailbox locked, and the other way round.
    store.unlock(&portal).await.unwrap();
    assert_eq!(store.lock_status(&portal).await.unwrap(), clean());
    assert!(store.lock_status(&mailbox("1001")).await.unwrap().locked);
}

#[tokio::test]
async fn strikes_survive_a_service_restart() {
    let redis = TestRedis::fresh();
    let subject = mailbox("1001");
    let policy = policy();
    {
        let store = connect(&redis).await;
        for _ in 0..3 {
            fail(&store, &subject, &policy).await;
        }
    }
    let restarted = connect(&redis).await;
    assert_eq!(restarted.lock_status(&subject).await.unwrap().strikes, 3);
    assert!(fail(&restarted, &subject, &policy).await.locked);
    let again = connect(&redis).await;
    assert!(again.lock_status(&subject).await.unwrap().locked);
}

#[tokio::test]
async fn a_lowered_limit_applies_to_strikes_on_record() {
    let redis = TestRedis::fresh();
    let store = connect(&redis).await;
    let subject = mailbox("1001");
    for _ in 0..3 {
        fail(&store, &subject, &policy()).await;
    }
    let stricter = LockoutPolicy {
        max_failed_attempts: 3,
        ..LockoutPolicy::default()
    };
    assert!(matches!(
        store.reserve_attempt(&subject, &stricter).await.unwrap(),
        Reservation::Locked
    ));
    assert!(store.lock_status(&subject).await.unwrap().locked);
}
