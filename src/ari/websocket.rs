//! The ARI events websocket, kept connected for the life of the service.
//!
//! The reader never waits on anyone: every frame goes into an unbounded channel at
//! once, because Asterisk closes the socket (and deactivates the app) as soon as one
//! write to us takes longer than 100 ms. Connection attempts back off exponentially
//! with jitter. Nothing is replayed after a reconnect, so the receiver is told about
//! each connection and reconciles the calls it owns.

use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::{AUTHORIZATION, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::{debug, info, warn};

use super::events::{Event, EventError};
use crate::config::AriConfig;

/// What the websocket task reports, in order.
#[derive(Debug)]
pub enum StreamItem {
    /// A socket is open and the app is registered. `reconnect` is false only for the
    /// very first connection of this process.
    Connected {
        reconnect: bool,
    },
    /// The socket closed or died; events are being lost until the next `Connected`.
    Disconnected {
        reason: String,
    },
    Event(Box<Event>),
}

/// Runs until `items` has no receiver left.
pub async fn run(config: AriConfig, items: mpsc::UnboundedSender<StreamItem>) {
    let url = events_url(&config);
    let mut failures: u32 = 0;
    let mut connected_before = false;
    loop {
        match connect(&url, &config).await {
            Ok(socket) => {
                info!(url = %url, "ARI events websocket connected");
                failures = 0;
                if items
                    .send(StreamItem::Connected {
                        reconnect: connected_before,
                    })
                    .is_err()
                {
                    return;
                }
                connected_before = true;
                let reason = read(socket, config.ping_interval, &items).await;
                warn!(reason = %reason, "ARI events websocket lost; reconnecting");
                if items.send(StreamItem::Disconnected { reason }).is_err() {
                    return;
                }
            }
            Err(reason) => {
                warn!(url = %url, reason = %reason, "cannot connect the ARI events websocket");
                failures = failures.saturating_add(1);
            }
        }
        if items.is_closed() {
            return;
        }
        tokio::time::sleep(backoff(&config, failures)).await;
    }
}

/// `ws://host:port/ari/events?app=NAME`; credentials travel in a header, never in
/// the URL, so the URL is safe to log.
fn events_url(config: &AriConfig) -> String {
    let base = config.url.trim_end_matches('/');
    let ws_base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    };
    format!("{ws_base}/ari/events?app={}", config.app)
}

/// tungstenite zero-fills its whole read buffer before every read (also the
/// reads that find nothing yet), 128 KiB by default: that was 40% of the
/// service's instructions per call. An ARI event is 1 to 3 KiB; a larger one
/// simply takes more than one read.
const READ_BUFFER_BYTES: usize = 4 * 1024;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, config: &AriConfig) -> Result<Socket, String> {
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("bad websocket URL: {e}"))?;
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        config.username,
        config.password.expose()
    ));
    let header = HeaderValue::from_str(&format!("Basic {credentials}"))
        .map_err(|_| "the ARI credentials contain characters a header cannot carry".to_owned())?;
    request.headers_mut().insert(AUTHORIZATION, header);
    // Nagle off: our pings and close frames go out at once.
    let ws_config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(ws_config), true);
    match tokio::time::timeout(config.request_timeout, connecting).await {
        Err(_) => Err("timed out".into()),
        Ok(Err(WsError::Http(response))) if response.status().as_u16() == 401 => Err(format!(
            "Asterisk refused the credentials of ARI user `{}` (401)",
            config.username
        )),
        Ok(Err(WsError::Http(response))) => {
            Err(format!("Asterisk answered HTTP {}", response.status()))
        }
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok((socket, _))) => Ok(socket),
    }
}

/// Reads until the socket ends; returns why. Pings so a dead peer is noticed.
async fn read(
    socket: Socket,
    ping_interval: Duration,
    items: &mpsc::UnboundedSender<StreamItem>,
) -> String {
    let (mut sink, mut stream) = socket.split();
    let mut ticker = tokio::time::interval_at(Instant::now() + ping_interval, ping_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            frame = stream.next() => {
                last_heard = Instant::now();
                match frame {
                    None => return "closed".into(),
                    Some(Err(e)) => return e.to_string(),
                    Some(Ok(Message::Text(text))) => match Event::parse(&text) {
                        Ok(event) => {
                            if let Event::Unknown { kind } = &event {
                                debug!(kind = %kind, "ignoring an ARI event type we do not use");
                            }
                            if items.send(StreamItem::Event(Box::new(event))).is_err() {
                                return "service stopping".into();
                            }
                        }
                        // A StasisStart carries no secret and a caller waits
                        // behind it: log it whole. Others may carry a DTMF
                        // digit (part of a PIN): only the error.
                        Err(e @ EventError::Malformed { .. }) if e.is_stasis_start() => {
                            warn!(error = %e, raw = %super::events::clip(&text),
                                "cannot serve a StasisStart without a channel id");
                        }
                        Err(e) => warn!(error = %e, "skipping a malformed ARI event"),
                    },
                    Some(Ok(Message::Close(frame))) => {
                        return match frame {
                            Some(f) => format!("closed by Asterisk ({}: {})", f.code, f.reason),
                            None => "closed by Asterisk".into(),
                        };
                    }
                    Some(Ok(_)) => {}
                }
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() > ping_interval * 2 {
                    return "no answer to pings".into();
                }
                if let Err(e) = sink.send(Message::Ping(Vec::new().into())).await {
                    return e.to_string();
                }
            }
        }
    }
}

/// Exponential backoff from `reconnect_min` to `reconnect_max`, with "equal jitter"
/// (half fixed, half random) so many instances do not reconnect in step.
fn backoff(config: &AriConfig, failures: u32) -> Duration {
    let exp = config
        .reconnect_min
        .saturating_mul(2u32.saturating_pow(failures.min(16)));
    let capped = exp.min(config.reconnect_max);
    let half = capped / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_capped() {
        let config = AriConfig {
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
            ..AriConfig::default()
        };
        for failures in 0..40 {
            let d = backoff(&config, failures);
            assert!(d <= Duration::from_secs(2), "{d:?}");
        }
        assert!(backoff(&config, 0) <= Duration::from_millis(100));
        assert!(backoff(&config, 10) >= Duration::from_secs(1));
    }

    #[test]
    fn events_url_has_no_credentials() {
        let mut config = AriConfig::default();
        config.password = crate::config::Secret::new("s3cret");
        let url = events_url(&config);
        assert_eq!(url, "ws://127.0.0.1:8088/ari/events?app=voiceportal");
    }
}
