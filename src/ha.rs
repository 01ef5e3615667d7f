//! High availability: two `serve` instances for one Asterisk, one of them
//! active (it owns the Stasis application), the other standing by.
//!
//! Asterisk gives an application to the newest websocket that asks for it, so
//! two instances that both connect would take it from each other forever. A
//! lease in Redis (`store::lease`) decides instead: only its holder opens the
//! websocket. The standby has everything else ready (Redis, ARI client, web
//! server) and tries to take the lease four times per `ha.renew_interval`;
//! the active renews it every `ha.renew_interval`. An active that cannot renew (Redis lost, or too slow)
//! gives the application up *before* the lease can lapse in Redis, so the two
//! never hold it at once; one that is killed simply stops renewing, and the
//! standby takes over at most `ha.lease_ttl + ha.renew_interval / 4` later
//! (plus the time to connect). What
//! the new owner then finds (callers left mid-call, a message being recorded)
//! is put right by `takeover`.

pub mod takeover;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::store::Store;

/// What this instance does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `[ha]` is off: the only instance, always serving.
    Single,
    /// Waiting for the lease: not connected to the application.
    Standby,
    /// Holds the lease and owns the application.
    Active,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Single => "single",
            Role::Standby => "standby",
            Role::Active => "active",
        }
    }

    /// Whether this instance receives the calls of the application.
    pub fn serves_calls(self) -> bool {
        self != Role::Standby
    }
}

/// The current role, shared with the web server and the sign-in courier.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct RoleCell(Arc<AtomicU8>);

impl RoleCell {
    pub fn new(role: Role) -> RoleCell {
        RoleCell(Arc::new(AtomicU8::new(role as u8)))
    }

    pub fn get(&self) -> Role {
        match self.0.load(Ordering::Relaxed) {
            x if x == Role::Standby as u8 => Role::Standby,
            x if x == Role::Active as u8 => Role::Active,
            _ => Role::Single,
        }
    }

    pub fn set(&self, role: Role) {
        self.0.store(role as u8, Ordering::Relaxed);
    }
}

/// `ha.instance_id`, or `<hostname>-<pid>` when it is empty.
pub fn instance_id(config: &Config) -> String {
    if !config.ha.instance_id.is_empty() {
        return config.ha.instance_id.clone();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        .collect();
    let host = if host.is_empty() {
        "voiceportal"
    } else {
        &host
    };
    format!("{host}-{}", std::process::id())
}

/// Why the active instance gave the application up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseLost {
    /// Renewals failed (Redis unreachable or too slow) until the lease was
    /// about to lapse.
    Expiring,
    /// Redis says another instance holds it.
    Taken,
}

/// Takes, keeps and gives back this instance's lease.
#[derive(Clone)]
pub struct LeaseKeeper {
    store: Store,
    app: String,
    holder: String,
    ttl: Duration,
    renew: Duration,
}

impl LeaseKeeper {
    /// `instance` names this instance in the lease; a random suffix makes
    /// the value its own even if two instances were given the same name
    /// (each then only ever renews what it took itself).
    pub fn new(config: &Config, store: Store, instance: &str) -> LeaseKeeper {
        let nonce: u32 = rand::random();
        LeaseKeeper {
            store,
            app: config.ari.app.clone(),
            holder: format!("{instance}#{nonce:08x}"),
            ttl: config.ha.lease_ttl,
            renew: config.ha.renew_interval,
        }
    }

    /// The lease's value while this instance holds it: `<instance>#<random>`.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// How long before the lease can lapse in Redis the active gives the
    /// application up: time to close its websocket before a standby may take
    /// the lease. Validation keeps `ttl >= 2 * renew`, so renewals come first.
    fn margin(&self) -> Duration {
        self.renew / 2
    }

    /// Waits until this instance holds the lease. Returns the instant until
    /// which it is surely ours: measured from *before* the request was sent,
    /// so it ends no later than the key's expiry in Redis.
    pub async fn acquire(&self) -> Instant {
        let mut failing = false;
        let mut told_held = false;
        loop {
            let sent = Instant::now();
            let attempt = tokio::time::timeout(
                self.renew,
                self.store.acquire_lease(&self.app, &self.holder, self.ttl),
            )
            .await;
            match attempt {
                Ok(Ok(true)) => {
                    info!(instance = %self.holder, "took the lease: this instance is now active");
                    return sent + self.ttl;
                }
                Ok(Ok(false)) => {
                    if !told_held {
                        debug!("the lease is held by another instance; standing by");
                    }
                    told_held = true;
                    failing = false;
                }
                Ok(Err(e)) => {
                    if !failing {
                        warn!(error = %e, "standby cannot ask Redis for the lease; retrying");
                    }
                    failing = true;
                }
                Err(_) => {
                    if !failing {
                        warn!("standby: Redis did not answer about the lease in time; retrying");
                    }
                    failing = true;
                }
            }
            tokio::time::sleep_until(sent + self.standby_poll()).await;
        }
    }

    /// How often the standby asks for the lease: a few times per renewal
    /// interval, so that it takes over soon after the lease lapses (one `SET`
    /// that fails is cheap).
    fn standby_poll(&self) -> Duration {
        (self.renew / 4).max(Duration::from_millis(50))
    }

    /// Renews the lease every `renew_interval` for as long as this instance
    /// can be sure to hold it; returns (at least `margin` before it could
    /// lapse in Redis) once it cannot.
    pub async fn hold(&self, mut valid_until: Instant) -> LeaseLost {
        loop {
            let give_up_at = valid_until
                .checked_sub(self.margin())
                .unwrap_or(valid_until);
            let next = (Instant::now() + self.renew).min(give_up_at);
            tokio::time::sleep_until(next).await;
            if Instant::now() >= give_up_at {
                warn!("cannot renew the lease in time: giving the application up");
                return LeaseLost::Expiring;
            }
            let sent = Instant::now();
            let renewal = tokio::time::timeout_at(
                give_up_at,
                self.store.renew_lease(&self.app, &self.holder, self.ttl),
            )
            .await;
            match renewal {
                Ok(Ok(true)) => valid_until = sent + self.ttl,
                Ok(Ok(false)) => {
                    warn!("the lease is no longer ours: giving the application up");
                    return LeaseLost::Taken;
                }
                Ok(Err(e)) => warn!(error = %e, "cannot renew the lease; retrying"),
                Err(_) => {
                    warn!("Redis did not renew the lease in time: giving the application up");
                    return LeaseLost::Expiring;
                }
            }
        }
    }

    /// Gives the lease back (an orderly stop), so a standby takes over at its
    /// next try instead of waiting for the lease to lapse.
    pub async fn release(&self) {
        let release = self.store.release_lease(&self.app, &self.holder);
        match tokio::time::timeout(self.renew, release).await {
            Ok(Ok(true)) => info!("lease released for the standby"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => warn!(error = %e, "cannot release the lease; it lapses by itself"),
            Err(_) => warn!("Redis did not answer the lease release; it lapses by itself"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_the_cell() {
        let cell = RoleCell::new(Role::Single);
        for role in [Role::Standby, Role::Active, Role::Single] {
            cell.set(role);
            assert_eq!(cell.get(), role);
        }
        assert!(!Role::Standby.serves_calls());
        assert!(Role::Active.serves_calls());
    }

    #[test]
    fn the_default_instance_id_names_the_host_and_process() {
        let config = Config::default();
        let id = instance_id(&config);
        assert!(id.ends_with(&format!("-{}", std::process::id())), "{id}");
        let mut named = Config::default();
        named.ha.instance_id = "vp-a".into();
        assert_eq!(instance_id(&named), "vp-a");
    }
}
