//! Bursts of portal logins through the real Asterisk and the real service: a
//! measurement, run by hand (`#[ignore]`), that prints and asserts only that
//! every login got in.
//!
//!     VOICEPORTAL_TEST_ASTERISK=... cargo test --release --test it \
//!         real::login_burst -- --ignored --nocapture --test-threads=1
//!
//! N calls from one demo phone reach the mailbox-number prompt of N different
//! mailboxes, the N PINs are typed at the same moment, and for each call the
//! latency is taken from the PBX Asterisk's own event timestamps (millisecond
//! resolution, its clock): from `ChannelDtmfReceived` for the `#` ending the PIN
//! to the `PlaybackStarted` of the next prompt ("you have"). Asterisk stamps an
//! event when it happens, before any client reads it, so the ARI transport is
//! not in the number; what is, is voiceportal's whole reaction (the login
//! through the hashing queue, Redis, the playback request).
//!
//! Once with the cheapest hash cost, once with the default cost; bursts of 10
//! and 50 (`VP_BURSTS=10,50` to change). Each burst also reports the CPU time
//! (`/proc/<pid>/stat`) that voiceportal and the PBX Asterisk spent per call,
//! from the dial to the hang-up.

use std::time::Duration;

use chrono::DateTime;
use futures_util::StreamExt;
use serde_json::Value;
use voiceportal::domain::{HashCost, MailboxId, Pin, PinHasher};
use voiceportal::store::mailboxes::{MailboxRecord, PinOrigin};

use super::Stack;
use super::ari::kind;
use super::pbx::Heard;
use super::phones::PhoneCall;

const PIN: &str = "582039";

#[tokio::test]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
async fn login_bursts_measured_from_asterisk() {
    let bursts: Vec<usize> = std::env::var("VP_BURSTS")
        .unwrap_or_else(|_| "10,50".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    for (label, cost) in [
        ("cheapest", HashCost::fast_for_tests()),
        ("default", HashCost::default()),
    ] {
        let Some(stack) = Stack::start_with_hash(cost.clone()).await else {
            return;
        };
        let hasher = PinHasher::new(&stack.config.security.pepper, &cost).unwrap();
        let hash = hasher.hash(&Pin::parse(PIN).unwrap()).unwrap();
        let most = bursts.iter().copied().max().unwrap_or(0);
        for n in 0..most {
            let mut record = MailboxRecord::new(number(n));
            record.name_recorded = true;
            stack.store.create_mailbox(&record, None).await.unwrap();
            stack
                .store
                .set_pin(&record.id, &hash, PinOrigin::User, 5)
                .await
                .unwrap();
        }
        for &n in &bursts {
            let before = (cpu_ms(stack.service_pid()), cpu_ms(stack.pbx.pid()));
            let latencies = burst(&stack, n).await;
            // Let both finish the hang-ups before reading their clocks.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let after = (cpu_ms(stack.service_pid()), cpu_ms(stack.pbx.pid()));
            let per_call = |a: f64, b: f64| (a - b) / n as f64;
            println!(
                "hash {label} {cost:?}, burst {n}: # -> next prompt p50/p95/max {} ms \
                 (PBX Asterisk's event stamps); CPU per call: voiceportal {:.1} ms, \
                 PBX Asterisk {:.1} ms",
                summary(&latencies),
                per_call(after.0, before.0),
                per_call(after.1, before.1),
            );
        }
    }
}

/// User + system CPU time of process `pid` so far, ms (0 when unknown).
fn cpu_ms(pid: Option<u32>) -> f64 {
    let Some(stat) = pid.and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
    else {
        return 0.0;
    };
    // The fields after the command name (which may hold spaces), in `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are the 14th and 15th fields, 12th and 13th after `)`.
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) * 1000.0 / hz
}

fn number(n: usize) -> MailboxId {
    MailboxId::parse(&format!("{}", 5000 + n)).unwrap()
}

/// `n` calls at the PIN prompt, PINs typed at once; the latency of each, ms.
async fn burst(stack: &Stack, n: usize) -> Vec<i64> {
    // All set up at once: the PIN prompt waits only so long for the first key.
    let setups = (0..n).map(|i| async move {
        // Phone 1002 has no mailbox of its own: the portal asks which one.
        let call = stack.phones.dial("1002", "*98").await;
        let mut heard = Heard::of(&stack.observer, &call).await;
        heard.prompt("sound:voiceportal/enter-mailbox").await;
        call.press(&format!("{}#", number(i))).await;
        heard.prompt("sound:voiceportal/enter-pin").await;
        (call, heard)
    });
    let mut calls: Vec<(PhoneCall<'_>, Heard<'_>)> = futures_util::future::join_all(setups).await;
    // The keys of every call at once; 16 requests at a time, which the phones'
    // Asterisk's HTTP server takes (each press returns as soon as it is queued,
    // long before its seven keys have been sent).
    let keys = format!("{PIN}#");
    futures_util::stream::iter(calls.iter().map(|(call, _)| call.press(&keys)))
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let mut latencies = Vec::with_capacity(n);
    for (call, heard) in &mut calls {
        heard
            .prompt_within("sound:vm-youhave", Duration::from_secs(120))
            .await;
        let pressed = last_hash_key(stack, &heard.channel);
        latencies.push(you_have_started(stack, &heard.channel) - pressed);
        call.hang_up().await;
    }
    latencies
}

/// When the PBX received the last `#` on `channel`, ms since the epoch.
fn last_hash_key(stack: &Stack, channel: &str) -> i64 {
    stack
        .observer
        .events
        .all()
        .iter()
        .filter(|e| {
            kind(e) == "ChannelDtmfReceived" && e["channel"]["id"] == channel && e["digit"] == "#"
        })
        .map(stamp)
        .next_back()
        .unwrap_or_else(|| panic!("the PBX saw no # on {channel}"))
}

/// When the PBX started playing "you have" on `channel`, ms since the epoch.
fn you_have_started(stack: &Stack, channel: &str) -> i64 {
    let target = format!("channel:{channel}");
    stack
        .observer
        .events
        .all()
        .iter()
        .find(|e| {
            kind(e) == "PlaybackStarted"
                && e["playback"]["target_uri"] == *target
                && e["playback"]["media_uri"]
                    .as_str()
                    .is_some_and(|m| m.contains("vm-youhave"))
        })
        .map(stamp)
        .unwrap_or_else(|| panic!("no \"you have\" on {channel}"))
}

/// An event's Asterisk timestamp, ms since the epoch.
fn stamp(event: &Value) -> i64 {
    let text = event["timestamp"].as_str().unwrap_or_default();
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .unwrap_or_else(|e| panic!("timestamp {text:?}: {e}"))
        .timestamp_millis()
}

fn summary(latencies: &[i64]) -> String {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let at = |q: usize| sorted[(sorted.len() * q).div_ceil(100).max(1) - 1];
    format!("{} / {} / {}", at(50), at(95), at(100))
}
