//! Mailbox records and the audit stream against a real Redis.

use voiceportal::config::RedisConfig;
use voiceportal::domain::MailboxId;
use voiceportal::store::Store;
use voiceportal::store::mailboxes::{Created, MailboxRecord, PinOrigin};

use crate::support::redis::TestRedis;

async fn store() -> (Store, TestRedis) {
    let redis = TestRedis::fresh();
    let store = Store::connect(&RedisConfig::single(redis.url.clone()))
        .await
        .unwrap();
    (store, redis)
}

fn id(n: &str) -> MailboxId {
    MailboxId::parse(n).unwrap()
}

#[tokio::test]
async fn create_read_update_delete() {
    let (store, redis) = store().await;
    let mut record = MailboxRecord::new(id("1001"));
    record.display_name = "Alice".into();
    record.language = "fr".into();
    record.timezone = "Europe/Paris".into();
    record.pin_origin = PinOrigin::Default;
    record.must_change = true;
    assert_eq!(
        store
            .create_mailbox(&record, Some("$argon2id$fake"))
            .await
            .unwrap(),
        Created::Created
    );
    assert_eq!(
        store.create_mailbox(&record, None).await.unwrap(),
        Created::Exists,
        "created twice"
    );
    assert_eq!(
        store.mailbox(&id("1001")).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        store.pin_hash(&id("1001")).await.unwrap().as_deref(),
        Some("$argon2id$fake")
    );

    record.email = Some("alice@example.com".into());
    assert!(store.update_mailbox(&record).await.unwrap());
    assert_eq!(
        store
            .mailbox(&id("1001"))
            .await
            .unwrap()
            .unwrap()
            .email
            .as_deref(),
        Some("alice@example.com")
    );
    assert!(
        !store
            .update_mailbox(&MailboxRecord::new(id("9")))
            .await
            .unwrap()
    );
    assert_eq!(store.mailbox(&id("9")).await.unwrap(), None);

    store
        .create_mailbox(&MailboxRecord::new(id("999")), None)
        .await
        .unwrap();
    store
        .create_mailbox(&MailboxRecord::new(id("1000")), None)
        .await
        .unwrap();
    let ids: Vec<String> = store
        .mailbox_ids()
        .await
        .unwrap()
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(ids, ["999", "1000", "1001"]);

    assert!(store.delete_mailbox(&id("1001")).await.unwrap());
    assert!(!store.delete_mailbox(&id("1001")).await.unwrap());
    let mut conn = redis.connection();
    let left: Vec<String> = redis::cmd("KEYS")
        .arg("vp:{1001}:*")
        .query(&mut conn)
        .unwrap();
    // Only the purge mark stays, until the recordings are known to be gone.
    assert_eq!(left, ["vp:{1001}:purged"]);
}

/// The purge mark, in the mailbox's own slot, is what blocks a new mailbox of
/// a deleted number; the global lists are kept in their own steps.
#[tokio::test]
async fn a_deleted_number_stays_blocked_until_its_purge_is_cleared() {
    let redis = TestRedis::fresh();
    let store = Store::connect(&RedisConfig::single(redis.url.clone()))
        .await
        .unwrap();
    let record = MailboxRecord::new(id("1001"));
    assert_eq!(
        store.create_mailbox(&record, None).await.unwrap(),
        Created::Created
    );
    assert!(store.delete_mailbox(&id("1001")).await.unwrap());
    assert!(store.purge_marked(&id("1001")).await.unwrap());
    assert_eq!(store.purges().await.unwrap(), [id("1001")]);
    assert!(store.mailbox_ids().await.unwrap().is_empty());
    assert_eq!(
        store.create_mailbox(&record, None).await.unwrap(),
        Created::AudioPending
    );
    // The refused creation listed the number, but a number without a record
    // is not a mailbox.
    assert!(store.mailbox_ids().await.unwrap().is_empty());
    store.clear_purge(&id("1001")).await.unwrap();
    assert!(store.purges().await.unwrap().is_empty());
    assert_eq!(
        store.create_mailbox(&record, None).await.unwrap(),
        Created::Created
    );
    assert_eq!(store.mailbox_ids().await.unwrap(), [id("1001")]);

    // Deleting a number that is no mailbox marks nothing for purging.
    assert!(!store.delete_mailbox(&id("1002")).await.unwrap());
    assert_eq!(store.purges().await.unwrap(), Vec::<MailboxId>::new());
    assert!(!store.purge_marked(&id("1002")).await.unwrap());

    // A purge listed by an older version (no mark) still blocks creation.
    let mut conn = redis.connection();
    let _: i64 = redis::cmd("ZADD")
        .arg("vp:purge")
        .arg(1)
        .arg("1003")
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        store
            .create_mailbox(&MailboxRecord::new(id("1003")), None)
            .await
            .unwrap(),
        Created::AudioPending
    );
}

#[tokio::test]
async fn set_pin_keeps_history_of_user_pins_only() {
    let (store, _redis) = store().await;
    let m = id("1001");
    store
        .create_mailbox(&MailboxRecord::new(m.clone()), None)
        .await
        .unwrap();
    store
        .set_pin(&m, "h-temp", PinOrigin::Temporary, 5)
        .await
        .unwrap();
    let record = store.mailbox(&m).await.unwrap().unwrap();
    assert_eq!(
        (record.pin_origin, record.must_change),
        (PinOrigin::Temporary, true)
    );
    assert!(store.pin_history(&m).await.unwrap().is_empty());
    for n in 1..=7 {
        store
            .set_pin(&m, &format!("h{n}"), PinOrigin::User, 5)
            .await
            .unwrap();
    }
    let record = store.mailbox(&m).await.unwrap().unwrap();
    assert_eq!(
        (record.pin_origin, record.must_change),
        (PinOrigin::User, false)
    );
    assert_eq!(
        store.pin_history(&m).await.unwrap(),
        ["h7", "h6", "h5", "h4", "h3"]
    );
    assert!(
        !store
            .set_pin(&id("2"), "h", PinOrigin::User, 5)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn audit_entries_come_back_in_order() {
    let (store, _redis) = store().await;
    store.audit("alice", "create", "1001", "").await.unwrap();
    store
        .audit("bob", "reset-pin", "1001", "pin=default")
        .await
        .unwrap();
    let log = store.audit_log(10).await.unwrap();
    let actions: Vec<_> = log
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(actions, [("alice", "create"), ("bob", "reset-pin")]);
    assert_eq!(log[1].detail, "pin=default");
}

/// A record whose PIN origin cannot be read fails closed: a PIN to change, never
/// "no PIN" (which would open set-up without one).
#[tokio::test]
async fn an_unreadable_pin_origin_means_must_change() {
    let (store, redis) = store().await;
    store
        .create_mailbox(&MailboxRecord::new(id("1001")), None)
        .await
        .unwrap();
    let mut conn = redis.connection();
    redis::cmd("HSET")
        .arg("vp:{1001}:box")
        .arg("pin_origin")
        .arg("garbage")
        .query::<()>(&mut conn)
        .unwrap();
    let record = store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(record.pin_origin, PinOrigin::Temporary);
    assert!(record.must_change);
}
