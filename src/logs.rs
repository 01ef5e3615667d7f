//! The service's log output: the operator's filter (`log.filter` or `RUST_LOG`),
//! with the libraries that would log secrets held back whatever it says.
//!
//! At `debug` and `trace`, the websocket and HTTP libraries log whole frames and
//! headers: DTMF events (a PIN, digit by digit) and the ARI `Authorization`
//! header (the password, in base64); the SMTP client logs its conversation,
//! `AUTH` included. No filter may let those lines through, so those targets
//! never log below `info`, while everything else (our own `voiceportal`
//! target, which never logs a secret) follows the operator's filter.

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::config::{LogConfig, LogFormat};

/// Crates (log targets, and their sub-modules) that print raw protocol traffic
/// at `debug` or `trace`.
const HELD_BACK: &[&str] = &[
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "h2",
    "http",
    "reqwest",
    "rustls",
    "lettre",
    "redis",
    "mio",
    "want",
];

/// Whether a log line may be written: never a held-back target below `info`.
pub fn is_safe(metadata: &Metadata<'_>) -> bool {
    *metadata.level() <= Level::INFO || !is_held_back(metadata.target())
}

fn is_held_back(target: &str) -> bool {
    HELD_BACK.iter().any(|crate_name| {
        target == *crate_name
            || target
                .strip_prefix(crate_name)
                .is_some_and(|rest| rest.starts_with("::"))
    })
}

/// The operator's filter: `RUST_LOG` if set and valid, else `log.filter`.
fn operator_filter(config: &LogConfig) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.filter))
}

/// Installs the global subscriber (stdout, text or JSON). Call once, first.
pub fn init(config: &LogConfig) {
    // `is_safe` lets any level through for our own targets: it says so with its
    // hint, so the combined filter keeps the operator's most verbose level as its
    // hint. Without one, `log` and `tracing` would stay at `trace` globally and
    // every protocol library's trace line (several per websocket frame and HTTP
    // request) would reach this filter before being dropped.
    let safe = filter_fn(is_safe).with_max_level_hint(LevelFilter::TRACE);
    let filter = operator_filter(config).and(safe);
    let layer = match config.format {
        LogFormat::Json => fmt::layer().json().boxed(),
        LogFormat::Text => fmt::layer().boxed(),
    };
    // A second call (only possible in tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_crates_are_held_back_but_not_their_namesakes() {
        for target in [
            "tungstenite::protocol",
            "tokio_tungstenite",
            "hyper_util::client::legacy::pool",
            "reqwest::connect",
            "lettre::transport::smtp::client",
        ] {
            assert!(is_held_back(target), "{target}");
        }
        for target in [
            "voiceportal",
            "voiceportal::call::router",
            "hyperloop",
            "httpx",
        ] {
            assert!(!is_held_back(target), "{target}");
        }
    }
}
