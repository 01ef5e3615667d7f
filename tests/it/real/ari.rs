//! A plain ARI client for the test's side of a real Asterisk: REST calls returning
//! raw JSON, and an events websocket whose events are all kept, so a test can wait
//! for one and still see, on failure, everything that happened.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

#[derive(Clone)]
pub struct Ari {
    base: String,
    user: String,
    password: String,
    http: reqwest::Client,
}

impl Ari {
    /// `http://host:port` of Asterisk's HTTP server and an ari.conf user.
    pub fn new(http: &str, user: &str, password: &str) -> Ari {
        Ari {
            base: format!("{http}/ari"),
            user: user.into(),
            password: password.into(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str) -> Result<Value, String> {
        let response = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{method} {path}: {status} {body}"));
        }
        Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Result<Value, String> {
        self.send(reqwest::Method::GET, path).await
    }

    pub async fn post(&self, path: &str) -> Result<Value, String> {
        self.send(reqwest::Method::POST, path).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, String> {
        self.send(reqwest::Method::DELETE, path).await
    }

    /// The bytes of a stored recording.
    pub async fn recording_file(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = format!("/recordings/stored/{}/file", name.replace('/', "%2F"));
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {path}: {}", response.status()));
        }
        Ok(response.bytes().await.map_err(|e| e.to_string())?.to_vec())
    }

    /// Connects an events websocket for `app` (every event of Asterisk with
    /// `subscribe_all`) and keeps reading it in the background.
    pub async fn events(&self, app: &str, subscribe_all: bool) -> EventLog {
        let url = format!(
            "{}/events?app={app}&subscribeAll={subscribe_all}&api_key={}:{}",
            self.base.replacen("http://", "ws://", 1),
            self.user,
            self.password
        );
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect the test's events websocket");
        let events = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let (log_events, log_arrived) = (events.clone(), arrived.clone());
        let reader = tokio::spawn(async move {
            let (_sink, mut stream) = socket.split();
            while let Some(Ok(frame)) = stream.next().await {
                if let Ok(text) = frame.into_text()
                    && let Ok(event) = serde_json::from_str::<Value>(&text)
                {
                    events.lock().expect("event log").push(event);
                    arrived.notify_waiters();
                }
            }
        });
        EventLog {
            events: log_events,
            arrived: log_arrived,
            reader: Some(reader),
        }
    }
}

/// Every event an events websocket delivered, in order.
pub struct EventLog {
    events: Arc<Mutex<Vec<Value>>>,
    arrived: Arc<Notify>,
    reader: Option<JoinHandle<()>>,
}

impl EventLog {
    pub fn len(&self) -> usize {
        self.events.lock().expect("event log").len()
    }

    pub fn all(&self) -> Vec<Value> {
        self.events.lock().expect("event log").clone()
    }

    /// The first event at index `from` or later that satisfies `wanted`, with its
    /// index; None when none came within `timeout`.
    pub async fn wait_for(
        &self,
        from: usize,
        timeout: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Option<(usize, Value)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.arrived.notified();
            {
                let events = self.events.lock().expect("event log");
                if let Some((index, event)) = events
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, event)| wanted(event))
                {
                    return Some((index, event.clone()));
                }
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return None;
            }
        }
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
    }
}

/// The event's `type`.
pub fn kind(event: &Value) -> &str {
    event["type"].as_str().unwrap_or_default()
}
