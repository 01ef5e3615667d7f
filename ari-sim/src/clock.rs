//! Virtual audio time.
//!
//! Every audio duration in the simulator (sound lengths, beeps, silence
//! detection, DTMF spacing, the no-RTP timeout) is expressed in *virtual*
//! milliseconds. Virtual time runs `speed` times faster than real time, so a
//! test suite can play a 30 s prompt in a fraction of a second while the app
//! under test still sees the same ordering of events a real Asterisk produces.
//! Values that Asterisk reports (recording `duration`, event timestamps) are
//! computed from virtual time, as a real Asterisk would report them.

use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::time::Instant;

/// Converts between real and virtual time for one simulator instance.
#[derive(Debug)]
pub(crate) struct Clock {
    start: Instant,
    wall_start: DateTime<Utc>,
    speed: f64,
}

impl Clock {
    /// Starts virtual time at zero now. A speed that is not a positive finite
    /// number falls back to real time, so a bad config cannot stall the clock.
    pub(crate) fn new(speed: f64) -> Clock {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Clock {
            start: Instant::now(),
            wall_start: Utc::now(),
            speed,
        }
    }

    /// Virtual milliseconds elapsed since the simulator started.
    pub(crate) fn now_ms(&self) -> u64 {
        let real = self.start.elapsed().as_secs_f64();
        (real * self.speed * 1000.0) as u64
    }

    /// The real instant at which virtual time reaches `ms`.
    pub(crate) fn instant_at(&self, ms: u64) -> Instant {
        // Absurd virtual times (e.g. a huge maxDurationSeconds) must not
        // overflow: they map to a far future instead.
        let far = Duration::from_secs(100 * 365 * 24 * 3600);
        let real = Duration::try_from_secs_f64(ms as f64 / 1000.0 / self.speed).unwrap_or(far);
        self.start
            .checked_add(real.min(far))
            .unwrap_or_else(|| self.start + Duration::from_secs(3600))
    }

    /// Sleeps until virtual time reaches `ms` (returns at once if it already has).
    pub(crate) async fn sleep_until_ms(&self, ms: u64) {
        tokio::time::sleep_until(self.instant_at(ms)).await;
    }

    /// Real duration that `ms` virtual milliseconds take.
    pub(crate) fn real_duration(&self, ms: u64) -> Duration {
        Duration::try_from_secs_f64(ms as f64 / 1000.0 / self.speed).unwrap_or(Duration::MAX)
    }

    /// Asterisk-style timestamp for the current virtual time, e.g.
    /// `2026-11-23T18:50:21.774+0000` (no colon in the offset, as Asterisk
    /// writes it; strict RFC 3339 parsers reject it, which the app must handle).
    pub(crate) fn timestamp(&self) -> String {
        self.timestamp_at(self.now_ms())
    }

    /// Asterisk-style timestamp for a given virtual time.
    pub(crate) fn timestamp_at(&self, ms: u64) -> String {
        let offset = chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 2));
        let at = self
            .wall_start
            .checked_add_signed(offset)
            .unwrap_or(self.wall_start);
        at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
    }

    /// Whole seconds of the wall clock at start; used to build SIP-like
    /// channel ids such as `1795459821.53`.
    pub(crate) fn epoch_secs(&self) -> i64 {
        self.wall_start.timestamp()
    }
}

/// Converts seconds (as configured by a test) into virtual milliseconds,
/// treating negative or non-finite values as zero.
pub(crate) fn secs_to_ms(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        (secs * 1000.0).round() as u64
    } else {
        0
    }
}
