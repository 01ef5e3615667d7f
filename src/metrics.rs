//! Process-wide counters for `/metrics`, in the Prometheus text format.
//!
//! One static registry, as Prometheus client libraries keep one by default: the
//! layers that count (ari, store, access, flows, web) then need no handle passed
//! through every constructor, and the counters are plain atomics, so counting
//! costs a few nanoseconds and never blocks a call. Every label has a fixed set of
//! values (enums below), so the output cannot grow with input.
//!
//! Values that belong to one running service rather than to the process (is the
//! ARI websocket up?) are given to [`render`] by the caller.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Declares a label enum with its Prometheus value and the list of every value.
macro_rules! label {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $value:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn value(self) -> &'static str {
                match self { $($name::$variant => $value),+ }
            }

            const fn index(self) -> usize {
                self as usize
            }
        }
    };
}

label!(
    /// How a call entered the service (the first Stasis argument).
    EntryLabel {
        Portal => "portal",
        Deposit => "deposit",
        Login => "login",
        Attendant => "attendant",
        Receptionist => "receptionist",
        SigninCode => "signin-code",
        Invalid => "invalid",
    }
);

label!(
    /// The outcome of one PIN attempt at a mailbox.
    LoginOutcome {
        Granted => "granted",
        Denied => "denied",
        Locked => "locked",
    }
);

label!(
    /// What a lockout locked.
    LockoutSubject {
        Mailbox => "mailbox",
        PortalPasscode => "portal_passcode",
        Administrator => "administrator",
    }
);

label!(
    /// Which web portal a sign-in was for.
    WebPortal {
        Admin => "admin",
        Owner => "owner",
    }
);

label!(
    /// The outcome of one web sign-in attempt.
    SigninOutcome {
        Success => "success",
        Failure => "failure",
        Locked => "locked",
        Throttled => "throttled",
    }
);

/// Upper bounds (seconds) of the ARI request latency buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

struct Histogram {
    /// Observations per bucket (not cumulative); the last one is +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    const fn new() -> Histogram {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; LATENCY_BUCKETS.len() + 1],
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct Metrics {
    calls_total: [AtomicU64; EntryLabel::ALL.len()],
    calls_active: [AtomicI64; EntryLabel::ALL.len()],
    logins: [AtomicU64; LoginOutcome::ALL.len()],
    lockouts: [AtomicU64; LockoutSubject::ALL.len()],
    messages_left: AtomicU64,
    web_signins: [[AtomicU64; SigninOutcome::ALL.len()]; WebPortal::ALL.len()],
    ari_latency: Histogram,
    websocket_reconnects: AtomicU64,
    redis_errors: AtomicU64,
}

/// The registry.
pub static METRICS: Metrics = Metrics {
    calls_total: [const { AtomicU64::new(0) }; EntryLabel::ALL.len()],
    calls_active: [const { AtomicI64::new(0) }; EntryLabel::ALL.len()],
    logins: [const { AtomicU64::new(0) }; LoginOutcome::ALL.len()],
    lockouts: [const { AtomicU64::new(0) }; LockoutSubject::ALL.len()],
    messages_left: AtomicU64::new(0),
    web_signins: [const { [const { AtomicU64::new(0) }; SigninOutcome::ALL.len()] };
        WebPortal::ALL.len()],
    ari_latency: Histogram::new(),
    websocket_reconnects: AtomicU64::new(0),
    redis_errors: AtomicU64::new(0),
};

/// Counts a call as active until dropped.
pub struct ActiveCall(EntryLabel);

impl Drop for ActiveCall {
    fn drop(&mut self) {
        METRICS.calls_active[self.0.index()].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// A call started: counted in the total, and active while the guard lives.
    pub fn call_started(&self, entry: EntryLabel) -> ActiveCall {
        self.calls_total[entry.index()].fetch_add(1, Ordering::Relaxed);
        self.calls_active[entry.index()].fetch_add(1, Ordering::Relaxed);
        ActiveCall(entry)
    }

    pub fn login(&self, outcome: LoginOutcome) {
        self.logins[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn lockout(&self, subject: LockoutSubject) {
        self.lockouts[subject.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn message_left(&self) {
        self.messages_left.fetch_add(1, Ordering::Relaxed);
    }

    pub fn web_signin(&self, portal: WebPortal, outcome: SigninOutcome) {
        self.web_signins[portal.index()][outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn ari_request(&self, elapsed: Duration) {
        self.ari_latency.observe(elapsed);
    }

    pub fn websocket_reconnect(&self) {
        self.websocket_reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn redis_error(&self) {
        self.redis_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Everything in the Prometheus text format (version 0.0.4), followed by the
/// gauges of one service instance given as `(name, help, value)`.
pub fn render(gauges: &[(&str, &str, f64)]) -> String {
    let m = &METRICS;
    let mut out = String::new();
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    header(
        &mut out,
        "voiceportal_calls_total",
        "counter",
        "Calls started, by entry point.",
    );
    for entry in EntryLabel::ALL {
        let value = load(&m.calls_total[entry.index()]);
        line(
            &mut out,
            "voiceportal_calls_total",
            &[("entry", entry.value())],
            value as f64,
        );
    }
    header(
        &mut out,
        "voiceportal_calls_active",
        "gauge",
        "Calls in progress, by entry point.",
    );
    for entry in EntryLabel::ALL {
        let value = m.calls_active[entry.index()].load(Ordering::Relaxed);
        line(
            &mut out,
            "voiceportal_calls_active",
            &[("entry", entry.value())],
            value as f64,
        );
    }
    header(
        &mut out,
        "voiceportal_logins_total",
        "counter",
        "PIN attempts at a mailbox, by outcome.",
    );
    for outcome in LoginOutcome::ALL {
        let value = load(&m.logins[outcome.index()]);
        line(
            &mut out,
            "voiceportal_logins_total",
            &[("outcome", outcome.value())],
            value as f64,
        );
    }
    header(
        &mut out,
        "voiceportal_lockouts_total",
        "counter",
        "Locks caused by failed attempts, by what was locked.",
    );
    for subject in LockoutSubject::ALL {
        let value = load(&m.lockouts[subject.index()]);
        line(
            &mut out,
            "voiceportal_lockouts_total",
            &[("subject", subject.value())],
            value as f64,
        );
    }
    header(
        &mut out,
        "voiceportal_messages_left_total",
        "counter",
        "Voicemail messages saved.",
    );
    line(
        &mut out,
        "voiceportal_messages_left_total",
        &[],
        load(&m.messages_left) as f64,
    );
    header(
        &mut out,
        "voiceportal_web_signins_total",
        "counter",
        "Web sign-in attempts, by portal and outcome.",
    );
    for portal in WebPortal::ALL {
        for outcome in SigninOutcome::ALL {
            let value = load(&m.web_signins[portal.index()][outcome.index()]);
            let labels = [("portal", portal.value()), ("outcome", outcome.value())];
            line(
                &mut out,
                "voiceportal_web_signins_total",
                &labels,
                value as f64,
            );
        }
    }
    let name = "voiceportal_ari_request_duration_seconds";
    header(&mut out, name, "histogram", "Latency of ARI REST requests.");
    let mut cumulative = 0;
    for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
        cumulative += load(&m.ari_latency.buckets[i]);
        let le = bound.to_string();
        line(
            &mut out,
            &format!("{name}_bucket"),
            &[("le", &le)],
            cumulative as f64,
        );
    }
    cumulative += load(&m.ari_latency.buckets[LATENCY_BUCKETS.len()]);
    line(
        &mut out,
        &format!("{name}_bucket"),
        &[("le", "+Inf")],
        cumulative as f64,
    );
    let sum = load(&m.ari_latency.sum_micros) as f64 / 1e6;
    line(&mut out, &format!("{name}_sum"), &[], sum);
    line(
        &mut out,
        &format!("{name}_count"),
        &[],
        load(&m.ari_latency.count) as f64,
    );
    header(
        &mut out,
        "voiceportal_ari_websocket_reconnects_total",
        "counter",
        "Reconnections of the ARI events websocket.",
    );
    line(
        &mut out,
        "voiceportal_ari_websocket_reconnects_total",
        &[],
        load(&m.websocket_reconnects) as f64,
    );
    header(
        &mut out,
        "voiceportal_redis_errors_total",
        "counter",
        "Redis commands that failed.",
    );
    line(
        &mut out,
        "voiceportal_redis_errors_total",
        &[],
        load(&m.redis_errors) as f64,
    );
    for (name, help, value) in gauges {
        header(&mut out, name, "gauge", help);
        line(&mut out, name, &[], *value);
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn line(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let labels = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", labels.join(","))
    };
    let _ = writeln!(out, "{name}{labels} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_in_text_format() {
        let _call = METRICS.call_started(EntryLabel::Deposit);
        METRICS.ari_request(Duration::from_millis(3));
        let text = render(&[("voiceportal_ari_websocket_connected", "Up or not.", 1.0)]);
        for family in [
            "voiceportal_calls_total",
            "voiceportal_calls_active",
            "voiceportal_logins_total",
            "voiceportal_lockouts_total",
            "voiceportal_messages_left_total",
            "voiceportal_web_signins_total",
            "voiceportal_ari_request_duration_seconds",
            "voiceportal_ari_websocket_reconnects_total",
            "voiceportal_redis_errors_total",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{family}\n{text}"
            );
        }
        assert!(
            text.contains("voiceportal_calls_active{entry=\"deposit\"} "),
            "{text}"
        );
        assert!(text.contains("voiceportal_ari_request_duration_seconds_bucket{le=\"+Inf\"} "));
        assert!(
            text.contains("voiceportal_ari_websocket_connected 1\n"),
            "{text}"
        );
        assert!(
            text.lines()
                .all(|l| l.starts_with('#') || l.split(' ').count() == 2)
        );
    }
}
