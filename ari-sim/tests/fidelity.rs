//! Fidelity: replays the real Asterisk 22.10.1 traces against the simulator.
//!
//! For each scenario, the app side's requests (from `<scenario>.jsonl`) and
//! the caller side's actions (from `<scenario>.meta.json`, run 1) are replayed
//! on the same schedule, scaled by the simulator's speed:
//! * app requests run one after another, each at its trace time, or, when
//!   the traced app sent it in reaction to an event (within 20 ms), as soon
//!   as that event arrived; ids are mapped (channel ids, generated playback
//!   ids);
//! * the caller dials, presses digits and hangs up at its trace times; its
//!   audio follows its own traced playbacks (`sound:silence/*` = silent RTP,
//!   other sounds = speech, nothing playing = no RTP, like the lab's caller);
//! * app socket closes/aborts/reconnects follow the trace's socket notes.
//!
//! Then the app's events (type, playback/recording states, media, recording
//! durations, digits, causes, args, which socket) and the HTTP statuses and
//! error messages must equal the trace. The order of a response relative to
//! the events it triggers is not compared (it varies on a real Asterisk too),
//! nor are timestamps and ids.
//!
//! All 21 scenarios are covered: barge_in, queued_then_hangup, dtmf_sequence,
//! record_hash, record_hangup, record_silence, record_silence_rtp,
//! record_cancel, record_stop, record_dtmf_no_terminate, play_missing,
//! play_recording_controls, after_hangup, after_continue_ops, ws_drop,
//! ws_drop_abort, app_replaced, answer_blocking, continue_dialplan, mailboxes,
//! local_vs_sip.

mod common;

use ari_sim::{Caller, CallerAudio, ChannelKind, Dial, SimConfig, Simulator};
use common::{AppSocket, EventLog, Http};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const APP: &str = "voicemail-lab";

fn load(name: &str) -> (Vec<Value>, Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/traces/");
    let lines = std::fs::read_to_string(format!("{dir}{name}.jsonl")).expect("trace");
    let lines = lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("trace line"))
        .collect();
    let meta = std::fs::read_to_string(format!("{dir}{name}.meta.json")).expect("meta");
    (lines, serde_json::from_str(&meta).expect("meta json"))
}

/// One app-side step.
#[derive(Debug, Clone)]
enum AppStep {
    Request {
        t: f64,
        method: String,
        path: String,
        body: Value,
        /// Index of the app event the traced app was reacting to.
        after_event: Option<usize>,
    },
    CloseSocket {
        t: f64,
        abort: bool,
    },
    OpenSocket {
        t: f64,
    },
}

impl AppStep {
    fn t(&self) -> f64 {
        match self {
            AppStep::Request { t, .. }
            | AppStep::CloseSocket { t, .. }
            | AppStep::OpenSocket { t } => *t,
        }
    }
}

/// One caller-side step.
#[derive(Debug, Clone)]
enum CallerStep {
    Dial {
        t: f64,
        trace_caller: String,
        local: bool,
    },
    Press {
        t: f64,
        trace_caller: String,
        digits: String,
    },
    Hangup {
        t: f64,
        trace_caller: String,
    },
    Audio {
        t: f64,
        mode: CallerAudio,
    },
}

impl CallerStep {
    fn t(&self) -> f64 {
        match self {
            CallerStep::Dial { t, .. }
            | CallerStep::Press { t, .. }
            | CallerStep::Hangup { t, .. }
            | CallerStep::Audio { t, .. } => *t,
        }
    }
}

fn is_app_event(line: &Value) -> bool {
    line["dir"] == "event" && line["app"] == APP
}

/// Normalises an event to what must match.
fn norm_event(socket: usize, e: &Value) -> String {
    let ty = e["type"].as_str().unwrap_or("?");
    let s = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let body = match ty {
        t if t.starts_with("Playback") => {
            let p = &e["playback"];
            format!(
                "{} {} next={}",
                s(&p["state"]),
                s(&p["media_uri"]),
                s(&p["next_media_uri"])
            )
        }
        t if t.starts_with("Recording") => {
            let r = &e["recording"];
            format!(
                "{} {} d={} talk={} sil={}",
                s(&r["name"]),
                s(&r["state"]),
                s(&r["duration"]),
                s(&r["talking_duration"]),
                s(&r["silence_duration"])
            )
        }
        "ChannelDtmfReceived" => {
            // SIP reports 160 or, by one 20 ms frame, 180.
            let dur = match e["duration_ms"].as_i64() {
                Some(180) => 160,
                Some(d) => d,
                None => -1,
            };
            format!("{} {}", s(&e["digit"]), dur)
        }
        "ChannelHangupRequest" => format!("cause={} soft={}", s(&e["cause"]), s(&e["soft"])),
        "StasisStart" => {
            let c = &e["channel"];
            let dp = &c["dialplan"];
            format!(
                "args={} state={} dp={}/{}/{} data={} connected={}",
                e["args"],
                s(&c["state"]),
                s(&dp["context"]),
                s(&dp["exten"]),
                s(&dp["priority"]),
                s(&dp["app_data"]).replace("voicemail-lab", "APP"),
                s(&c["connected"]["number"])
            )
        }
        "ChannelStateChange" | "StasisEnd" => format!("state={}", s(&e["channel"]["state"])),
        "ChannelVarset" => s(&e["variable"]),
        _ => String::new(),
    };
    format!("#{socket} {ty} {body}")
}

/// Normalises a response to what must match.
fn norm_resp(method: &str, path: &str, status: u16, body: &Value) -> String {
    let s = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let detail = match body {
        Value::Object(o) if o.contains_key("message") => s(&body["message"]),
        Value::Object(o) if o.contains_key("protocol_id") => {
            format!("channel state={}", s(&body["state"]))
        }
        Value::Object(o) if o.contains_key("channel_ids") => format!(
            "app {} channels={}",
            s(&body["name"]),
            body["channel_ids"].as_array().map(Vec::len).unwrap_or(0)
        ),
        Value::Object(o) if o.contains_key("media_uri") => {
            // The state in a 201 races with the start on a real Asterisk.
            let state = if status == 201 {
                "-".to_string()
            } else {
                s(&body["state"])
            };
            format!(
                "playback {} next={} {}",
                s(&body["media_uri"]),
                s(&body["next_media_uri"]),
                state
            )
        }
        Value::Object(o) if o.contains_key("target_uri") => {
            let state = if status == 201 {
                "-".to_string()
            } else {
                s(&body["state"])
            };
            format!(
                "recording {} {} {}",
                s(&body["name"]),
                s(&body["format"]),
                state
            )
        }
        // The lab's stored list holds older recordings: not comparable.
        Value::Array(_) if method == "GET" && path.starts_with("/ari/recordings/stored") => {
            "list".to_string()
        }
        other => other.to_string(),
    };
    // Channel and playback ids differ between the trace and the simulator.
    let mut shape = Vec::new();
    let mut prev = "";
    for part in path.split('?').next().unwrap_or("").split('/') {
        shape.push(if prev == "channels" || prev == "playbacks" {
            "{id}"
        } else {
            part
        });
        prev = part;
    }
    format!("{method} {} -> {status} {detail}", shape.join("/"))
}

/// Replaces every occurrence of trace ids by simulator ids.
fn map_ids(path: &str, ids: &HashMap<String, String>) -> String {
    let mut out = path.to_string();
    let mut pairs: Vec<(&String, &String)> = ids.iter().collect();
    pairs.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (from, to) in pairs {
        out = out.replace(&from.replace(';', "%3B"), &to.replace(';', "%3B"));
        out = out.replace(from.as_str(), to);
    }
    out
}

fn query_param(path: &str, key: &str) -> Option<String> {
    let query = path.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| decode(v))
        .next_back()
}

/// Percent-decoding for the trace's query strings.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = text.get(i + 1..i + 3).filter(|_| bytes[i] == b'%');
        if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Expected responses: normalised text, for binary bodies their size, and
/// the JSON body.
type ExpectedResponses = Vec<(String, Option<u64>, Value)>;

/// Builds the app-side steps, the expected events and responses.
fn app_side(lines: &[Value], meta: &Value) -> (Vec<AppStep>, Vec<String>, ExpectedResponses) {
    let mut steps = Vec::new();
    let mut expected_events = Vec::new();
    let mut expected_resps = Vec::new();
    let mut labels: Vec<u64> = lines
        .iter()
        .filter(|l| is_app_event(l))
        .filter_map(|l| l["ws"].as_str())
        .filter_map(|w| w.rsplit('#').next()?.parse().ok())
        .collect();
    labels.sort();
    labels.dedup();
    let ordinal = |line: &Value| -> usize {
        line["ws"]
            .as_str()
            .and_then(|w| w.rsplit('#').next()?.parse::<u64>().ok())
            .and_then(|n| labels.iter().position(|l| *l == n))
            .unwrap_or(0)
    };
    let mut event_index = 0usize;
    let mut last_event: Option<(usize, f64)> = None;
    let mut pending: Option<(String, String)> = None;
    for line in lines {
        let t = line["t"].as_f64().unwrap_or(0.0);
        match line["dir"].as_str() {
            Some("event") if is_app_event(line) => {
                expected_events.push(norm_event(ordinal(line), &line["event"]));
                last_event = Some((event_index, t));
                event_index += 1;
            }
            Some("request") => {
                let method = line["method"].as_str().unwrap_or("GET").to_string();
                let path = line["path"].as_str().unwrap_or("").to_string();
                let after_event = last_event.filter(|(_, et)| t - et <= 0.02).map(|(i, _)| i);
                steps.push(AppStep::Request {
                    t,
                    method: method.clone(),
                    path: path.clone(),
                    body: line["body"].clone(),
                    after_event,
                });
                pending = Some((method, path));
            }
            Some("response") => {
                if let Some((method, path)) = pending.take() {
                    let status = line["status"].as_u64().unwrap_or(0) as u16;
                    let norm = norm_resp(&method, &path, status, &line["body"]);
                    expected_resps.push((norm, line["body_bytes"].as_u64(), line["body"].clone()));
                }
            }
            _ => {}
        }
    }
    let run = &meta["runs"][0];
    for ev in run["notes"]["socket_events"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let t = ev["t"].as_f64().unwrap_or(0.0);
        let what = ev["what"].as_str().unwrap_or("");
        let step = if what.contains("reconnects") || what.contains("opens a second") {
            AppStep::OpenSocket { t }
        } else if what.contains("abort") {
            AppStep::CloseSocket { t, abort: true }
        } else {
            AppStep::CloseSocket { t, abort: false }
        };
        steps.push(step);
    }
    steps.sort_by(|a, b| a.t().total_cmp(&b.t()));
    (steps, expected_events, expected_resps)
}

/// Builds the caller-side steps from run 1 of the meta file.
fn caller_side(meta: &Value) -> Vec<CallerStep> {
    let run = &meta["runs"][0];
    let mut steps = Vec::new();
    for a in run["caller_actions"].as_array().into_iter().flatten() {
        let t = a["t"].as_f64().unwrap_or(0.0);
        let method = a["method"].as_str().unwrap_or("");
        let path = a["path"].as_str().unwrap_or("");
        let bare = path.split('?').next().unwrap_or("");
        if method == "POST" && bare == "/ari/channels" {
            let endpoint = query_param(path, "endpoint").unwrap_or_default();
            steps.push(CallerStep::Dial {
                t,
                trace_caller: query_param(path, "channelId").unwrap_or_default(),
                local: endpoint.starts_with("Local/"),
            });
        } else if method == "POST" && bare.ends_with("/dtmf") {
            let caller = bare
                .trim_start_matches("/ari/channels/")
                .trim_end_matches("/dtmf");
            steps.push(CallerStep::Press {
                t,
                trace_caller: caller.to_string(),
                digits: query_param(path, "dtmf").unwrap_or_default(),
            });
        } else if method == "DELETE" && bare.starts_with("/ari/channels/") {
            steps.push(CallerStep::Hangup {
                t,
                trace_caller: bare.trim_start_matches("/ari/channels/").to_string(),
            });
        }
    }
    for e in run["caller_events"].as_array().into_iter().flatten() {
        let t = e["t"].as_f64().unwrap_or(0.0);
        match e["type"].as_str() {
            Some("PlaybackStarted") => {
                let uri = e["playback"]["media_uri"].as_str().unwrap_or("");
                let mode = if uri.starts_with("sound:silence") {
                    CallerAudio::Silence
                } else {
                    CallerAudio::Talking
                };
                steps.push(CallerStep::Audio { t, mode });
            }
            Some("PlaybackFinished") => steps.push(CallerStep::Audio {
                t,
                mode: CallerAudio::NoRtp,
            }),
            _ => {}
        }
    }
    steps.sort_by(|a, b| a.t().total_cmp(&b.t()));
    steps
}

/// Shared between the two replay tasks.
struct Replay {
    sim: Simulator,
    start: Instant,
    speed: f64,
    /// Trace id => simulator id.
    ids: Mutex<HashMap<String, String>>,
    log: EventLog,
}

impl Replay {
    async fn at(&self, t: f64) {
        tokio::time::sleep_until(self.start + Duration::from_secs_f64(t / self.speed)).await;
    }
}

/// One step of either side, on the merged trace time line.
enum Step {
    App(AppStep),
    Caller(CallerStep),
}

impl Step {
    fn t(&self) -> f64 {
        match self {
            Step::App(s) => s.t(),
            Step::Caller(s) => s.t(),
        }
    }
}

/// What the replay observed.
#[derive(Default)]
struct Observed {
    /// Normalised responses with body sizes.
    responses: Vec<(String, usize, Value)>,
    /// (trace caller id, expected to fail, did fail) per dial.
    dials: Vec<(String, bool, bool)>,
}

/// Replays both sides in trace-time order. Steps run one after another, so
/// that two steps a few ms apart in the trace cannot swap under load; a
/// blocking request (answer) delays later steps as it did in the lab.
async fn run_steps(
    replay: Arc<Replay>,
    steps: Vec<Step>,
    first: AppSocket,
    trace_uuids: Vec<String>,
    meta: &Value,
) -> (Observed, Vec<AppSocket>) {
    let calls = meta["runs"][0]["notes"]["calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let http = Http::new(&replay.sim);
    let mut sockets: Vec<Option<AppSocket>> = vec![Some(first)];
    let mut seen = Observed::default();
    let mut generated = 0;
    let mut callers: HashMap<String, Caller> = HashMap::new();
    let mut current: Option<Caller> = None;
    for step in steps {
        replay.at(step.t()).await;
        match step {
            Step::App(AppStep::OpenSocket { .. }) => {
                let ordinal = sockets.len();
                sockets.push(Some(
                    AppSocket::connect(&replay.sim, APP, &replay.log, ordinal).await,
                ));
            }
            Step::App(AppStep::CloseSocket { abort, .. }) => {
                if let Some(sock) = sockets.iter_mut().find_map(Option::take) {
                    if abort {
                        sock.abort().await
                    } else {
                        sock.close().await
                    }
                }
            }
            Step::App(AppStep::Request {
                method,
                path,
                body,
                after_event,
                ..
            }) => {
                if let Some(i) = after_event {
                    let _ = replay.log.wait_len(i + 1, Duration::from_secs(10)).await;
                }
                let path = map_ids(&path, &replay.ids.lock().unwrap());
                let body = (!body.is_null()).then_some(&body);
                let resp = http.call_body(&method, &path, body).await;
                let value = if resp.content_type.as_deref() == Some("application/json") {
                    resp.json()
                } else {
                    Value::Null
                };
                // Generated playback ids: map the trace's ids to ours, in order.
                let bare = path.split('?').next().unwrap_or("");
                if resp.status == 201 && bare.ends_with("/play") {
                    if let (Some(ours), Some(theirs)) =
                        (value["id"].as_str(), trace_uuids.get(generated))
                    {
                        replay
                            .ids
                            .lock()
                            .unwrap()
                            .insert(theirs.clone(), ours.to_string());
                    }
                    generated += 1;
                }
                let norm = norm_resp(&method, &path, resp.status, &value);
                seen.responses.push((norm, resp.bytes.len(), value));
            }
            Step::Caller(CallerStep::Dial {
                trace_caller,
                local,
                ..
            }) => {
                let mut dial = Dial::portal("1001");
                if local {
                    dial.kind = ChannelKind::Local;
                }
                let caller = replay.sim.dial(dial).await;
                // The lab's calling channel sent no RTP while idle.
                caller.set_audio(CallerAudio::NoRtp);
                let call = calls
                    .iter()
                    .find(|c| c["caller_channel"] == trace_caller.as_str());
                if let Some(vm) = call.and_then(|c| c["vm_channel"].as_str()) {
                    replay
                        .ids
                        .lock()
                        .unwrap()
                        .insert(vm.to_string(), caller.channel_id());
                }
                let second = call.is_some_and(|c| c["second_call"] == true);
                seen.dials
                    .push((trace_caller.clone(), second, caller.stasis_failed()));
                callers.insert(trace_caller, caller.clone());
                current = Some(caller);
            }
            Step::Caller(CallerStep::Press {
                trace_caller,
                digits,
                ..
            }) => {
                if let Some(c) = callers.get(&trace_caller).cloned() {
                    tokio::spawn(async move { c.press(&digits).await });
                }
            }
            Step::Caller(CallerStep::Hangup { trace_caller, .. }) => {
                if let Some(c) = callers.get(&trace_caller) {
                    c.hangup().await;
                }
            }
            Step::Caller(CallerStep::Audio { mode, .. }) => {
                if let Some(c) = &current {
                    c.set_audio(mode);
                }
            }
        }
    }
    (seen, sockets.into_iter().flatten().collect())
}

/// Runs one scenario at `speed` and compares with the trace.
async fn scenario(name: &str, speed: f64, setup: impl FnOnce(&Simulator)) {
    let (lines, meta) = load(name);
    let (app_steps, expected_events, expected_resps) = app_side(&lines, &meta);
    let caller_steps = caller_side(&meta);
    let mut config = SimConfig {
        app: APP.to_string(),
        speed,
        ..SimConfig::default()
    };
    // The lab has no such sound.
    config
        .missing_sounds
        .insert("this-does-not-exist".to_string());
    let sim = Simulator::start(config).await.expect("start simulator");
    setup(&sim);
    if name == "mailboxes" {
        // The lab's mailbox held 1 old and 2 new messages before the run.
        let put = Http::new(&sim)
            .call(
                "PUT",
                "/ari/mailboxes/1001@default?oldMessages=1&newMessages=2",
            )
            .await;
        assert_eq!(put.status, 204);
    }
    let log = EventLog::new();
    let first = AppSocket::connect(&sim, APP, &log, 0).await;
    assert!(sim.wait_app_connected(Duration::from_secs(5)).await);
    // Generated playback ids (POST /play without id) are mapped in order.
    let trace_uuids: Vec<String> = trace_generated_ids(&lines);
    let replay = Arc::new(Replay {
        sim: sim.clone(),
        start: Instant::now(),
        speed,
        ids: Mutex::new(HashMap::new()),
        log: log.clone(),
    });
    let mut steps: Vec<Step> = app_steps.into_iter().map(Step::App).collect();
    steps.extend(caller_steps.into_iter().map(Step::Caller));
    steps.sort_by(|a, b| a.t().total_cmp(&b.t()));
    let (seen, sockets) = run_steps(replay.clone(), steps, first, trace_uuids, &meta).await;
    let end_t = lines.last().and_then(|l| l["t"].as_f64()).unwrap_or(0.0) + 0.5;
    replay.at(end_t).await;
    let _ = log
        .wait_len(expected_events.len(), Duration::from_secs(3))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    for sock in sockets {
        sock.close().await;
    }

    let actual_events: Vec<String> = log.all().iter().map(|(s, e)| norm_event(*s, e)).collect();
    assert_eq!(actual_events, expected_events, "{name}: events differ");
    // Same JSON shape (keys and value types, recursively) as the real events.
    let trace_events = lines
        .iter()
        .filter(|l| is_app_event(l))
        .map(|l| &l["event"]);
    for ((_, ours), theirs) in log.all().iter().zip(trace_events) {
        assert_eq!(
            shape(ours),
            shape(theirs),
            "{name}: shape of {}",
            theirs["type"]
        );
    }
    let actual_resps: Vec<String> = seen.responses.iter().map(|(n, ..)| n.clone()).collect();
    let wanted: Vec<String> = expected_resps.iter().map(|(n, ..)| n.clone()).collect();
    assert_eq!(actual_resps, wanted, "{name}: responses differ");
    for ((_, ours, our_body), (norm, bytes, their_body)) in
        seen.responses.iter().zip(&expected_resps)
    {
        // Same JSON shape, except the lab's stored-recordings list.
        if !norm.ends_with(" list") {
            assert_eq!(
                shape(our_body),
                shape(their_body),
                "{name}: body shape of {norm}"
            );
        }
        if let Some(bytes) = bytes {
            let diff = (*ours as i64 - *bytes as i64).abs();
            assert!(
                diff <= 3200,
                "{name}: {norm}: {ours} bytes, trace had {bytes}"
            );
        }
    }
    for (caller, second, failed) in seen.dials {
        assert_eq!(
            failed, second,
            "{name}: call {caller}: stasis_failed must be {second}"
        );
    }
}

/// Keys and value kinds of a JSON value, recursively.
fn shape(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            let inner: Vec<String> = o.iter().map(|(k, v)| format!("{k}:{}", shape(v))).collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!("[{}]", items.first().map(shape).unwrap_or_default()),
        Value::String(_) => "s".to_string(),
        Value::Number(_) => "n".to_string(),
        Value::Bool(_) => "b".to_string(),
        Value::Null => "null".to_string(),
    }
}

/// Ids the traced Asterisk generated for `POST /play` without an id.
fn trace_generated_ids(lines: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    let mut last_req = String::new();
    for l in lines {
        match l["dir"].as_str() {
            Some("request") => last_req = l["path"].as_str().unwrap_or("").to_string(),
            Some("response")
                if l["status"] == 201
                    && last_req.split('?').next().unwrap_or("").ends_with("/play") =>
            {
                if let Some(id) = l["body"]["id"].as_str() {
                    out.push(id.to_string());
                }
            }
            _ => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barge_in() {
    scenario("barge_in", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_then_hangup() {
    scenario("queued_then_hangup", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_sequence() {
    scenario("dtmf_sequence", 2.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_hash() {
    scenario("record_hash", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_hangup() {
    scenario("record_hangup", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_silence() {
    scenario("record_silence", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_silence_rtp() {
    scenario("record_silence_rtp", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_cancel() {
    scenario("record_cancel", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_stop() {
    scenario("record_stop", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_dtmf_no_terminate() {
    scenario("record_dtmf_no_terminate", 2.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_missing() {
    scenario("play_missing", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_recording_controls() {
    scenario("play_recording_controls", 4.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_hangup() {
    scenario("after_hangup", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_continue_ops() {
    scenario("after_continue_ops", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_drop() {
    scenario("ws_drop", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_drop_abort() {
    scenario("ws_drop_abort", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_replaced() {
    scenario("app_replaced", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_blocking() {
    scenario("answer_blocking", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_dialplan() {
    scenario("continue_dialplan", 5.0, |sim| {
        sim.add_route("from-phones", "1001", &["deposit", "1001"])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailboxes() {
    scenario("mailboxes", 5.0, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_vs_sip() {
    scenario("local_vs_sip", 2.0, |_| {}).await;
}
