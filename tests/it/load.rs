//! Many simultaneous calls through the portal login: no event lost, no call stuck.

use ari_sim::{CallEnd, Dial};
use futures_util::future::join_all;

use voiceportal::domain::{MailboxId, Pin, PinHasher};
use voiceportal::store::mailboxes::{MailboxRecord, PinOrigin};

use crate::support::app::{WAIT, spawn_app};

const CALLS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_portal_calls_all_complete() {
    let app = spawn_app().await;
    let hasher = PinHasher::new(&app.config.security.pepper, &app.config.security.hash).unwrap();
    let hash = hasher.hash(&Pin::parse("135790").unwrap()).unwrap();
    for i in 0..CALLS {
        let mut record = MailboxRecord::new(MailboxId::parse(&format!("{}", 2000 + i)).unwrap());
        record.name_recorded = true;
        app.store.create_mailbox(&record, None).await.unwrap();
        app.store
            .set_pin(&record.id, &hash, PinOrigin::User, 5)
            .await
            .unwrap();
    }
    let calls = (0..CALLS).map(|i| {
        let sim = app.sim.clone();
        async move {
            let mailbox = format!("{}", 2000 + i);
            let mut dial = Dial::portal(&mailbox);
            dial.context = "from-outside".into();
            let caller = sim.dial(dial).await;
            caller
                .expect_sound("voiceportal/enter-mailbox", WAIT * 3)
                .await;
            caller.press(&format!("{mailbox}#")).await;
            caller.expect_sound("voiceportal/enter-pin", WAIT * 3).await;
            caller.press("135790#").await;
            caller.expect_sound("vm-goodbye", WAIT * 3).await;
            caller.wait_end(WAIT * 3).await
        }
    });
    let ends = join_all(calls).await;
    let finished = ends
        .iter()
        .filter(|end| matches!(end, Some(CallEnd::HungUpByApp { .. })))
        .count();
    assert_eq!(
        finished,
        CALLS,
        "{:?}",
        ends.iter()
            .filter(|e| !matches!(e, Some(CallEnd::HungUpByApp { .. })))
            .take(5)
            .collect::<Vec<_>>()
    );
    assert!(app.sim.live_channels().is_empty(), "calls left in Stasis");
}
