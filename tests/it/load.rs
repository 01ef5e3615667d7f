//! Many simultaneous calls through the portal flow: no event lost, no call stuck.

use ari_sim::{CallEnd, Dial};
use futures_util::future::join_all;

use crate::support::app::{WAIT, spawn_app};

const CALLS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_portal_calls_all_complete() {
    let app = spawn_app().await;
    let calls = (0..CALLS).map(|i| {
        let sim = app.sim.clone();
        async move {
            let mailbox = format!("{}", 2000 + i);
            let caller = sim.dial(Dial::portal(&mailbox)).await;
            caller.expect_sound("vm-login", WAIT * 3).await;
            caller.press(&format!("{mailbox}#")).await;
            caller.expect_sound("vm-password", WAIT * 3).await;
            caller.press("123456#").await;
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
