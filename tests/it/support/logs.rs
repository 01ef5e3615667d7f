//! Captures everything the service logs (target `voiceportal`, every level) in
//! memory, so a test can prove a secret never reaches the logs.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber for the whole test process (once).
pub fn start_capture() {
    BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buffer.clone());
        let installed = tracing_subscriber::fmt()
            .with_env_filter("voiceportal=trace")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        assert!(installed.is_ok(), "another subscriber was installed first");
        buffer
    });
}

/// Everything captured so far.
pub fn captured() -> String {
    BUFFER
        .get()
        .and_then(|b| {
            b.lock()
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        })
        .unwrap_or_default()
}
