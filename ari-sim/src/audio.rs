//! What the caller sends towards Asterisk, on the virtual time line.
//!
//! A recording needs to know, for any stretch of virtual time, whether the
//! phone sent speech, silent RTP or no RTP at all. Changes are stored with the
//! virtual millisecond they take effect, so `speak(3.0)` yields exactly 3 s of
//! speech however late the simulator's tasks are scheduled.

/// What the caller's phone sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerAudio {
    /// Silent RTP (a normal phone whose user says nothing). The default.
    Silence,
    /// No RTP at all (an idle or broken phone); a recording then ends after
    /// about 4 s with an empty file.
    NoRtp,
    /// The caller talks.
    Talking,
}

/// Mode changes, sorted by time.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    changes: Vec<(u64, CallerAudio)>,
    /// Whether the caller ever talked; a SIP phone that has sent speech
    /// reports DTMF with duration 100 instead of 160 (seen in the traces).
    pub(crate) talked: bool,
}

impl Timeline {
    pub(crate) fn new(at: u64, mode: CallerAudio) -> Timeline {
        Timeline {
            changes: vec![(at, mode)],
            talked: mode == CallerAudio::Talking,
        }
    }

    /// From `at` on, the caller sends `mode`; forgets changes planned later.
    pub(crate) fn set(&mut self, at: u64, mode: CallerAudio) {
        self.changes.retain(|(t, _)| *t < at);
        self.changes.push((at, mode));
        if mode == CallerAudio::Talking {
            self.talked = true;
        }
    }

    /// The caller talks during `[at, at + len)` and sends silent RTP after.
    pub(crate) fn speak(&mut self, at: u64, len: u64) {
        self.set(at, CallerAudio::Talking);
        self.changes
            .push((at.saturating_add(len), CallerAudio::Silence));
    }

    /// Mode in force at `t`.
    pub(crate) fn mode_at(&self, t: u64) -> CallerAudio {
        self.changes
            .iter()
            .rev()
            .find(|(at, _)| *at <= t)
            .map(|(_, m)| *m)
            .unwrap_or(CallerAudio::Silence)
    }

    /// Splits `[from, to)` into stretches of constant mode.
    pub(crate) fn pieces(&self, from: u64, to: u64) -> Vec<(u64, u64, CallerAudio)> {
        let mut out = Vec::new();
        let mut start = from;
        while start < to {
            let mode = self.mode_at(start);
            let next = self
                .changes
                .iter()
                .map(|(t, _)| *t)
                .find(|t| *t > start)
                .unwrap_or(u64::MAX)
                .min(to);
            out.push((start, next, mode));
            start = next;
        }
        out
    }

    /// First planned change strictly after `t`, if any.
    pub(crate) fn next_change_after(&self, t: u64) -> Option<u64> {
        self.changes.iter().map(|(at, _)| *at).find(|at| *at > t)
    }
}
