//! A loopback TCP proxy in front of the test Redis, to make Redis stall (bytes
//! held in both directions, as a frozen or failing-over server does) or go away
//! (connections cut, new ones refused) for one service under test, while the
//! test itself still talks to Redis directly.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Flowing,
    /// Nothing is forwarded until `resume`.
    Stalled,
    /// Every connection is cut and new ones are closed at once.
    Down,
}

pub struct RedisProxy {
    /// The URL to give the service: the proxy, with the test database.
    pub url: String,
    mode: Arc<watch::Sender<Mode>>,
    task: tokio::task::JoinHandle<()>,
}

impl RedisProxy {
    /// A proxy to `redis_url` (`redis://127.0.0.1:PORT/DB`).
    pub async fn start(redis_url: &str) -> RedisProxy {
        let parsed = url::Url::parse(redis_url).expect("a redis URL");
        let upstream = format!(
            "{}:{}",
            parsed.host_str().unwrap_or("127.0.0.1"),
            parsed.port().unwrap_or(6379)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("redis://127.0.0.1:{port}{}", parsed.path());
        let mode = Arc::new(watch::Sender::new(Mode::Flowing));
        let accept_mode = mode.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *accept_mode.borrow() == Mode::Down {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, accept_mode.subscribe()));
                tokio::spawn(pump(server_read, client_write, accept_mode.subscribe()));
            }
        });
        RedisProxy { url, mode, task }
    }

    /// Holds every byte from now on, in both directions, until `resume`.
    pub fn stall(&self) {
        self.mode.send_replace(Mode::Stalled);
    }

    /// Cuts every connection and refuses new ones until `resume`.
    pub fn take_down(&self) {
        self.mode.send_replace(Mode::Down);
    }

    /// Forwards again (held bytes go through, in order).
    pub fn resume(&self) {
        self.mode.send_replace(Mode::Flowing);
    }
}

impl Drop for RedisProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies one direction, chunk by chunk, waiting while stalled and ending the
/// connection when the proxy is taken down.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = mode.wait_for(|m| *m == Mode::Down) => return,
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        match mode.wait_for(|m| *m != Mode::Stalled).await {
            Ok(m) if *m == Mode::Flowing => {}
            _ => return,
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
