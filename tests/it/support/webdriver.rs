//! A real browser for the page tests: Debian's `chromium`, headless, driven
//! over the W3C WebDriver protocol through `chromedriver`.
//!
//! One chromedriver per test process, on a free loopback port, killed with the
//! process (like the test Redis). Each [`Browser`] is one WebDriver session with
//! its own fresh profile directory, in the language it is given; dropping it
//! ends the session (even after a failed assertion), which closes its Chromium.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

struct Driver {
    port: u16,
}

static DRIVER: OnceLock<Driver> = OnceLock::new();
static NEXT_PROFILE: AtomicU32 = AtomicU32::new(1);

fn binary(candidates: &[&str], package: &str) -> String {
    candidates
        .iter()
        .find(|c| Path::new(c).exists())
        .map(|c| (*c).to_owned())
        .unwrap_or_else(|| {
            panic!("{package} is not installed: run `apt-get install chromium chromium-driver` (scripts/test does it)")
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts chromedriver from a thread that lives as long as the test process, so
/// the parent-death signal kills it (and so its browsers) when the tests end.
fn start_driver() -> Driver {
    let chromedriver = binary(
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        "chromium-driver",
    );
    for _ in 0..5 {
        let port = free_port();
        let (tx, rx) = std::sync::mpsc::channel();
        let chromedriver = chromedriver.clone();
        std::thread::spawn(move || {
            let mut command = Command::new(&chromedriver);
            command
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe; it only asks the kernel to signal
            // the child when this (never-ending) thread's process dies.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
            let child = command.spawn();
            let _ = tx.send(child.is_ok());
            if let Ok(mut child) = child {
                let _ = child.wait();
            }
        });
        if !rx.recv().unwrap_or(false) {
            continue;
        }
        if ready(port) {
            return Driver { port };
        }
    }
    panic!("could not start chromedriver on a loopback port");
}

fn ready(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some((200, body)) = raw_request(port, "GET", "/status", "")
            && body.contains("\"ready\":true")
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A blocking HTTP/1.1 request to chromedriver: used at start-up and from
/// `Drop`, where no async runtime can be relied on. Reads exactly the body the
/// `Content-Length` announces (chromedriver keeps connections open).
fn raw_request(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        received.extend_from_slice(&buffer[..n]);
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&received[..header_end]).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while received.len() < header_end + length {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buffer[..n]);
    }
    let body = String::from_utf8_lossy(&received[header_end..]).to_string();
    Some((status, body))
}

/// Where screenshots go: `VP_SCREENSHOTS`, or `screenshots/` in Cargo's
/// temporary directory for integration tests (`target/tmp`).
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("VP_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots"))
}

/// One headless Chromium, one WebDriver session.
pub struct Browser {
    http: reqwest::Client,
    port: u16,
    session: String,
    profile: PathBuf,
}

impl Browser {
    /// A fresh browser whose preferred language is `lang` (`en` or `fr`), with a
    /// window of `width` x `height` CSS pixels.
    pub async fn open(lang: &str, width: u32, height: u32) -> Browser {
        let port = DRIVER.get_or_init(start_driver).port;
        let profile = std::env::temp_dir().join(format!(
            "vp-test-chromium-{}-{}",
            std::process::id(),
            NEXT_PROFILE.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        let chromium = binary(
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
            "chromium",
        );
        let accept = if lang == "fr" { "fr-FR,fr" } else { "en-US,en" };
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    // A test plays a message from a script, with no click.
                    "--autoplay-policy=no-user-gesture-required",
                    format!("--lang={accept}"),
                    format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={width},{height}"),
                ],
                "prefs": {"intl.accept_languages": accept},
            },
        }}});
        let http = reqwest::Client::new();
        let response: Value = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("a JSON answer");
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {response}"))
            .to_owned();
        let browser = Browser {
            http,
            port,
            session,
            profile,
        };
        browser.resize(width, height).await;
        // Finding an element waits for it (up to 10 s) instead of failing at
        // once: after a form is submitted, a loaded machine may still be
        // building the next page when the test looks for it.
        browser
            .call(
                reqwest::Method::POST,
                "/timeouts",
                Some(json!({"implicit": 10_000})),
            )
            .await;
        browser
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
    }

    /// One WebDriver command; its error as text (status and answer).
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!(
            "http://127.0.0.1:{}/session/{}{path}",
            self.port, self.session
        );
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let value: Value = response.json().await.expect("a JSON answer");
        if status.is_success() {
            Ok(value["value"].clone())
        } else {
            Err(format!("{status} {value}"))
        }
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits (up to 10 s) until the page's address ends with `suffix`, as after
    /// a form is submitted: on a loaded machine the next page may not be there
    /// yet when the click returns. Returns whether it came.
    pub async fn wait_url(&self, suffix: &str) -> bool {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if self.url().await.ends_with(suffix) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The visible text of the page. A page still being replaced (a form just
    /// submitted, on a loaded machine) can make the body found a moment ago
    /// stale: it is then found again.
    pub async fn text(&self) -> String {
        for _ in 0..20 {
            let body = self.find("body").await;
            match self
                .try_call(reqwest::Method::GET, &format!("/element/{body}/text"), None)
                .await
            {
                Ok(text) => return text.as_str().unwrap_or_default().to_owned(),
                Err(e) if e.contains("stale element reference") => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("WebDriver: the page's text: {e}"),
            }
        }
        panic!("WebDriver: the page kept changing while its text was read")
    }

    /// The first element matching a CSS selector.
    pub async fn find(&self, css: &str) -> String {
        let value = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        // A W3C element reference is an object with one entry, the id.
        value
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {value}"))
            .to_owned()
    }

    pub async fn count(&self, css: &str) -> usize {
        let value = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        value.as_array().map_or(0, Vec::len)
    }

    /// Types into the element matching `css` (after clearing it).
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Clicks the element matching `css`; a click that submits a form returns
    /// once the next page has loaded.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Runs a script in the page and returns its result.
    pub async fn run(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Runs an asynchronous script: it ends by calling its last argument.
    pub async fn run_async(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Whether the page fits the window's width (no sideways scrolling).
    pub async fn fits_width(&self) -> bool {
        self.run("return document.documentElement.scrollWidth <= window.innerWidth")
            .await
            .as_bool()
            .unwrap_or(false)
    }

    /// Saves a screenshot of the whole page (the window is stretched to the
    /// page's height for it, then restored) as `<dir>/<name>.png`.
    pub async fn screenshot(&self, name: &str, width: u32, height: u32) -> PathBuf {
        let page_height = self
            .run("return Math.ceil(document.documentElement.scrollHeight)")
            .await
            .as_u64()
            .unwrap_or(u64::from(height));
        let full = u32::try_from(page_height)
            .unwrap_or(height)
            .clamp(height, 6000);
        self.resize(width, full).await;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        self.resize(width, height).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("a base64 PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("the screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).expect("write the screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = raw_request(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            "",
        );
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
