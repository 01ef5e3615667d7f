//! Simulator configuration.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

/// How the simulated Asterisk is set up. `SimConfig::default()` matches the
/// lab the traces were recorded in (sound lengths measured from the traces).
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Stasis application name the dialled calls enter.
    pub app: String,
    /// ARI user name.
    pub username: String,
    /// ARI password.
    pub password: String,
    /// Virtual-time factor: audio runs this many times faster than real time.
    pub speed: f64,
    /// Length in (virtual) seconds of a sound not listed in `sound_lengths`.
    pub default_sound_secs: f64,
    /// Length in (virtual) seconds of named sounds (`sound:NAME`).
    pub sound_lengths: HashMap<String, f64>,
    /// Sounds that do not exist: playing one gives `PlaybackStarted` then
    /// `PlaybackFinished{state:"failed"}`.
    pub missing_sounds: HashSet<String>,
    /// Real-time limit for one websocket write before the socket is closed
    /// (Asterisk's `websocket_write_timeout`, 100 ms by default).
    pub ws_write_timeout: Duration,
    /// Keep stored recordings as files in this directory, as Asterisk's
    /// recordings directory does (`<dir>/<name>.<format>`), so that files
    /// another program writes there are stored recordings too; `None`: in
    /// memory only.
    pub recordings_dir: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        let lengths = [
            ("vm-login", 2.54),
            ("vm-password", 1.084),
            ("vm-goodbye", 0.87),
            ("beep", 0.43),
            ("vm-intro", 5.654),
            ("vm-instructions", 7.267),
            ("silence/1", 1.0),
            ("silence/10", 10.0),
        ];
        SimConfig {
            app: "voiceportal".to_string(),
            username: "voiceportal".to_string(),
            password: "secret".to_string(),
            speed: 20.0,
            default_sound_secs: 1.0,
            sound_lengths: lengths
                .iter()
                .map(|(name, secs)| ((*name).to_string(), *secs))
                .collect(),
            missing_sounds: HashSet::new(),
            ws_write_timeout: Duration::from_millis(100),
            recordings_dir: None,
        }
    }
}
