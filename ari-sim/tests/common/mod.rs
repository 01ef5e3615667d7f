//! Helpers shared by the simulator's integration tests: an app-side events
//! socket that records what it receives, and HTTP shortcuts.
#![allow(dead_code)]

use ari_sim::Simulator;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Events received on any of a test's app sockets, in arrival order,
/// each tagged with the ordinal of the socket that got it.
#[derive(Clone)]
pub struct EventLog {
    pub events: Arc<Mutex<Vec<(usize, Value)>>>,
    count: Arc<watch::Sender<usize>>,
}

impl EventLog {
    pub fn new() -> EventLog {
        EventLog {
            events: Arc::new(Mutex::new(Vec::new())),
            count: Arc::new(watch::Sender::new(0)),
        }
    }

    fn push(&self, socket: usize, event: Value) {
        let mut events = self.events.lock().unwrap();
        events.push((socket, event));
        let n = events.len();
        self.count.send_replace(n);
    }

    pub fn all(&self) -> Vec<(usize, Value)> {
        self.events.lock().unwrap().clone()
    }

    pub fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// Waits until at least `n` events arrived (false on timeout).
    pub async fn wait_len(&self, n: usize, timeout: Duration) -> bool {
        let mut rx = self.count.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c >= n))
            .await
            .is_ok()
    }

    /// Waits for the first event of `kind` after index `from`; returns it.
    pub async fn wait_type(&self, kind: &str, from: usize, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.count.subscribe();
        loop {
            {
                let events = self.events.lock().unwrap();
                if let Some((_, e)) = events.iter().skip(from).find(|(_, e)| e["type"] == kind) {
                    return Some(e.clone());
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
}

/// An app-side events socket.
pub struct AppSocket {
    write: futures_util::stream::SplitSink<Ws, Message>,
    reader: tokio::task::JoinHandle<()>,
    tcp: Option<socket2::Socket>,
    pub closed: Arc<watch::Sender<bool>>,
    /// How the server ended the socket: "close frame", "error" or "eof".
    pub ended: Arc<Mutex<Option<&'static str>>>,
    /// Pongs received (answers to `ping`).
    pub pongs: Arc<Mutex<usize>>,
}

pub fn ws_url(sim: &Simulator, app: &str) -> String {
    let cfg = sim.config();
    format!(
        "{}/ari/events?app={}&api_key={}:{}",
        sim.base_url().replacen("http", "ws", 1),
        app,
        cfg.username,
        cfg.password
    )
}

impl AppSocket {
    /// Connects to `/ari/events?app=...` and records events into `log`.
    pub async fn connect(sim: &Simulator, app: &str, log: &EventLog, ordinal: usize) -> AppSocket {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url(sim, app))
            .await
            .expect("ws connect");
        AppSocket::from_ws(ws, log, ordinal)
    }

    pub fn from_ws(ws: Ws, log: &EventLog, ordinal: usize) -> AppSocket {
        let tcp = match ws.get_ref() {
            MaybeTlsStream::Plain(s) => socket2::SockRef::from(s).try_clone().ok(),
            _ => None,
        };
        let (write, mut read) = ws.split();
        let log = log.clone();
        let closed = Arc::new(watch::Sender::new(false));
        let ended = Arc::new(Mutex::new(None));
        let pongs = Arc::new(Mutex::new(0));
        let (closed2, ended2, pongs2) = (closed.clone(), ended.clone(), pongs.clone());
        let reader = tokio::spawn(async move {
            let mut how = "eof";
            while let Some(msg) = read.next().await {
                match msg {
                    Ok(Message::Text(text)) => {
                        let value: Value = serde_json::from_str(&text).expect("event is JSON");
                        log.push(ordinal, value);
                    }
                    Ok(Message::Close(_)) => {
                        how = "close frame";
                        break;
                    }
                    Err(_) => {
                        how = "error";
                        break;
                    }
                    Ok(Message::Pong(_)) => *pongs2.lock().unwrap() += 1,
                    Ok(_) => {}
                }
            }
            *ended2.lock().unwrap() = Some(how);
            closed2.send_replace(true);
        });
        AppSocket {
            write,
            reader,
            tcp,
            closed,
            ended,
            pongs,
        }
    }

    /// Closes with a close frame.
    pub async fn close(mut self) {
        let _ = self.write.send(Message::Close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.reader).await;
    }

    /// Resets the TCP connection (no close frame).
    pub async fn abort(self) {
        if let Some(tcp) = &self.tcp {
            let _ = tcp.set_linger(Some(Duration::ZERO));
        }
        self.reader.abort();
        let _ = self.reader.await;
        drop(self.write);
        drop(self.tcp);
    }

    /// Sends a ping; the reader sees the pong (not recorded).
    pub async fn ping(&mut self) {
        self.write
            .send(Message::Ping(vec![1, 2, 3].into()))
            .await
            .expect("ping");
    }

    /// Waits until the server closed the socket.
    pub async fn wait_closed(&self, timeout: Duration) -> bool {
        let mut rx = self.closed.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c))
            .await
            .is_ok()
    }
}

/// HTTP client with the simulator's credentials.
pub struct Http {
    pub base: String,
    client: reqwest::Client,
    user: String,
    pass: String,
}

/// A response: status, content type and body.
pub struct Resp {
    pub status: u16,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

impl Http {
    pub fn new(sim: &Simulator) -> Http {
        Http {
            base: sim.base_url(),
            client: reqwest::Client::new(),
            user: sim.config().username.clone(),
            pass: sim.config().password.clone(),
        }
    }

    pub async fn call(&self, method: &str, path: &str) -> Resp {
        self.call_body(method, path, None).await
    }

    pub async fn call_body(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .basic_auth(&self.user, Some(&self.pass));
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.expect("http request");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.expect("body").to_vec();
        Resp {
            status,
            content_type,
            bytes,
        }
    }
}
