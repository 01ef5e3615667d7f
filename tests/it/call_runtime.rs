//! The `Call` primitives over the wire, against the ARI simulator: barge-in, each
//! digit timeout, recording, and hang-up at every stage.

use std::time::Duration;

use ari_sim::{CallEnd, Dial, Heard, SimConfig};
use futures_util::future::BoxFuture;
use voiceportal::call::{Call, CallError, Collect, DialplanTarget, Digits, Media, RecordSpec};

use crate::support::app::WAIT;
use crate::support::probe::{spawn_probe, spawn_probe_with};
use crate::support::wait_beep;

/// An entry as the tests compare it: the digits, then how it ended.
fn shown(entry: &Result<Digits, CallError>) -> String {
    match entry {
        Ok(entry) => format!("{} {:?}", entry.digits, entry.end),
        Err(e) => format!("Err({e:?})"),
    }
}

fn sound(name: &str) -> Media {
    Media::sound(name)
}

fn collect_after_two_prompts(call: &mut Call) -> BoxFuture<'_, String> {
    Box::pin(async move {
        if let Err(e) = call.answer().await {
            return format!("{e:?}");
        }
        let entry = call
            .play_and_collect(
                &[sound("vm-login"), sound("vm-password")],
                &Collect::digits(4),
            )
            .await;
        shown(&entry)
    })
}

fn heard_sound(heard: &[Heard], name: &str) -> bool {
    heard
        .iter()
        .any(|h| matches!(h, Heard::Sound { name: n, .. } if n == name))
}

#[tokio::test]
async fn first_digit_stops_the_prompt_and_digits_typed_during_it_count() {
    let mut probe = spawn_probe(collect_after_two_prompts).await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("vm-login", WAIT).await;
    caller.press("12#").await;
    assert_eq!(probe.result().await, "12 Terminator");
    // The playlist's second item never started: the first key stopped the prompt.
    assert!(
        !heard_sound(&caller.heard(), "vm-password"),
        "{:?}",
        caller.heard()
    );
    let stops = probe
        .sim
        .request_log()
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.contains("/playbacks/"))
        .count();
    assert_eq!(stops, 1);
}

/// A number entry ends on `#`, not at its maximum: digits beyond it overflow
/// that one entry, and nothing of it spills into the next (issue 10, item 3).
#[tokio::test]
async fn a_number_entry_ends_on_pound_and_extra_digits_overflow_it() {
    fn two_entries(call: &mut Call) -> BoxFuture<'_, String> {
        Box::pin(async move {
            let first = call
                .play_and_collect(&[sound("vm-login")], &Collect::digits(4))
                .await;
            let overflow = first.as_ref().map(|d| d.overflow).unwrap_or_default();
            let second = call.play_and_collect(&[], &Collect::digits(4)).await;
            format!("{} {overflow} {}", shown(&first), shown(&second))
        })
    }
    let mut probe = spawn_probe(two_entries).await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("vm-login", WAIT).await;
    caller.press("123456#").await;
    assert_eq!(probe.result().await, "1234 Terminator true  Timeout");
}

/// A menu key ends its entry at once; keys after it wait for the next entry.
#[tokio::test]
async fn a_menu_key_ends_its_entry_and_later_keys_wait_for_the_next_one() {
    fn two_entries(call: &mut Call) -> BoxFuture<'_, String> {
        Box::pin(async move {
            let first = call
                .play_and_collect(&[sound("vm-login")], &Collect::one_key())
                .await;
            let second = call.play_and_collect(&[], &Collect::digits(4)).await;
            format!("{} {}", shown(&first), shown(&second))
        })
    }
    let mut probe = spawn_probe(two_entries).await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("vm-login", WAIT).await;
    caller.press("156#").await;
    assert_eq!(probe.result().await, "1 MaxDigits 56 Terminator");
}

#[tokio::test]
async fn first_digit_timer_starts_when_the_prompt_ends() {
    fn long_prompt(call: &mut Call) -> BoxFuture<'_, String> {
        Box::pin(async move {
            let entry = call
                .play_and_collect(&[sound("long-prompt")], &Collect::digits(4))
                .await;
            shown(&entry)
        })
    }
    let mut sim = SimConfig::default();
    // 20 virtual seconds: far longer than the first-digit timeout.
    sim.sound_lengths.insert("long-prompt".into(), 20.0);
    let mut probe = spawn_probe_with(
        sim,
        |c| c.call.first_digit_timeout = Duration::from_millis(200),
        long_prompt,
    )
    .await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    assert_eq!(probe.result().await, " Timeout");
    // The prompt played to its end: nobody stopped it.
    assert!(heard_sound(&caller.heard(), "long-prompt"));
    assert!(
        !probe
            .sim
            .request_log()
            .iter()
            .any(|r| r.method == "DELETE" && r.path.contains("/playbacks/")),
        "the prompt was cut by the first-digit timer"
    );
}

#[tokio::test]
async fn inter_digit_timeout_ends_an_unfinished_entry() {
    let mut probe = spawn_probe_with(
        SimConfig::default(),
        |c| c.call.inter_digit_timeout = Duration::from_millis(300),
        collect_after_two_prompts,
    )
    .await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("vm-login", WAIT).await;
    caller.press("12").await;
    assert_eq!(probe.result().await, "12 Timeout");
}

#[tokio::test]
async fn overall_timeout_bounds_a_slow_entry() {
    fn slow(call: &mut Call) -> BoxFuture<'_, String> {
        Box::pin(async move {
            let entry = call.play_and_collect(&[], &Collect::digits(10)).await;
            shown(&entry)
        })
    }
    let mut probe = spawn_probe_with(
        SimConfig::default(),
        |c| {
            c.call.first_digit_timeout = Duration::from_secs(30);
            c.call.inter_digit_timeout = Duration::from_secs(30);
            c.call.collect_timeout = Duration::from_millis(600);
        },
        slow,
    )
    .await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    caller.press("7").await;
    assert_eq!(probe.result().await, "7 Timeout");
}

#[tokio::test]
async fn terminator_alone_is_an_empty_entry() {
    let mut probe = spawn_probe(collect_after_two_prompts).await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("vm-login", WAIT).await;
    caller.press("#").await;
    assert_eq!(probe.result().await, " Terminator");
}

#[tokio::test]
async fn hang_up_during_a_prompt_ends_the_flow() {
    fn play_long(call: &mut Call) -> BoxFuture<'_, String> {
        Box::pin(async move {
            let played = call.play(&[sound("long-prompt")]).await;
            let after = call.play(&[sound("vm-goodbye")]).await;
            format!("{played:?} {after:?}")
        })
    }
    let mut sim = SimConfig::default();
    sim.sound_lengths.insert("long-prompt".into(), 60.0);
    let mut probe = spawn_probe_with(sim, |_| {}, play_long).await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("long-prompt", WAIT).await;
    caller.hangup().await;
    assert_eq!(probe.result().await, "Err(Gone) Err(Gone)");
}

#[tokio::test]
async fn hang_up_during_digit_collection_ends_the_flow() {
    let mut probe = spawn_probe(collect_after_two_prompts).await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("vm-login", WAIT).await;
    caller.press("1").await;
    caller.hangup().await;
    assert_eq!(probe.result().await, "Err(Gone)");
}

fn record_message(call: &mut Call) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let spec = RecordSpec {
            name: format!("test/{}/msg", call.channel_id()),
            max_duration: Duration::from_secs(60),
            max_silence: Duration::from_secs(5),
            beep: true,
            terminate_on: "#",
        };
        let recorded = call.record(&spec).await;
        let after = call.play(&[sound("vm-goodbye")]).await;
        match recorded {
            Ok(r) => format!(
                "duration={} hung_up={} by_key={} next={after:?}",
                r.duration_secs, r.hung_up, r.by_key
            ),
            Err(e) => format!("{e:?}"),
        }
    })
}

#[tokio::test]
async fn hang_up_during_a_recording_keeps_it_and_reports_its_duration() {
    let mut probe = spawn_probe(record_message).await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    wait_beep(&caller).await;
    caller.speak(2.5).await;
    caller.hangup().await;
    let result = probe.result().await;
    assert_duration(&result, 2..=3);
    assert!(
        result.ends_with("hung_up=true by_key=false next=Err(Gone)"),
        "{result}"
    );
    let name = format!("test/{}/msg", caller.channel_id());
    assert!(probe.sim.stored_recordings().contains(&name));
}

#[tokio::test]
async fn pound_ends_a_recording() {
    let mut probe = spawn_probe(record_message).await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    wait_beep(&caller).await;
    caller.speak(3.2).await;
    caller.press("#").await;
    let result = probe.result().await;
    assert_duration(&result, 3..=4);
    assert!(
        result.ends_with("hung_up=false by_key=true next=Ok(())"),
        "{result}"
    );
}

#[tokio::test]
async fn silence_ends_a_recording() {
    let mut probe = spawn_probe(record_message).await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    wait_beep(&caller).await;
    caller.speak(2.0).await;
    // Silent RTP follows; maxSilenceSeconds (5) ends the recording by itself.
    let result = probe.result().await;
    assert!(
        result.contains("hung_up=false by_key=false next=Ok(())"),
        "{result}"
    );
}

/// Virtual time runs fast, so a few real milliseconds of scheduling delay can add a
/// virtual second: accept one second of slack, never less than what was spoken.
fn assert_duration(result: &str, expected: std::ops::RangeInclusive<u32>) {
    let duration: u32 = result
        .strip_prefix("duration=")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration in {result}"));
    assert!(expected.contains(&duration), "{result}");
}

#[tokio::test]
async fn a_playback_whose_end_never_comes_times_out() {
    fn play_missing(call: &mut Call) -> BoxFuture<'_, String> {
        Box::pin(async move {
            // A missing stored recording starts and never finishes on a real Asterisk.
            let first = call.play(&[Media::Recording("nope/missing".into())]).await;
            let second = call.play(&[sound("vm-goodbye")]).await;
            format!("{first:?} {second:?}")
        })
    }
    let mut probe = spawn_probe_with(
        SimConfig::default(),
        |c| c.call.prompt_timeout = Duration::from_millis(300),
        play_missing,
    )
    .await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    assert_eq!(probe.result().await, "Ok(()) Ok(())");
    caller.expect_sound("vm-goodbye", WAIT).await;
}

#[tokio::test]
async fn continue_in_dialplan_hands_a_variable_back() {
    fn attendant_like(call: &mut Call) -> BoxFuture<'_, String> {
        Box::pin(async move {
            let set = call.set_variable("VP_DIGIT", "3").await;
            let target = DialplanTarget {
                context: "attendant".into(),
                extension: "s".into(),
                priority: 1,
            };
            let cont = call.continue_in_dialplan(Some(&target)).await;
            let after = call.play(&[sound("vm-goodbye")]).await;
            format!("{set:?} {cont:?} {after:?}")
        })
    }
    let mut probe = spawn_probe(attendant_like).await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    assert_eq!(probe.result().await, "Ok(()) Ok(()) Err(Gone)");
    let end = caller.wait_end(WAIT).await;
    assert!(
        matches!(&end, Some(CallEnd::Continued { context, exten, priority })
            if context == "attendant" && exten == "s" && *priority == 1),
        "{end:?}"
    );
    assert_eq!(
        caller.variables().get("VP_DIGIT").map(String::as_str),
        Some("3")
    );
}

#[tokio::test]
async fn hangup_ends_the_call_from_our_side() {
    fn hang_up(call: &mut Call) -> BoxFuture<'_, String> {
        Box::pin(async move {
            let first = call.hangup().await;
            let again = call.hangup().await;
            format!("{first:?} {again:?}")
        })
    }
    let mut probe = spawn_probe(hang_up).await;
    let caller = probe.sim.dial(Dial::portal("1001")).await;
    assert_eq!(probe.result().await, "Ok(()) Ok(())");
    assert!(matches!(
        caller.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));
}
