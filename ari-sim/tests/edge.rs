//! Focused tests of the simulator's edges: auth, routing, bad requests,
//! websocket ownership, drops, write timeouts and reconnects, and the
//! scripted caller's audio model.

mod common;

use ari_sim::{CallEnd, CallerAudio, ChannelKind, Dial, Drop, Heard, SimConfig, Simulator};
use common::{AppSocket, EventLog, Http, ws_url};
use serde_json::{Value, json};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A simulator at 20x with the app socket connected.
async fn setup() -> (Simulator, EventLog, AppSocket, Http) {
    setup_with(SimConfig::default()).await
}

async fn setup_with(config: SimConfig) -> (Simulator, EventLog, AppSocket, Http) {
    let sim = Simulator::start(config).await.expect("start");
    let log = EventLog::new();
    let app = sim.config().app.clone();
    let sock = AppSocket::connect(&sim, &app, &log, 0).await;
    assert!(sim.wait_app_connected(T).await);
    let http = Http::new(&sim);
    (sim, log, sock, http)
}

fn types(log: &EventLog) -> Vec<String> {
    log.all()
        .iter()
        .map(|(_, e)| e["type"].as_str().unwrap_or("?").to_string())
        .collect()
}

async fn raw_get(url: &str) -> (u16, Value, Option<String>) {
    let resp = reqwest::get(url).await.expect("get");
    let status = resp.status().as_u16();
    let auth = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, auth)
}

#[tokio::test]
async fn auth_is_required_and_accepted_both_ways() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let base = sim.base_url();
    let (status, body, auth) = raw_get(&format!("{base}/ari/asterisk/ping")).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Authentication required");
    assert!(auth.unwrap_or_default().starts_with("Basic"));
    let (status, _, _) = raw_get(&format!(
        "{base}/ari/asterisk/ping?api_key=voiceportal:wrong"
    ))
    .await;
    assert_eq!(status, 401);
    let (status, body, _) = raw_get(&format!(
        "{base}/ari/asterisk/ping?api_key=voiceportal:secret"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["ping"], "pong");
    assert_eq!(body["asterisk_id"], "00:00:00:00:00:01");
    let ts = body["timestamp"].as_str().unwrap();
    assert!(ts.ends_with("+0000") && ts.len() == 28, "{ts}");
    let http = Http::new(&sim);
    assert_eq!(http.call("GET", "/ari/asterisk/ping").await.status, 200);
    // The websocket needs credentials too.
    let url = ws_url(&sim, "voiceportal").replace("secret", "nope");
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
    let log = sim.request_log();
    assert_eq!(log[0].status, 401);
    assert_eq!(log[0].path, "/ari/asterisk/ping");
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let (_sim, _log, _sock, http) = setup().await;
    for path in [
        "/ari/nope",
        "/ari/channels/x/nope",
        "/elsewhere",
        "/ari/recordings/stored/a/b/c",
    ] {
        let r = http.call("GET", path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["message"], "Resource not found");
    }
    let r = http.call("PATCH", "/ari/channels/x").await;
    assert_eq!(r.status, 405);
    assert!(r.json()["message"].is_string());
    // Bad percent-encoding in a path segment must not panic.
    let r = http.call("GET", "/ari/playbacks/%FF%FE").await;
    assert!(r.status == 404 || r.status == 400);
    assert!(r.json()["message"].is_string());
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let (sim, _log, _sock, http) = setup().await;
    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    let cases: Vec<(&str, String, u16)> = vec![
        ("POST", format!("/ari/channels/{id}/play"), 400),
        (
            "POST",
            format!("/ari/channels/{id}/play?media=sound:x&offsetms=-5"),
            400,
        ),
        (
            "POST",
            format!("/ari/channels/{id}/record?name=a&format=wav&terminateOn=x"),
            400,
        ),
        (
            "POST",
            format!("/ari/channels/{id}/record?name=a&format=wav&ifExists=maybe"),
            400,
        ),
        (
            "POST",
            format!("/ari/channels/{id}/record?name=a&format=mp9"),
            422,
        ),
        ("POST", format!("/ari/channels/{id}/record?format=wav"), 400),
        (
            "POST",
            format!("/ari/channels/{id}/record?name=../x&format=wav"),
            400,
        ),
        ("POST", format!("/ari/channels/{id}/dtmf"), 400),
        ("POST", format!("/ari/channels/{id}/variable"), 400),
        (
            "GET",
            format!("/ari/channels/{id}/variable?variable=NOPE"),
            404,
        ),
        ("DELETE", format!("/ari/channels/{id}?reason=whatever"), 400),
        (
            "DELETE",
            format!("/ari/channels/{id}?reason=busy&reason_code=17"),
            400,
        ),
        ("POST", "/ari/channels/nope/answer".to_string(), 404),
        (
            "POST",
            "/ari/playbacks/nope/control?operation=bogus".to_string(),
            400,
        ),
        (
            "POST",
            "/ari/playbacks/nope/control?operation=pause".to_string(),
            404,
        ),
        ("POST", "/ari/playbacks/nope/control".to_string(), 400),
        ("GET", "/ari/recordings/live/nope".to_string(), 404),
        ("POST", "/ari/recordings/stored/nope/copy".to_string(), 400),
        ("GET", "/ari/applications/nope".to_string(), 404),
        ("DELETE", "/ari/mailboxes/none@x".to_string(), 404),
    ];
    for (method, path, status) in cases {
        let r = http.call(method, &path).await;
        assert_eq!(r.status, status, "{method} {path}");
        assert!(
            r.json()["message"].is_string(),
            "{method} {path}: no message"
        );
    }
    // A broken JSON body.
    let r = http
        .call_body(
            "POST",
            &format!("/ari/channels/{id}/play"),
            Some(&json!("{")),
        )
        .await;
    assert_eq!(r.status, 400);
    // The call is unharmed.
    assert_eq!(
        http.call("POST", &format!("/ari/channels/{id}/answer"))
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn play_media_forms_and_caller_hears() {
    let (sim, log, _sock, http) = setup().await;
    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    // Repeated media= keeps only the last.
    let r = http
        .call(
            "POST",
            &format!("/ari/channels/{id}/play?media=sound:a&media=sound:vm-goodbye"),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["media_uri"], "sound:vm-goodbye");
    assert_eq!(r.json()["state"], "queued");
    // A JSON body with an array.
    let r = http
        .call_body(
            "POST",
            &format!("/ari/channels/{id}/play/pl-1"),
            Some(&json!({"media": ["sound:vm-login", "digits:12", "number:42", "characters:ab"], "lang": "fr"})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["id"], "pl-1");
    assert_eq!(r.json()["next_media_uri"], "digits:12");
    let before = caller.expect_sound("vm-goodbye", T).await;
    assert!(before.is_empty());
    caller.expect_sound("vm-login", T).await;
    assert_eq!(caller.next_heard(T).await, Some(Heard::Digits("12".into())));
    assert_eq!(caller.next_heard(T).await, Some(Heard::Number("42".into())));
    assert_eq!(
        caller.next_heard(T).await,
        Some(Heard::Characters("ab".into()))
    );
    assert!(log.wait_type("PlaybackFinished", 5, T).await.is_some());
    let heard = caller.heard();
    assert_eq!(
        heard[1],
        Heard::Sound {
            name: "vm-login".into(),
            lang: "fr".into()
        }
    );
    // A say-only playback cannot be stopped.
    let r = http
        .call(
            "POST",
            &format!("/ari/channels/{id}/play/say?media=digits:123456"),
        )
        .await;
    assert_eq!(r.status, 201);
    caller.next_heard(T).await;
    let r = http.call("DELETE", "/ari/playbacks/say").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["message"], "Could not stop playback");
    // A tone never ends until stopped.
    let n = log.len();
    http.call(
        "POST",
        &format!("/ari/channels/{id}/play/t1?media=tone:ring"),
    )
    .await;
    assert_eq!(caller.next_heard(T).await, Some(Heard::Tone("ring".into())));
    tokio::time::sleep(sim.real_duration(5.0)).await;
    assert_eq!(
        http.call("GET", "/ari/playbacks/t1").await.json()["state"],
        "playing"
    );
    assert_eq!(http.call("DELETE", "/ari/playbacks/t1").await.status, 204);
    let fin = log.wait_type("PlaybackFinished", n, T).await.unwrap();
    assert_eq!(fin["playback"]["id"], "say");
    caller.hangup().await;
    assert_eq!(caller.wait_end(T).await, Some(CallEnd::HungUpByCaller));
}

#[tokio::test]
async fn recording_with_speech_silence_and_no_rtp() {
    let (sim, log, _sock, http) = setup().await;
    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    // Speech then silent RTP: silence detection ends it.
    let n = log.len();
    let r = http
        .call(
            "POST",
            &format!("/ari/channels/{id}/record?name=m/one&format=wav&beep=true&maxSilenceSeconds=2&terminateOn=%23"),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["state"], "queued");
    assert_eq!(caller.next_heard(T).await, Some(Heard::Beep));
    // Talk once the 0.43 s beep is over (the beep is not recorded).
    tokio::time::sleep(sim.real_duration(0.5)).await;
    caller.speak(3.0).await;
    let fin = log
        .wait_type("RecordingFinished", n, T)
        .await
        .expect("finished");
    let rec = &fin["recording"];
    assert_eq!(rec["state"], "done");
    // A little silence, 3 s of speech, then 2.02 s of silence: a file of
    // 5.x s, less the trailing silence in whole seconds (1) = 4; the
    // talking duration is computed the same way = 4.
    assert_eq!(rec["duration"], 4, "{rec}");
    assert_eq!(rec["talking_duration"], 4);
    assert_eq!(rec["silence_duration"], 0);
    let secs = sim.stored_recording_secs("m/one").unwrap();
    // The file keeps 200 ms of the trailing silence.
    assert!((3.0..4.0).contains(&secs), "{secs}");
    let wav = sim.stored_recording_file("m/one").unwrap();
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(wav.len(), 44 + (secs * 16000.0).round() as usize);
    // The same name with ifExists=fail is refused.
    let r = http
        .call(
            "POST",
            &format!("/ari/channels/{id}/record?name=m/one&format=wav"),
        )
        .await;
    assert_eq!(r.status, 409);
    // A phone sending no RTP: ends after 4 s with an empty file.
    caller.set_audio(CallerAudio::NoRtp);
    let n = log.len();
    http.call(
        "POST",
        &format!("/ari/channels/{id}/record?name=m/two&format=wav&maxSilenceSeconds=2"),
    )
    .await;
    let fin = log
        .wait_type("RecordingFinished", n, T)
        .await
        .expect("finished");
    assert_eq!(fin["recording"]["duration"], 0);
    assert_eq!(sim.stored_recording_secs("m/two"), Some(0.0));
    assert_eq!(sim.stored_recording_file("m/two").unwrap().len(), 44);
    // terminateOn=# while talking; no maxSilence => no talking_duration.
    caller.set_audio(CallerAudio::Talking);
    let n = log.len();
    http.call(
        "POST",
        &format!("/ari/channels/{id}/record?name=m/three&format=wav&terminateOn=%23"),
    )
    .await;
    log.wait_type("RecordingStarted", n, T).await;
    tokio::time::sleep(sim.real_duration(1.5)).await;
    caller.press("#").await;
    let fin = log
        .wait_type("RecordingFinished", n, T)
        .await
        .expect("finished");
    assert_eq!(fin["recording"]["duration"], 1);
    assert!(fin["recording"].get("talking_duration").is_none());
    // Live stop / cancel.
    let n = log.len();
    http.call(
        "POST",
        &format!("/ari/channels/{id}/record?name=m/four&format=wav"),
    )
    .await;
    log.wait_type("RecordingStarted", n, T).await;
    let live = http.call("GET", "/ari/recordings/live/m%2Ffour").await;
    assert_eq!(live.json()["state"], "recording");
    assert_eq!(
        http.call("DELETE", "/ari/recordings/live/m%2Ffour")
            .await
            .status,
        204
    );
    log.wait_type("RecordingFinished", n, T)
        .await
        .expect("finished");
    assert!(sim.stored_recording_secs("m/four").is_none());
    assert_eq!(
        http.call("DELETE", "/ari/recordings/live/m%2Ffour")
            .await
            .status,
        404
    );
    // Stored recordings endpoints.
    let list = http.call("GET", "/ari/recordings/stored").await.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, vec!["m/one", "m/three", "m/two"]);
    let file = http
        .call("GET", "/ari/recordings/stored/m%2Fone/file")
        .await;
    assert_eq!(file.content_type.as_deref(), Some("audio/wav"));
    assert_eq!(file.bytes, wav);
    assert_eq!(
        http.call("GET", "/ari/recordings/stored/m/one")
            .await
            .status,
        404
    );
    // Variables are kept and visible to the test.
    let r = http
        .call(
            "POST",
            &format!("/ari/channels/{id}/variable?variable=VM_RESULT&value=saved"),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        caller.variables().get("VM_RESULT").map(String::as_str),
        Some("saved")
    );
    let r = http
        .call(
            "GET",
            &format!("/ari/channels/{id}/variable?variable=VM_RESULT"),
        )
        .await;
    assert_eq!(r.json()["value"], "saved");
    let r = http
        .call("DELETE", &format!("/ari/channels/{id}?reason=busy"))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        caller.wait_end(T).await,
        Some(CallEnd::HungUpByApp { cause: 17 })
    );
    assert!(sim.live_channels().is_empty());
}

#[tokio::test]
async fn stored_recording_plays_for_its_length() {
    let (sim, log, _sock, http) = setup().await;
    sim.put_stored_recording("greet/1001", 2.0);
    let caller = sim
        .dial(Dial::new(&["deposit", "1001", "BUSY"], "1002"))
        .await;
    let start = log.wait_type("StasisStart", 0, T).await.unwrap();
    assert_eq!(start["args"], json!(["deposit", "1001", "BUSY"]));
    assert_eq!(
        start["channel"]["dialplan"]["app_data"],
        "voiceportal,deposit,1001,BUSY"
    );
    let id = caller.channel_id();
    http.call(
        "POST",
        &format!("/ari/channels/{id}/play/g?media=recording:greet/1001"),
    )
    .await;
    assert_eq!(
        caller.next_heard(T).await,
        Some(Heard::Recording {
            name: "greet/1001".into()
        })
    );
    let fin = log.wait_type("PlaybackFinished", 0, T).await.unwrap();
    assert_eq!(fin["playback"]["state"], "done");
    assert_eq!(caller.state(), "Ring");
}

/// A canonical 8 kHz mono 16-bit WAV of `ms` milliseconds of a constant level.
fn wav_file(ms: usize) -> Vec<u8> {
    let data = ms * 16;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&[1, 0, 1, 0]);
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&[2, 0, 16, 0]);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data as u32).to_le_bytes());
    out.resize(44 + data, 9);
    out
}

/// With a recordings directory, files put there by another program are stored
/// recordings (listed, played for their length, served as they are, deleted),
/// and what the app records lands there as `<name>.wav`.
#[tokio::test]
async fn recordings_directory_on_disk() {
    let dir = std::env::temp_dir().join(format!("ari-sim-recdir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = SimConfig {
        recordings_dir: Some(dir.clone()),
        ..SimConfig::default()
    };
    let (sim, log, _sock, http) = setup_with(config).await;
    std::fs::create_dir_all(dir.join("old/1001")).unwrap();
    let file = wav_file(2500);
    std::fs::write(dir.join("old/1001/msg.wav"), &file).unwrap();
    std::fs::write(dir.join("old/1001/notes.txt"), b"not audio").unwrap();
    let got = http
        .call("GET", "/ari/recordings/stored/old%2F1001%2Fmsg")
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), json!({"name": "old/1001/msg", "format": "wav"}));
    assert_eq!(sim.stored_recording_secs("old/1001/msg"), Some(2.5));
    let served = http
        .call("GET", "/ari/recordings/stored/old%2F1001%2Fmsg/file")
        .await;
    assert_eq!(served.bytes, file);

    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    log.wait_type("StasisStart", 0, T).await.unwrap();
    http.call(
        "POST",
        &format!("/ari/channels/{id}/play/p1?media=recording:old/1001/msg"),
    )
    .await;
    let fin = log.wait_type("PlaybackFinished", 0, T).await.unwrap();
    assert_eq!(fin["playback"]["state"], "done");

    caller.set_audio(CallerAudio::Talking);
    let n = log.len();
    http.call(
        "POST",
        &format!("/ari/channels/{id}/record?name=new/one&format=wav&maxDurationSeconds=2"),
    )
    .await;
    log.wait_type("RecordingFinished", n, T).await.unwrap();
    let written = std::fs::read(dir.join("new/one.wav")).unwrap();
    assert_eq!(Some(written), sim.stored_recording_file("new/one"));

    let list = http.call("GET", "/ari/recordings/stored").await.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, vec!["new/one", "old/1001/msg"]);
    assert_eq!(
        http.call("DELETE", "/ari/recordings/stored/old%2F1001%2Fmsg")
            .await
            .status,
        204
    );
    assert!(!dir.join("old/1001/msg.wav").exists());
    // Removed by hand: gone for ARI too.
    std::fs::remove_file(dir.join("new/one.wav")).unwrap();
    assert_eq!(
        http.call("GET", "/ari/recordings/stored/new%2Fone")
            .await
            .status,
        404
    );
    caller.hangup().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn local_channel_shape() {
    let (sim, log, _sock, http) = setup().await;
    let mut dial = Dial::portal("1001");
    dial.kind = ChannelKind::Local;
    let caller = sim.dial(dial).await;
    let id = caller.channel_id();
    assert!(id.ends_with(";2"));
    let escaped = id.replace(';', "%3B");
    assert_eq!(
        http.call("POST", &format!("/ari/channels/{escaped}/answer"))
            .await
            .status,
        204
    );
    caller.press("1").await;
    let dtmf = log.wait_type("ChannelDtmfReceived", 0, T).await.unwrap();
    assert_eq!(dtmf["duration_ms"], 100);
    assert_eq!(dtmf["channel"]["connected"]["number"], "1001");
    caller.hangup().await;
    log.wait_type("StasisEnd", 0, T).await.unwrap();
    assert!(!types(&log).contains(&"ChannelVarset".to_string()));
}

#[tokio::test]
async fn continue_routes_and_leaves() {
    let (sim, log, _sock, http) = setup().await;
    sim.add_route("from-phones", "1001", &["deposit", "1001"]);
    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    http.call("POST", &format!("/ari/channels/{id}/answer"))
        .await;
    http.call(
        "POST",
        &format!("/ari/channels/{id}/continue?context=from-phones&extension=1001"),
    )
    .await;
    log.wait_type("StasisEnd", 0, T).await.unwrap();
    let again = log.wait_type("StasisStart", 1, T).await.unwrap();
    assert_eq!(again["args"], json!(["deposit", "1001"]));
    assert_eq!(again["channel"]["state"], "Up");
    assert_eq!(sim.live_channels(), vec![id.clone()]);
    http.call(
        "POST",
        &format!("/ari/channels/{id}/continue?context=elsewhere&extension=x&priority=5"),
    )
    .await;
    let end = caller.wait_end(T).await;
    assert_eq!(
        end,
        Some(CallEnd::Continued {
            context: "elsewhere".into(),
            exten: "x".into(),
            priority: 5
        })
    );
    assert_eq!(
        http.call("GET", &format!("/ari/channels/{id}"))
            .await
            .status,
        200
    );
    assert_eq!(
        http.call("POST", &format!("/ari/channels/{id}/answer"))
            .await
            .status,
        409
    );
    assert!(sim.live_channels().is_empty());
    let n = log.len();
    assert_eq!(
        http.call("DELETE", &format!("/ari/channels/{id}"))
            .await
            .status,
        204
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(log.len(), n, "no events once outside Stasis");
    assert_eq!(
        http.call("GET", &format!("/ari/channels/{id}"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn websocket_drop_and_reconnect() {
    for how in [Drop::CloseFrame, Drop::Abort] {
        let (sim, log, sock, _http) = setup().await;
        let caller = sim.dial(Dial::portal("1001")).await;
        log.wait_type("StasisStart", 0, T).await.unwrap();
        sim.drop_websocket(how).await;
        assert!(!sim.app_connected());
        assert!(sock.wait_closed(T).await);
        let ended = *sock.ended.lock().unwrap();
        let expected = if how == Drop::CloseFrame {
            "close frame"
        } else {
            "error"
        };
        assert_eq!(ended, Some(expected), "{how:?}");
        // Calls fail while no socket is connected; events are lost.
        let failed = sim.dial(Dial::portal("1002")).await;
        assert!(failed.stasis_failed());
        assert_eq!(failed.wait_end(T).await, Some(CallEnd::Rejected));
        caller.press("7").await;
        // The channel stays in Stasis.
        assert_eq!(sim.live_channels(), vec![caller.channel_id()]);
        let http = Http::new(&sim);
        let app = http
            .call("GET", "/ari/applications/voiceportal")
            .await
            .json();
        assert_eq!(app["channel_ids"], json!([caller.channel_id()]));
        // Reconnect: nothing is replayed, new events flow.
        let log2 = EventLog::new();
        let _sock2 = AppSocket::connect(&sim, "voiceportal", &log2, 1).await;
        assert!(sim.wait_app_connected(T).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(log2.len(), 0);
        caller.hangup().await;
        log2.wait_type("StasisEnd", 0, T).await.unwrap();
        assert_eq!(types(&log).len(), 1, "old log only has StasisStart");
    }
}

/// As a real Asterisk does (checked by voiceportal's real-call test
/// `real::fidelity`): an app whose socket is gone stays listed only while a
/// channel is still in it.
#[tokio::test]
async fn an_app_without_socket_or_channel_is_forgotten() {
    let (sim, log, sock, http) = setup().await;
    let caller = sim.dial(Dial::portal("1001")).await;
    log.wait_type("StasisStart", 0, T).await.unwrap();
    sim.drop_websocket(Drop::CloseFrame).await;
    assert!(sock.wait_closed(T).await);
    let app = "/ari/applications/voiceportal";
    assert_eq!(
        http.call("GET", app).await.status,
        200,
        "kept while its channel is there"
    );
    caller.hangup().await;
    let deadline = tokio::time::Instant::now() + T;
    while http.call("GET", app).await.status != 404 {
        assert!(tokio::time::Instant::now() < deadline, "still listed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let apps = http.call("GET", "/ari/applications").await.json();
    assert_eq!(apps, json!([]));
}

#[tokio::test]
async fn second_socket_replaces_the_first() {
    let (sim, log, _sock, _http) = setup().await;
    let log2 = EventLog::new();
    let mut sock2 = AppSocket::connect(&sim, "voiceportal", &log2, 1).await;
    let replaced = log.wait_type("ApplicationReplaced", 0, T).await.unwrap();
    assert_eq!(replaced["application"], "voiceportal");
    sim.dial(Dial::portal("1001")).await;
    log2.wait_type("StasisStart", 0, T).await.unwrap();
    assert_eq!(types(&log), vec!["ApplicationReplaced"]);
    // Pings are answered.
    sock2.ping().await;
    let deadline = tokio::time::Instant::now() + T;
    while *sock2.pongs.lock().unwrap() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*sock2.pongs.lock().unwrap(), 1);
    assert!(!*sock2.closed.borrow());
}

/// As a real Asterisk does (FINDINGS 13, and voiceportal's high-availability
/// takeover on the real Asterisk): the channels of the app go on with its new
/// owner, the replaced socket hears nothing more, and when it dies the app
/// stays with the new owner.
#[tokio::test]
async fn a_new_owner_keeps_the_channels_and_the_old_socket_dying_changes_nothing() {
    let (sim, log, sock, http) = setup().await;
    let caller = sim.dial(Dial::portal("1001")).await;
    log.wait_type("StasisStart", 0, T).await.unwrap();
    let log2 = EventLog::new();
    let _sock2 = AppSocket::connect(&sim, "voiceportal", &log2, 1).await;
    log.wait_type("ApplicationReplaced", 0, T).await.unwrap();
    sock.abort().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(sim.app_connected(), "the new owner lost the app");
    let app = http
        .call("GET", "/ari/applications/voiceportal")
        .await
        .json();
    assert_eq!(app["channel_ids"], json!([caller.channel_id()]));
    // The call that began under the old owner is the new owner's now.
    let played = http
        .call(
            "POST",
            &format!(
                "/ari/channels/{}/play?media=sound:vm-login",
                caller.channel_id()
            ),
        )
        .await;
    assert_eq!(played.status, 201);
    log2.wait_type("PlaybackStarted", 0, T).await.unwrap();
    caller.hangup().await;
    log2.wait_type("StasisEnd", 0, T).await.unwrap();
    assert_eq!(types(&log), vec!["StasisStart", "ApplicationReplaced"]);
    // New calls still reach the new owner.
    sim.dial(Dial::portal("1002")).await;
    let starts = log2.all().len();
    log2.wait_type("StasisStart", starts, T).await.unwrap();
}

#[tokio::test]
async fn slow_reader_is_disconnected_after_write_timeout() {
    let (sim, _log, sock, http) = setup().await;
    drop(sock);
    // A client that never reads, with a tiny receive buffer.
    let addr = sim.base_url().trim_start_matches("http://").to_string();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(2048).unwrap();
    let stream = tcp.connect(addr.parse().unwrap()).await.unwrap();
    let (_ws, _) = tokio_tungstenite::client_async(ws_url(&sim, "voiceportal"), stream)
        .await
        .expect("handshake");
    assert!(sim.wait_app_connected(T).await);
    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    let big = "x".repeat(20_000);
    let mut sets = 0;
    while sim.app_connected() && sets < 2000 {
        let r = http
            .call(
                "POST",
                &format!("/ari/channels/{id}/variable?variable=V{sets}&value={big}"),
            )
            .await;
        assert_eq!(r.status, 204);
        sets += 1;
    }
    let deadline = tokio::time::Instant::now() + T;
    while sim.app_connected() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !sim.app_connected(),
        "socket still connected after {sets} big events"
    );
    assert!(sim.dial(Dial::portal("1002")).await.stasis_failed());
}

#[tokio::test]
async fn answer_waits_for_queued_playback() {
    let (sim, log, _sock, http) = setup().await;
    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    http.call(
        "POST",
        &format!("/ari/channels/{id}/play?media=sound:vm-login"),
    )
    .await;
    assert_eq!(
        http.call("POST", &format!("/ari/channels/{id}/answer"))
            .await
            .status,
        204
    );
    // The playback finished before the answer returned.
    let ts = types(&log);
    let fin = ts
        .iter()
        .position(|t| t == "PlaybackFinished")
        .expect("finished");
    let up = ts
        .iter()
        .position(|t| t == "ChannelStateChange")
        .expect("up");
    assert!(fin < up, "{ts:?}");
    assert_eq!(caller.state(), "Up");
}

#[tokio::test]
async fn mailboxes_and_applications() {
    let (sim, _log, _sock, http) = setup().await;
    assert_eq!(
        http.call("PUT", "/ari/mailboxes/1001%40default?newMessages=3")
            .await
            .status,
        204
    );
    assert_eq!(sim.mailbox("1001@default"), Some((0, 3)));
    let all = http.call("GET", "/ari/mailboxes").await.json();
    assert_eq!(
        all,
        json!([{"name": "1001@default", "old_messages": 0, "new_messages": 3}])
    );
    let apps = http.call("GET", "/ari/applications").await.json();
    assert_eq!(apps[0]["name"], "voiceportal");
    assert_eq!(apps[0]["channel_ids"], json!([]));
}

#[tokio::test]
async fn absurd_numbers_do_not_break_anything() {
    let (sim, log, _sock, http) = setup().await;
    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    let huge = "99999999999999999999999";
    let r = http
        .call("POST", &format!("/ari/channels/{id}/record?name=h&format=wav&maxDurationSeconds={huge}&maxSilenceSeconds={huge}"))
        .await;
    assert_eq!(r.status, 201);
    log.wait_type("RecordingStarted", 0, T).await.unwrap();
    assert_eq!(
        http.call("POST", "/ari/recordings/live/h/stop")
            .await
            .status,
        204
    );
    log.wait_type("RecordingFinished", 0, T).await.unwrap();
    let r = http
        .call(
            "POST",
            &format!(
                "/ari/channels/{id}/play/p?media=sound:vm-goodbye&offsetms={huge}&skipms={huge}"
            ),
        )
        .await;
    assert_eq!(r.status, 201);
    let fin = log.wait_type("PlaybackFinished", 0, T).await.unwrap();
    assert_eq!(fin["playback"]["state"], "done");
    let r = http
        .call(
            "POST",
            &format!("/ari/channels/{id}/dtmf?dtmf=123&duration={huge}&between={huge}"),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = http
        .call(
            "PUT",
            &format!("/ari/mailboxes/x?oldMessages={huge}&newMessages=-4"),
        )
        .await;
    assert_eq!(r.status, 204);
    caller.hangup().await;
    assert_eq!(caller.wait_end(T).await, Some(CallEnd::HungUpByCaller));
}

#[tokio::test]
async fn queued_playback_canceled_and_hangup_flushes_queue() {
    let (sim, log, _sock, http) = setup().await;
    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    http.call(
        "POST",
        &format!("/ari/channels/{id}/play/a?media=sound:vm-login"),
    )
    .await;
    http.call(
        "POST",
        &format!("/ari/channels/{id}/play/b?media=sound:vm-password"),
    )
    .await;
    http.call(
        "POST",
        &format!("/ari/channels/{id}/play/c?media=sound:vm-goodbye,sound:beep"),
    )
    .await;
    // Stopping a queued playback: 204, it never starts, no events.
    assert_eq!(http.call("DELETE", "/ari/playbacks/b").await.status, 204);
    assert_eq!(http.call("GET", "/ari/playbacks/b").await.status, 404);
    // Controls other than restart need a playing playback.
    let r = http
        .call("POST", "/ari/playbacks/c/control?operation=pause")
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["message"], "Can only pause while media is playing");
    log.wait_type("PlaybackStarted", 0, T).await.unwrap();
    caller.hangup().await;
    log.wait_type("StasisEnd", 0, T).await.unwrap();
    let seq: Vec<String> = log
        .all()
        .iter()
        .filter(|(_, e)| e["type"].as_str().unwrap_or("").starts_with("Playback"))
        .map(|(_, e)| {
            format!(
                "{} {} {}",
                e["type"].as_str().unwrap(),
                e["playback"]["id"].as_str().unwrap(),
                e["playback"]["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        seq,
        vec![
            "PlaybackStarted a playing",
            "PlaybackFinished a failed",
            "PlaybackStarted c playing",
            "PlaybackContinuing c continuing",
            "PlaybackStarted c playing",
            "PlaybackFinished c failed",
        ]
    );
    let all = types(&log);
    let hangup = all
        .iter()
        .position(|t| t == "ChannelHangupRequest")
        .unwrap();
    let first_fail = all.iter().position(|t| t == "PlaybackFinished").unwrap();
    assert!(hangup < first_fail);
    assert_eq!(all.last().map(String::as_str), Some("StasisEnd"));
}

#[tokio::test]
async fn recording_pause_excludes_audio() {
    let (sim, log, _sock, http) = setup().await;
    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    caller.set_audio(CallerAudio::Talking);
    http.call(
        "POST",
        &format!("/ari/channels/{id}/record?name=p&format=wav"),
    )
    .await;
    log.wait_type("RecordingStarted", 0, T).await.unwrap();
    tokio::time::sleep(sim.real_duration(1.0)).await;
    assert_eq!(
        http.call("POST", "/ari/recordings/live/p/pause")
            .await
            .status,
        204
    );
    assert_eq!(
        http.call("GET", "/ari/recordings/live/p").await.json()["state"],
        "paused"
    );
    tokio::time::sleep(sim.real_duration(3.0)).await;
    assert_eq!(
        http.call("DELETE", "/ari/recordings/live/p/pause")
            .await
            .status,
        204
    );
    tokio::time::sleep(sim.real_duration(1.0)).await;
    assert_eq!(
        http.call("POST", "/ari/recordings/live/p/stop")
            .await
            .status,
        204
    );
    let fin = log.wait_type("RecordingFinished", 0, T).await.unwrap();
    assert_eq!(fin["recording"]["state"], "done");
    let secs = sim.stored_recording_secs("p").unwrap();
    assert!(
        (1.8..3.0).contains(&secs),
        "paused audio must not be recorded: {secs}"
    );
}

#[tokio::test]
async fn originate_rings_until_answered_then_enters_stasis_with_app_args() {
    let (sim, log, _sock, http) = setup().await;
    let resp = http
        .call(
            "POST",
            "/ari/channels?endpoint=PJSIP/phone1001&app=voiceportal&appArgs=signin-code,x\
             &channelId=vp-out-1&callerId=%22Voice%20portal%22%20%3C8500%3E&timeout=30",
        )
        .await;
    assert_eq!(resp.status, 200);
    let channel = resp.json();
    assert_eq!(channel["id"], "vp-out-1");
    assert_eq!(channel["state"], "Down");
    assert!(
        channel["name"]
            .as_str()
            .unwrap()
            .starts_with("PJSIP/phone1001-")
    );
    assert_eq!(channel["caller"]["number"], "8500");
    // Ringing, not in Stasis: operations are refused as for a channel outside it.
    let play = http
        .call("POST", "/ari/channels/vp-out-1/play?media=sound:beep")
        .await;
    assert_eq!(play.status, 409);
    let again = http
        .call(
            "POST",
            "/ari/channels/vp-out-1?endpoint=PJSIP/phone1001&app=voiceportal",
        )
        .await;
    assert_eq!(again.status, 409, "a channel id is unique");

    let ringing = sim.wait_originated(T).await.expect("the phone rings");
    assert_eq!(ringing.endpoint, "PJSIP/phone1001");
    assert_eq!(ringing.args, ["signin-code", "x"]);
    assert_eq!(ringing.channel_id(), "vp-out-1");
    let caller = ringing.answer().expect("still ringing");
    let start = log
        .wait_type("StasisStart", 0, T)
        .await
        .expect("StasisStart");
    assert_eq!(start["args"], json!(["signin-code", "x"]));
    assert_eq!(start["channel"]["state"], "Up");
    let play = http
        .call("POST", "/ari/channels/vp-out-1/play?media=sound:beep")
        .await;
    assert_eq!(play.status, 201);
    caller.hangup().await;
    assert_eq!(caller.wait_end(T).await, Some(CallEnd::HungUpByCaller));
    assert!(ringing.answer().is_none(), "answered once");
}

#[tokio::test]
async fn a_declined_originate_is_destroyed_and_bad_ones_are_refused() {
    let (sim, log, _sock, http) = setup().await;
    for (query, status) in [
        ("app=voiceportal", 400),
        ("endpoint=PJSIP&app=voiceportal", 400),
        ("endpoint=PJSIP/1001", 400),
        ("endpoint=PJSIP/1001&extension=1001", 501),
    ] {
        let resp = http.call("POST", &format!("/ari/channels?{query}")).await;
        assert_eq!(resp.status, status, "{query}");
    }
    let resp = http
        .call("POST", "/ari/channels?endpoint=PJSIP/1002&app=voiceportal")
        .await;
    assert_eq!(resp.status, 200);
    let id = resp.json()["id"].as_str().unwrap().to_string();
    let ringing = sim.wait_originated(T).await.unwrap();
    ringing.decline();
    let destroyed = log
        .wait_type("ChannelDestroyed", 0, T)
        .await
        .expect("ChannelDestroyed");
    assert_eq!(destroyed["cause"], 21);
    assert_eq!(destroyed["channel"]["id"], id.as_str());
    assert!(ringing.answer().is_none());
    let gone = http.call("GET", &format!("/ari/channels/{id}")).await;
    assert_eq!(gone.status, 404);
    assert!(!types(&log).contains(&"StasisStart".to_string()));
}

#[tokio::test]
async fn reaction_times_pair_an_event_with_the_next_command_on_its_channel() {
    let (sim, log, _sock, http) = setup().await;
    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    assert!(log.wait_type("StasisStart", 0, T).await.is_some());
    tokio::time::sleep(Duration::from_millis(30)).await;
    // The first command after StasisStart is one sample, at least the wait long.
    assert_eq!(http.call("GET", "/ari/asterisk/info").await.status, 200);
    assert_eq!(
        http.call("GET", &format!("/ari/channels/{id}"))
            .await
            .status,
        200
    );
    let first = sim.take_reaction_times();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0] >= Duration::from_millis(30), "{first:?}");
    // A second command with no new event is not a reaction.
    http.call("GET", &format!("/ari/channels/{id}")).await;
    assert!(sim.take_reaction_times().is_empty());
    // A playback's events pair with a command on the playback.
    let r = http
        .call(
            "POST",
            &format!("/ari/channels/{id}/play/pb-r?media=sound:silence/10"),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(sim.take_reaction_times().len(), 0);
    let started = log.len();
    assert!(
        log.wait_type("PlaybackStarted", started - 1, T)
            .await
            .is_some()
    );
    assert_eq!(http.call("DELETE", "/ari/playbacks/pb-r").await.status, 204);
    assert_eq!(sim.take_reaction_times().len(), 1);
    caller.hangup().await;
}
