//! `POST /channels` (originate) into a Stasis application, and the phone that
//! rings: the test answers it (the channel enters Stasis with `appArgs`, as a
//! dialled call does) or declines it.
//!
//! Modelled on Asterisk 22's `ari_channels_handle_originate_with_id` (no trace
//! was recorded): the request answers 200 with the new channel in state `Down`
//! at once, while the phone rings; the app is subscribed to the channel from the
//! start, so a call that is never answered ends with `ChannelDestroyed` (cause 21
//! when declined, 19 when the ring timeout passes). Only originates into an app
//! are simulated, not into a dialplan extension. The ring timeout runs in real
//! time: it is about how fast the test answers, not about audio.

use crate::audio::{CallerAudio, Timeline};
use crate::caller::{Caller, ChannelKind};
use crate::channel::{self, ChanInner, Channel, Dialplan, Party, Phase, Snapshot};
use crate::core::Core;
use crate::http::{ApiError, ApiResult, Params, json, seg};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Asterisk's default ring time for an originate.
const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// A phone ringing because the app originated a call to it.
#[derive(Debug, Clone)]
pub struct Ringing {
    core: Arc<Core>,
    chan: Arc<Channel>,
    /// The `endpoint` parameter, e.g. `PJSIP/phone1001`.
    pub endpoint: String,
    /// The Stasis arguments the channel will enter with (`appArgs` split on `,`).
    pub args: Vec<String>,
    /// The `callerId` parameter as sent (what the phone would display).
    pub caller_id: String,
}

impl Ringing {
    /// The channel id (the app's `channelId`, or one the simulator chose).
    pub fn channel_id(&self) -> String {
        self.chan.id.clone()
    }

    /// The phone is picked up: the channel enters Stasis (`StasisStart` with
    /// the originate's `appArgs`). `None` if the call is already over (the app
    /// hung it up, or it timed out).
    pub fn answer(&self) -> Option<Caller> {
        {
            let mut g = self.chan.lock();
            if g.phase != Phase::Outside {
                return None;
            }
            g.phase = Phase::Stasis;
            g.snap.state = "Up".to_string();
        }
        self.chan.stasis_start(&self.core, &self.args);
        self.chan.changed();
        Some(Caller::new(self.core.clone(), self.chan.clone(), false))
    }

    /// The phone declines the call (or is unreachable): the channel is destroyed.
    pub fn decline(&self) {
        end_unanswered(&self.core, &self.chan, 21, "Call Rejected");
    }
}

/// Ends a call that was never answered, as Asterisk tells a subscribed app.
fn end_unanswered(core: &Core, chan: &Arc<Channel>, cause: u32, text: &str) {
    {
        let mut g = chan.lock();
        if g.phase != Phase::Outside {
            return;
        }
        g.phase = Phase::Gone;
    }
    core.lock().channels.remove(&chan.id);
    chan.event(
        core,
        "ChannelDestroyed",
        &[
            ("cause", cause.to_string()),
            ("cause_txt", crate::json::quote(text)),
        ],
        &[],
    );
    chan.push(channel::Command::End { in_stasis: false });
    chan.changed();
}

/// `POST /channels`.
pub(crate) async fn originate(State(core): State<Arc<Core>>, params: Params) -> ApiResult {
    let id = params.get("channelId").map(str::to_string);
    start(&core, id, &params)
}

/// `POST /channels/{channelId}`.
pub(crate) async fn originate_with_id(
    State(core): State<Arc<Core>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult {
    let id = seg(id)?;
    start(&core, Some(id), &params)
}

fn start(core: &Arc<Core>, id: Option<String>, params: &Params) -> ApiResult {
    let endpoint = params
        .get("endpoint")
        .ok_or_else(|| ApiError::new(400, "Endpoint must be specified"))?
        .to_string();
    let valid_endpoint = endpoint
        .split_once('/')
        .is_some_and(|(tech, resource)| !tech.is_empty() && !resource.is_empty());
    if !valid_endpoint {
        return Err(ApiError::new(400, "Invalid endpoint specified"));
    }
    let app = match (params.get("app"), params.get("extension")) {
        (Some(app), _) => app.to_string(),
        (None, Some(_)) => {
            return Err(ApiError::new(
                501,
                "ari-sim: only originates into a Stasis app are simulated",
            ));
        }
        (None, None) => {
            return Err(ApiError::new(
                400,
                "Application or extension must be specified",
            ));
        }
    };
    let args: Vec<String> = params
        .get("appArgs")
        .map(|a| a.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let caller_id = params.get("callerId").unwrap_or("").to_string();
    let timeout = params
        .int("timeout")
        .filter(|t| *t > 0)
        .map_or(DEFAULT_TIMEOUT_SECS, |t| t as u64);
    let now = core.clock.now_ms();
    let (chan, rx) = {
        let mut st = core.lock();
        st.seq += 1;
        let seq = st.seq;
        let id = id.unwrap_or_else(|| format!("{}.{seq}", core.clock.epoch_secs()));
        if st.channels.contains_key(&id) {
            return Err(ApiError::new(
                409,
                "Channel with given unique ID already exists",
            ));
        }
        let snap = Snapshot {
            id: id.clone(),
            name: format!("{endpoint}-{seq:08x}"),
            state: "Down".to_string(),
            protocol_id: String::new(),
            caller: parse_caller_id(&caller_id),
            connected: Party {
                name: String::new(),
                number: String::new(),
            },
            accountcode: String::new(),
            dialplan: Dialplan {
                context: "default".to_string(),
                exten: "s".to_string(),
                priority: 1,
                app_name: String::new(),
                app_data: String::new(),
            },
            creationtime: core.clock.timestamp_at(now),
            language: "en".to_string(),
        };
        let inner = ChanInner {
            snap,
            phase: Phase::Outside,
            hangup: None,
            variables: HashMap::new(),
            heard: Vec::new(),
            end: None,
            audio: Timeline::new(now, CallerAudio::Silence),
            dtmf: Vec::new(),
        };
        let (chan, rx) = Channel::new(id.clone(), app, ChannelKind::Sip, inner);
        st.channels.insert(id, chan.clone());
        (chan, rx)
    };
    tokio::spawn(channel::run(core.clone(), chan.clone(), rx));
    let body = chan.snapshot_json();
    let ringing = Ringing {
        core: core.clone(),
        chan: chan.clone(),
        endpoint,
        args,
        caller_id,
    };
    core.lock().ringing.push(ringing);
    core.originate_tx.send_modify(|n| *n += 1);
    let (core2, chan2) = (core.clone(), chan);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(timeout)).await;
        end_unanswered(&core2, &chan2, 19, "No answer");
    });
    Ok(json(200, body))
}

/// `"Name" <1234>`, `Name <1234>` or `1234`.
fn parse_caller_id(raw: &str) -> Party {
    match raw.rsplit_once('<') {
        Some((name, rest)) => Party {
            name: name.trim().trim_matches('"').to_string(),
            number: rest.trim_end().trim_end_matches('>').to_string(),
        },
        None => Party {
            name: String::new(),
            number: raw.trim().to_string(),
        },
    }
}

/// Waits for the next originated call (in the order they were made).
pub(crate) async fn next_ringing(core: &Arc<Core>, timeout: Duration) -> Option<Ringing> {
    let deadline = Instant::now() + timeout;
    let mut rx = core.originate_tx.subscribe();
    loop {
        {
            let mut st = core.lock();
            if !st.ringing.is_empty() {
                return Some(st.ringing.remove(0));
            }
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids() {
        let p = parse_caller_id("\"Voice portal\" <8500>");
        assert_eq!(
            (p.name.as_str(), p.number.as_str()),
            ("Voice portal", "8500")
        );
        let p = parse_caller_id("8500");
        assert_eq!((p.name.as_str(), p.number.as_str()), ("", "8500"));
    }
}
